"""Credentials: stored only as hashes, cached lookups, revocation, scopes per kind."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from lodge import auth, config
from lodge.dynamo import from_item
from lodge.storage import Store
from tests.conftest import Project

DEMO = {
    "rollbar_post_server_item": "POST_SERVER_ITEM_TOKEN_0123456789abcdef",
    "rollbar_post_client_item": "POST_CLIENT_ITEM_TOKEN_0123456789abcdef",
    "rollbar_read": "READ_TOKEN_0123456789abcdef0123456789",
    "rollbar_write": "WRITE_TOKEN_0123456789abcdef012345678",
    "appsignal_push": "4b1b5f1e-2a9c-4c55-8f4e-0d2f9b8e7a61",
    "crashlog": "9a0e7c3d-5b1f-4e2a-8c6d-3f4b2a1e0d9c",
    "crashlog_secret": "demo-crashlog-secret-value",
    "personal": "PERSONAL_TOKEN_0123456789abcdef0123",
    "sentry_dsn": "SENTRY_DSN_PUBLIC_KEY_0123456789abc",
}


def scan_all(store: Store) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": store.table}
    while True:
        response = store.ddb.scan(**request)
        items.extend(from_item(raw) for raw in response["Items"])
        if "LastEvaluatedKey" not in response:
            return items
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings_in(v)
    elif isinstance(value, (list, set, tuple)):
        for v in value:
            yield from strings_in(v)


@pytest.fixture
def dynamodb_calls(store: Store) -> Iterator[list[str]]:
    """Names of the DynamoDB operations the store's client makes."""
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    store.ddb.meta.events.register("before-call.dynamodb", record)
    yield calls
    store.ddb.meta.events.unregister("before-call.dynamodb", record)


def test_tokens_are_stored_only_as_hashes(store: Store, project: Project) -> None:
    secret = project.credentials["crashlog_secret"]
    tokens = {k: v for k, v in project.credentials.items() if k != "crashlog_secret"}
    assert set(tokens) == set(auth.KINDS)
    items = scan_all(store)
    for item in items:
        for text in strings_in(item):
            for kind, token in tokens.items():
                assert token not in text, f"raw {kind} token stored in {item['pk']}/{item['sk']}"
    holders = [item for item in items if any(secret in text for text in strings_in(item))]
    # Issue 15, point 9: the secret is an item of its own (SEC#), apart from the token item (TOK#).
    assert [(h["pk"], h["sk"]) for h in holders] == [(f"SEC#{auth.hash_token(tokens['crashlog'])}", "SECRET")]
    assert holders[0]["secret"] == secret


def test_lookup_resolves_each_kind_with_its_scopes(store: Store, project: Project) -> None:
    for kind, scopes in auth.KINDS.items():
        info = auth.lookup(store, project.credentials[kind])
        assert info is not None
        assert (info.project_id, info.kind, info.scopes) == (project.id, kind, scopes)
        assert info.token_hash == auth.hash_token(project.credentials[kind])
    server = auth.lookup(store, project.credentials["rollbar_post_server_item"])
    assert server is not None
    assert server.allows(auth.POST_SERVER_ITEM) and not server.allows(auth.READ)
    personal = auth.lookup(store, project.credentials["personal"])
    assert personal is not None and personal.allows(auth.READ) and personal.allows(auth.WRITE)
    crashlog = auth.lookup(store, project.credentials["crashlog"])
    assert crashlog is not None and crashlog.secret == project.credentials["crashlog_secret"]
    assert server.secret is None and server.rate_limit is None


def test_token_shapes() -> None:
    rollbar = auth._new_token("rollbar_read")
    assert len(rollbar) == 32 and int(rollbar, 16) >= 0
    assert len(auth._new_token("appsignal_push")) == 36 and auth._new_token("crashlog").count("-") == 4


def test_lookup_is_cached(store: Store, project: Project, dynamodb_calls: list[str]) -> None:
    token = project.credentials["rollbar_read"]
    assert auth.lookup(store, token) is not None
    assert dynamodb_calls == ["GetItem"]
    assert auth.lookup(store, token) is not None
    assert dynamodb_calls == ["GetItem"], "the second lookup is served from the cache"


def test_unknown_tokens_are_cached_briefly(store: Store, dynamodb_calls: list[str]) -> None:
    assert auth.lookup(store, "nope") is None
    assert auth.lookup(store, "nope") is None
    assert dynamodb_calls == ["GetItem"]
    assert auth.lookup(store, "") is None and auth.lookup(store, None) is None
    assert dynamodb_calls == ["GetItem"], "empty tokens never reach DynamoDB"


def test_negative_cache_expires(store: Store, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: clock[0])
    token = "late-token-0123456789"
    assert auth.lookup(store, token) is None
    auth.issue_token(store, project.id, "rollbar_read", token=token)
    assert auth.lookup(store, token) is None, "still negatively cached"
    clock[0] += 6
    info = auth.lookup(store, token)
    assert info is not None and info.kind == "rollbar_read"


def test_revoked_token_stops_working_after_the_cache_clears(store: Store, project: Project) -> None:
    token = project.credentials["rollbar_write"]
    assert auth.lookup(store, token) is not None
    store.delete_token(project.id, auth.hash_token(token))  # revoked by another process (the CLI)
    assert auth.lookup(store, token) is not None, "cached here for up to a minute"
    auth.clear_cache()
    assert auth.lookup(store, token) is None
    assert auth.revoke_token(store, token, project.id) is False


def test_revoke_by_hash_and_not_across_projects(store: Store, project: Project, other_project: Project) -> None:
    token = project.credentials["rollbar_read"]
    assert auth.revoke_token(store, token, other_project.id) is False
    assert auth.revoke_token(store, auth.hash_token(token), project.id) is True
    assert auth.lookup(store, token) is None
    assert auth.hash_token(token) not in {t["hash"] for t in store.list_tokens(project.id)}


def test_create_project_with_fixed_credentials(store: Store) -> None:
    project_id, credentials = auth.create_project(store, "Demo", project_id="demo0123456789abcdef0123", fixed=DEMO)
    assert project_id == "demo0123456789abcdef0123"
    assert credentials == DEMO
    assert store.get_project(project_id) is not None
    info = auth.lookup(store, DEMO["crashlog"])
    assert info is not None and info.secret == DEMO["crashlog_secret"] and info.project_id == project_id
    assert len(store.list_tokens(project_id)) == len(auth.KINDS)


def test_create_project_makes_fresh_distinct_credentials(
    store: Store, project: Project, other_project: Project
) -> None:
    assert len(project.id) == 24 and int(project.id, 16) >= 0
    assert project.id != other_project.id
    assert not set(project.credentials.values()) & set(other_project.credentials.values())
    assert len(set(project.credentials.values())) == len(project.credentials)


def test_issue_token_rate_limit_and_unknown_kind(store: Store, project: Project) -> None:
    token, secret = auth.issue_token(store, project.id, "appsignal_push", label="ci", rate_limit=120)
    assert secret is None
    info = auth.lookup(store, token)
    assert info is not None and (info.rate_limit, info.label) == (120, "ci")
    with pytest.raises(ValueError):
        auth.issue_token(store, project.id, "admin")


def test_secret_is_only_for_crashlog(store: Store, project: Project) -> None:
    _, secret = auth.issue_token(store, project.id, "rollbar_read", secret="ignored")
    assert secret is None
    _, crashlog_secret = auth.issue_token(store, project.id, "crashlog")
    assert crashlog_secret and len(crashlog_secret) >= 32


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        ("abc", "abc", True),
        ("abc", "abd", False),
        ("abc", "abcd", False),
        (b"x", "x", True),
        ("é", "é", True),
        ("", "", True),
    ],
)
def test_constant_time_equals(left: str | bytes, right: str | bytes, equal: bool) -> None:
    assert auth.constant_time_equals(left, right) is equal


def test_constant_time_equals_tolerates_lone_surrogates() -> None:
    assert auth.constant_time_equals("\ud800", "\ud800") is True
    assert auth.constant_time_equals("\ud800", "x") is False


def test_positive_cache_lifetime_follows_token_cache_seconds(
    store: Store, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKEN_CACHE_SECONDS", "10")
    config.settings.cache_clear()
    clock = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: clock[0])
    token = project.credentials["rollbar_read"]
    try:
        assert auth.lookup(store, token) is not None
        store.delete_token(project.id, auth.hash_token(token))  # revoked by another process
        clock[0] += 9
        assert auth.lookup(store, token) is not None, "still cached"
        clock[0] += 2
        assert auth.lookup(store, token) is None, "expired after TOKEN_CACHE_SECONDS, not the default 60"
    finally:
        monkeypatch.delenv("TOKEN_CACHE_SECONDS")
        config.settings.cache_clear()


def test_revoking_forgets_the_token_in_this_process_at_once(store: Store) -> None:
    project_id, credentials = auth.create_project(store, "revoke-now")
    token = credentials["rollbar_read"]
    assert auth.lookup(store, token) is not None  # now cached
    assert auth.revoke_token(store, token, project_id)
    assert auth.lookup(store, token) is None
