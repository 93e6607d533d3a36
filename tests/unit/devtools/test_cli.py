"""The `lodge` admin CLI against moto: projects, credentials shown once, rotation and revocation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lodge import auth
from lodge.storage import Store
from lodge_devtools import cli

STACK_TEMPLATE = {
    "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
    "Outputs": {"TableName": {"Value": "lodge-test"}, "BucketName": {"Value": "lodge-test-payloads"}},
}


@pytest.fixture
def stack(store: Store) -> str:
    """A deployed-stack stand-in whose outputs name the moto table and bucket."""
    import boto3

    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName="lodge", TemplateBody=json.dumps(STACK_TEMPLATE)
    )
    return "lodge"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_project_create_prints_every_credential_once(
    stack: str, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--stack", stack, "project", "create", "My app")
    assert code == 0
    project_id = out.split(":", 1)[1].split()[0]
    assert store.get_project(project_id)["name"] == "My app"
    for kind in [*auth.KINDS, "crashlog_secret"]:
        assert kind in out
    token = out.split("rollbar_post_server_item", 1)[1].split()[0]
    info = auth.lookup(store, token)
    assert info is not None and info.project_id == project_id and info.allows(auth.POST_SERVER_ITEM)


def test_json_create_and_list(stack: str, store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    created = run_json(capsys, "--stack", stack, "project", "create", "A")
    assert set(created["credentials"]) == {*auth.KINDS, "crashlog_secret"}
    listed = run_json(capsys, "project", "list", "--stack", stack)  # options also after the subcommand
    assert [p["project_id"] for p in listed] == [created["project_id"]]
    assert listed[0]["name"] == "A"


def test_token_list_shows_hashes_never_tokens(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    created = run_json(capsys, "--stack", stack, "project", "create", "A")
    code, out, _ = run(capsys, "--stack", stack, "token", "list", "A")  # by name
    assert code == 0
    for kind, token in created["credentials"].items():
        assert token not in out
        if kind != "crashlog_secret":
            assert f"sha256:{auth.hash_token(token)}" in out
    rows = run_json(capsys, "--stack", stack, "token", "list", created["project_id"])
    assert {r["kind"] for r in rows} == set(auth.KINDS)
    assert all("token" not in r for r in rows)


def test_rotate_issues_new_and_revokes_old(stack: str, store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    created = run_json(capsys, "--stack", stack, "project", "create", "A")
    old = created["credentials"]["crashlog"]
    rotated = run_json(capsys, "--stack", stack, "token", "rotate", created["project_id"], "crashlog")
    assert rotated["revoked"] == 1
    assert rotated["token"] != old and rotated["secret"] != created["credentials"]["crashlog_secret"]
    auth.clear_cache()
    assert auth.lookup(store, old) is None
    new = auth.lookup(store, rotated["token"])
    assert new is not None and new.secret == rotated["secret"]
    untouched = auth.lookup(store, created["credentials"]["rollbar_read"])
    assert untouched is not None


def test_rotate_unknown_kind_is_a_usage_error(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    run_json(capsys, "--stack", stack, "project", "create", "A")
    code, _, err = run(capsys, "--stack", stack, "token", "rotate", "A", "bogus")
    assert code == 2 and "unknown credential kind" in err


@pytest.mark.parametrize("by_hash", [True, False])
def test_revoke_by_token_or_hash(stack: str, store: Store, capsys: pytest.CaptureFixture[str], by_hash: bool) -> None:
    created = run_json(capsys, "--stack", stack, "project", "create", "A")
    token = created["credentials"]["rollbar_write"]
    ref = f"sha256:{auth.hash_token(token)}" if by_hash else token
    code, _, err = run(capsys, "--stack", stack, "token", "revoke", "A", ref)
    assert code == 0, err
    auth.clear_cache()
    assert auth.lookup(store, token) is None
    code, _, err = run(capsys, "--stack", stack, "token", "revoke", "A", ref)
    assert code == 1 and "no such token" in err


def test_cannot_revoke_another_projects_token(stack: str, store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    mine = run_json(capsys, "--stack", stack, "project", "create", "Mine")
    theirs = run_json(capsys, "--stack", stack, "project", "create", "Theirs")
    token = theirs["credentials"]["rollbar_read"]
    code, _, _ = run(capsys, "--stack", stack, "token", "revoke", mine["project_id"], token)
    assert code == 1
    assert auth.lookup(store, token) is not None


def test_unknown_project_and_missing_stack(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--stack", stack, "token", "list", "nope")
    assert code == 1 and "no project 'nope'" in err
    code, _, err = run(capsys, "--stack", "missing", "project", "list")
    assert code == 1 and "cannot read stack 'missing'" in err


def test_no_runner_and_no_target_is_a_clear_error(
    aws_mock: None, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--state-file", str(tmp_path / "none.json"), "project", "list")
    assert code == 2 and "make dev" in err
