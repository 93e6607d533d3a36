"""`lodge project scrub`: shows and sets a project's scrubbing policy in storage."""

from __future__ import annotations

import pytest

from lodge import scrub
from lodge.storage import Store
from tests.unit.devtools.test_cli import run, run_json, stack  # noqa: F401 (fixture)


def test_scrub_settings_round_trip(stack: str, store: Store, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    project_id = run_json(capsys, "--stack", stack, "project", "create", "A")["project_id"]
    shown = run_json(capsys, "--stack", stack, "project", "scrub", project_id)
    assert shown["scrubbing"] == {"enabled": True, "extra_keys": [], "safe_keys": []}
    run_json(
        capsys, "--stack", stack, "project", "scrub", project_id, "--extra-keys", "ssn, pin", "--safe-keys", "token"
    )
    policy = scrub.policy_from_config(store.scrub_config(project_id))
    assert policy.is_sensitive("ssn") and policy.is_sensitive("PIN") and policy.classify("token") is None
    off = run_json(capsys, "--stack", stack, "project", "scrub", project_id, "--off")
    assert off["scrubbing"] == {"enabled": False, "extra_keys": ["pin", "ssn"], "safe_keys": ["token"]}
    code, out, _ = run(capsys, "--stack", stack, "project", "scrub", "A", "--on")
    assert code == 0 and ": on" in out and "pin, ssn" in out
    assert store.scrub_config(project_id)["enabled"] is True
