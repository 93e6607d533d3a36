"""lodge issue list|show|resolve|mute|reopen|archive against a (moto) deployed stack."""

from __future__ import annotations

import pytest

from lodge import auth
from lodge.ingest import ingest
from lodge.occurrence import ExceptionInfo, Occurrence
from lodge.storage import Store
from tests.unit.devtools.test_cli import run, run_json, stack  # noqa: F401  (the stack fixture)


def report(store: Store, project_id: str, n: int, version: str | None = None) -> None:
    occurrence = Occurrence(
        project_id=project_id,
        received_at=1_800_000_000.0 + n,
        protocol="rollbar",
        client_id=f"cli-{n}",
        kind="error",
        level="error",
        environment="production",
        code_version=version,
        exceptions=[ExceptionInfo(type="KeyError", message="'sku'")],
    )
    ingest(store, project_id, [occurrence], 1_800_000_000.0 + n)


def test_triage_loop(stack: str, store: Store, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    project_id, _ = auth.create_project(store, "shop")
    report(store, project_id, 0)
    listed = run_json(capsys, "--stack", stack, "issue", "list", "shop")
    assert listed["total"] == 1 and listed["issues"][0]["counter"] == 1
    issue_id = listed["issues"][0]["id"]

    resolved = run_json(capsys, "--stack", stack, "issue", "resolve", "shop", "1", "--in-version", "2.0.0")
    assert resolved["status"] == "resolved" and resolved["resolved_in_version"] == "2.0.0"
    assert resolved["history"][-1]["by"].startswith("cli:")
    report(store, project_id, 1, "1.9.0")
    assert run_json(capsys, "--stack", stack, "issue", "show", "shop", issue_id)["status"] == "resolved"
    report(store, project_id, 2, "2.0.0")
    shown = run_json(capsys, "--stack", stack, "issue", "show", "shop", "1")
    assert shown["status"] == "active" and shown["regressed"]

    assert run_json(capsys, "--stack", stack, "issue", "mute", "shop", "1", "--occurrences", "1")["status"] == "muted"
    report(store, project_id, 3)
    assert run_json(capsys, "--stack", stack, "issue", "list", "shop", "--status", "muted")["total"] == 1
    report(store, project_id, 4)
    assert run_json(capsys, "--stack", stack, "issue", "list", "shop", "--status", "active")["total"] == 1

    assert run_json(capsys, "--stack", stack, "issue", "archive", "shop", "1")["status"] == "archived"
    assert run_json(capsys, "--stack", stack, "issue", "reopen", "shop", "1")["status"] == "active"
    code, out, _ = run(capsys, "--stack", stack, "issue", "show", "shop", "1")
    assert code == 0 and "archived -> active" in out and "resolved -> active" in out
    code, out, _ = run(capsys, "--stack", stack, "issue", "list", "shop", "-q", "keyerror")
    assert code == 0 and "KeyError" in out


def test_unknown_issue_and_project(stack: str, store: Store, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    auth.create_project(store, "shop")
    code, _, err = run(capsys, "--stack", stack, "issue", "resolve", "shop", "7")
    assert code == 1 and "no issue '7'" in err
    code, _, err = run(capsys, "--stack", stack, "issue", "list", "nope")
    assert code == 1 and "no project 'nope'" in err
