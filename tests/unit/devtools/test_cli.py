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


# ---- first-hour fixes (issue 14) -----------------------------------------------------------------


def test_project_names_are_unique(stack: str, store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    run_json(capsys, "--stack", stack, "project", "create", "Shop")
    code, _, err = run(capsys, "--stack", stack, "project", "create", "shop")
    assert code == 1 and "exists already" in err
    assert [p["name"] for p in store.list_projects()] == ["Shop"]
    assert run_json(capsys, "--stack", stack, "token", "list", "Shop")  # name-based commands keep working


def test_env_output_exports_every_credential(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--stack", stack, "project", "create", "Env app", "--env")
    assert code == 0, err
    exports = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    assert set(exports) == {"LODGE_PROJECT_ID", *(f"LODGE_{k.upper()}" for k in [*auth.KINDS, "crashlog_secret"])}
    assert "LODGE_URL" not in exports  # this stand-in stack has no ApiUrl output (a deployed one has)


def test_project_delete_removes_its_data_after_confirmation(
    stack: str, store: Store, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    doomed = run_json(capsys, "--stack", stack, "project", "create", "Doomed")
    kept = run_json(capsys, "--stack", stack, "project", "create", "Kept")
    token = doomed["credentials"]["rollbar_post_server_item"]
    store.s3.put_object(Bucket=store.config.bucket_name, Key=f"{doomed['project_id']}/rec1", Body=b"x")
    code, _, err = run(capsys, "--stack", stack, "project", "delete", "Doomed")  # stdin is no terminal
    assert code == 2 and "--yes" in err
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    code, _, err = run(capsys, "--stack", stack, "project", "delete", "Doomed")
    assert code == 1 and "not deleted" in err and store.get_project(doomed["project_id"]) is not None
    monkeypatch.setattr("builtins.input", lambda prompt: "Doomed")
    code, out, err = run(capsys, "--stack", stack, "project", "delete", "Doomed")
    assert code == 0, err
    assert "1 stored payloads" in out
    assert store.get_project(doomed["project_id"]) is None
    assert store.get_token(auth.hash_token(token)) is None
    assert store.list_tokens(doomed["project_id"]) == []
    assert "Contents" not in store.s3.list_objects_v2(Bucket=store.config.bucket_name, Prefix=doomed["project_id"])
    assert store.get_project(kept["project_id"]) is not None
    assert len(store.list_tokens(kept["project_id"])) == len(auth.KINDS)


def test_token_limit_sets_and_clears_the_rate_limit(
    stack: str, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    created = run_json(capsys, "--stack", stack, "project", "create", "Limited")
    token = created["credentials"]["appsignal_push"]
    assert run_json(capsys, "--stack", stack, "token", "limit", "Limited", "appsignal_push", "600")["rate_limit"] == 600
    auth.clear_cache()
    assert auth.lookup(store, token).rate_limit == 600
    rows = run_json(capsys, "--stack", stack, "token", "list", "Limited")
    assert {r["kind"]: r["rate_limit"] for r in rows}["appsignal_push"] == 600
    run_json(capsys, "--stack", stack, "token", "limit", "Limited", "appsignal_push", "0")
    auth.clear_cache()
    assert auth.lookup(store, token).rate_limit is None
    code, _, err = run(capsys, "--stack", stack, "token", "limit", "Limited", "nope", "5")
    assert code == 2 and "unknown credential kind" in err


def test_a_crashed_runner_is_named_as_such(aws_mock: None, tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """kill -9 leaves .lodge/runner.json behind; its pid is gone and its moto port refuses connections."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    state = {"url": "http://127.0.0.1:3000", "aws_endpoint": f"http://127.0.0.1:{dead_port}", "region": "us-east-1"}
    state |= {"table": "t", "bucket": "b", "emulated": True, "pid": 2**22 + 12345}
    (tmp_path / "runner.json").write_text(json.dumps(state))
    code, _, err = run(capsys, "--state-file", str(tmp_path / "runner.json"), "project", "list")
    assert code == 2 and "runner is down" in err and "make dev" in err
    state["pid"] = __import__("os").getpid()  # alive, but nothing listens: the connection error says the same
    (tmp_path / "runner.json").write_text(json.dumps(state))
    code, _, err = run(capsys, "--state-file", str(tmp_path / "runner.json"), "project", "list")
    assert code == 2 and "runner is down" in err and "make dev" in err


def test_env_output_of_a_stack_has_its_api_url(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    import boto3

    outputs = {**STACK_TEMPLATE["Outputs"], "ApiUrl": {"Value": "https://abc.execute-api.us-east-1.amazonaws.com/"}}
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName="deployed", TemplateBody=json.dumps({**STACK_TEMPLATE, "Outputs": outputs})
    )
    code, out, err = run(capsys, "--stack", "deployed", "project", "create", "Web", "--env")
    assert code == 0, err
    assert "export LODGE_URL=https://abc.execute-api.us-east-1.amazonaws.com" in out.splitlines()


def test_project_create_and_rotate_print_the_sentry_dsn(
    stack: str, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    from lodge.protocols.sentry.auth import dsn_project_number

    created = run_json(capsys, "--stack", stack, "project", "create", "A")
    key, number = created["credentials"]["sentry_dsn"], dsn_project_number(created["project_id"])
    assert created["sentry_dsn"].startswith(f"https://{key}@API-HOST/{number}")  # this stack has no ApiUrl output
    code, out, _ = run(capsys, "--stack", stack, "token", "rotate", "A", "sentry_dsn")
    assert code == 0 and "Sentry SDKs: dsn=https://" in out and f"/{number}" in out
    auth.clear_cache()
    assert auth.lookup(store, key) is None
    new_key = out.split("dsn=https://", 1)[1].split("@", 1)[0]
    info = auth.lookup(store, new_key)
    assert info is not None and info.allows(auth.SENTRY_INGEST) and info.project_id == created["project_id"]


def test_sentry_discards_lists_what_sdks_dropped(stack: str, store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    from collections import Counter

    from lodge.protocols.sentry import outcomes

    created = run_json(capsys, "--stack", stack, "project", "create", "A")
    code, out, _ = run(capsys, "--stack", stack, "sentry", "discards", "A")
    assert code == 0 and "nothing dropped" in out
    outcomes.record(store, created["project_id"], Counter({"queue_overflow:error": 3}), now=1_796_000_000)
    code, out, _ = run(capsys, "--stack", stack, "sentry", "discards", "A")
    assert code == 0 and "2026-11-30" in out and "queue_overflow:error" in out and out.rstrip().endswith("3")
    listed = run_json(capsys, "--stack", stack, "sentry", "discards", created["project_id"])
    assert listed["days"] == {"2026-11-30": {"queue_overflow:error": 3}}


# ---- issue 15, point 9: `lodge token move-secrets` upgrades tables written before SEC# items
def test_token_move_secrets_moves_legacy_secrets_once(
    stack: str, store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    from lodge.dynamo import to_item

    legacy = {"pk": "TOK#" + "ab" * 32, "sk": "TOKEN", "project": "p1", "kind": "crashlog", "secret": "old"}
    store.ddb.put_item(TableName=store.table, Item=to_item(legacy))
    assert run_json(capsys, "--stack", stack, "token", "move-secrets") == {"moved": 1}
    item = store.ddb.get_item(TableName=store.table, Key=to_item({"pk": legacy["pk"], "sk": "TOKEN"}))["Item"]
    assert "secret" not in item
    assert (store.credential("ab" * 32) or pytest.fail()).secret == "old"
    code, out, _ = run(capsys, "--stack", stack, "token", "move-secrets")
    assert code == 0 and "Moved 0" in out
