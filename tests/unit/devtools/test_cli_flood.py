"""`lodge project limit`: shows and sets a project's per-issue flood limit in storage."""

from __future__ import annotations

import pytest

from lodge.storage import Store
from lodge.storage.floods import DEFAULT_ISSUE_LIMIT
from tests.unit.devtools.test_cli import run, run_json, stack  # noqa: F401 (fixture)


def test_flood_limit_round_trip(stack: str, store: Store, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    project_id = run_json(capsys, "--stack", stack, "project", "create", "A")["project_id"]
    shown = run_json(capsys, "--stack", stack, "project", "limit", project_id)
    assert shown["issue_limit_per_minute"] == DEFAULT_ISSUE_LIMIT
    assert run_json(capsys, "--stack", stack, "project", "limit", project_id, "50")["issue_limit_per_minute"] == 50
    assert store.flood_limit(project_id) == 50
    assert store.flood_view(project_id).limit == 50
    code, out, _ = run(capsys, "--stack", stack, "project", "limit", "A", "0")
    assert code == 0 and "no limit" in out
    assert store.flood_limit(project_id) == 0
    code, _, err = run(capsys, "--stack", stack, "project", "limit", "A", "-3")
    assert code == 2 and "0 (no limit)" in err
