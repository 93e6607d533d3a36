"""Every error status of POST /api/1/item/, table-driven: status and exact JSON body."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from lodge import auth
from lodge.storage import Store
from lodge_devtools.apigw import build_event
from tests.conftest import Project
from tests.helpers import invoke, json_body

SERVER = "rollbar_post_server_item"
CLIENT = "rollbar_post_client_item"
READ = "rollbar_read"
BODY_KINDS = (
    "Invalid format. data.body must have either a 'trace', 'trace_chain', 'message' or 'crash_report' "
    "property, (but not more than one)."
)


def item(**data: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"environment": "test", "body": {"message": {"body": "hi"}}}
    base.update(data)
    return {"data": {k: v for k, v in base.items() if v is not ...}}


TRACE = {"frames": [{"filename": "a.py"}], "exception": {"class": "E"}}


@dataclass
class Case:
    name: str
    body: Any
    status: int
    message: str
    credential: str | None = SERVER
    """Which of the project's credentials goes in the header (None: no header)."""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


CASES = [
    Case("empty body", b"", 400, "request body is empty; expected a JSON payload"),
    Case("not json", b"{not json", 400, "request body is not valid JSON"),
    Case(
        "form without payload",
        b"a=1&b=2",
        400,
        "request body is neither JSON nor a form with a 'payload' field",
        content_type="application/x-www-form-urlencoded",
    ),
    Case(
        "form payload not json",
        b"payload=%7Bnope",
        400,
        "request body is not valid JSON",
        content_type="application/x-www-form-urlencoded",
    ),
    Case(
        "bad gzip",
        b"\x1f\x8b\x08\x00garbage",
        400,
        "request body could not be decompressed",
        headers={"content-encoding": "gzip"},
        content_type="application/octet-stream",
    ),
    Case("array payload", [1, 2], 422, "Invalid format. The payload should be an object with a 'data' key."),
    Case("no token", item(), 422, "Invalid format. access_token is missing and it is required.", credential=None),
    Case(
        "unknown token",
        {**item(), "access_token": "0123456789abcdef0123456789abcdef"},
        403,
        "access token not found: 0123...",
        credential=None,
    ),
    Case(
        "header and body disagree",
        {**item(), "access_token": "somethingelse-abcdef"},
        403,
        "access token mismatch: the X-Rollbar-Access-Token header and the payload's access_token differ.",
    ),
    Case(
        "client token, server platform",
        item(),
        403,
        "insufficient privileges: post_server_item scope is required but the access token only has post_client_item.",
        credential=CLIENT,
    ),
    Case(
        "read token posting browser item",
        item(platform="browser"),
        403,
        "insufficient privileges: post_client_item scope is required but the access token only has read.",
        credential=READ,
    ),
    Case("no data", {"x": 1}, 422, "Invalid format. data is missing and it is required."),
    Case(
        "data not an object", {"data": "x"}, 422, "Invalid format. data string value found, but an object is required."
    ),
    Case(
        "no environment", item(environment=...), 422, "Invalid format. data.environment is missing and it is required."
    ),
    Case("environment not a string", item(environment=5), 422, "Invalid format. data.environment should be string."),
    Case(
        "no body",
        item(body=...),
        422,
        "Invalid format. data.body must not be undefined. Instead, it should be an object with a 'message', "
        "'trace', 'trace_chain', or 'crash_report' key.",
    ),
    Case("empty body object", item(body={}), 422, BODY_KINDS),
    Case("two body kinds", item(body={"message": {"body": "x"}, "trace": TRACE}), 422, BODY_KINDS),
    Case("level not a string", item(level=3), 422, "Invalid format. data.level should be string."),
    Case(
        "context object",
        item(context={"a": 1}),
        422,
        "Invalid format. data.context object value found, but a string or null is required.",
    ),
    Case(
        "telemetry not array",
        item(body={"message": {"body": "x"}, "telemetry": {}}),
        422,
        "Invalid format. data.body.telemetry should be array.",
    ),
    Case(
        "trace without frames",
        item(body={"trace": {"exception": {"class": "E"}}}),
        422,
        "Invalid format. data.body.trace.frames is missing and it is required.",
    ),
    Case(
        "trace_chain element without frames",
        item(body={"trace_chain": [TRACE, TRACE, {"exception": {"class": "E"}}]}),
        422,
        "Invalid format. data.body.trace_chain[2].frames is missing and it is required.",
    ),
    Case(
        "empty trace_chain",
        item(body={"trace_chain": []}),
        422,
        "Invalid format. data.body.trace_chain must contain at least one element.",
    ),
    Case(
        "exception without class",
        item(body={"trace": {"frames": [], "exception": {"message": "m"}}}),
        422,
        "Invalid format. data.body.trace.exception.class is missing and it is required.",
    ),
    Case(
        "exception message object",
        item(body={"trace": {"frames": [], "exception": {"class": "E", "message": {"a": 1}}}}),
        422,
        "Invalid format. data.body.trace.exception.message object value found, but a string or null is required.",
    ),
    Case(
        "message without body",
        item(body={"message": {"route": "x"}}),
        422,
        "Invalid format. data.body.message.body is missing and it is required.",
    ),
    Case(
        "crash_report without raw",
        item(body={"crash_report": {}}),
        422,
        "Invalid format. data.body.crash_report.raw is missing and it is required.",
    ),
    Case(
        "uuid too long",
        item(uuid="x" * 37),
        422,
        "Invalid format. data.uuid must be a latin1 string of at most 36 characters.",
    ),
    Case("uuid not a string", item(uuid=12), 422, "Invalid format. data.uuid should be string."),
]


def send(case: Case, project: Project) -> dict[str, Any]:
    raw = case.body if isinstance(case.body, bytes) else json.dumps(case.body).encode()
    headers = {"content-type": case.content_type, **case.headers}
    if case.credential:
        headers["x-rollbar-access-token"] = project.credentials[case.credential]
    return invoke("rollbar_item", build_event("POST", "/api/1/item/", headers=headers, body=raw))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_error_status_and_body(case: Case, store: Store, project: Project) -> None:
    resp = send(case, project)
    assert resp["statusCode"] == case.status, resp["body"]
    assert json_body(resp) == {"err": 1, "message": case.message}
    assert resp["headers"]["Access-Control-Allow-Origin"] == "*"
    assert resp["headers"]["Content-Type"].startswith("application/json")
    assert list(store.iter_records(project.id)) == []


def test_unknown_token_is_not_echoed(store: Store, project: Project) -> None:
    token = "f" * 32
    resp = send(Case("x", {**item(), "access_token": token}, 403, "", credential=None), project)
    assert token not in resp["body"] and "ffff" in resp["body"]


def test_too_large_is_413_with_rollbars_message(store: Store, project: Project) -> None:
    payload = item(custom={"blob": "x" * (1024 * 1024)})
    resp = send(Case("big", payload, 413, ""), project)
    assert resp["statusCode"] == 413
    assert json_body(resp) == {"err": 1, "message": "request entity too large"}


def test_gzip_bomb_is_413(store: Store, project: Project) -> None:
    bomb = gzip.compress(json.dumps(item(custom={"blob": "x" * (4 * 1024 * 1024)})).encode())
    resp = send(
        Case("bomb", bomb, 413, "", content_type="application/json", headers={"content-encoding": "gzip"}), project
    )
    assert resp["statusCode"] == 413
    assert json_body(resp) == {"err": 1, "message": "request entity too large"}


def test_rate_limit_429_body_and_headers(store: Store, project: Project) -> None:
    token, _ = auth.issue_token(store, project.id, SERVER, rate_limit=1)
    project.credentials["limited"] = token
    first = send(Case("a", item(uuid="one"), 200, "", credential="limited"), project)
    second = send(Case("b", item(uuid="two"), 429, "", credential="limited"), project)
    assert first["statusCode"] == 200
    assert second["statusCode"] == 429
    assert json_body(second) == {
        "err": 1,
        "message": "rate limit reached for this access token; retry after the window resets",
    }
    for name in ("Limit", "Remaining", "Remaining-Seconds", "Reset"):
        assert f"X-Rate-Limit-{name}" in second["headers"]
    assert second["headers"]["X-Rate-Limit-Limit"] == "1"


def test_storage_failure_is_503(monkeypatch: pytest.MonkeyPatch, store: Store, project: Project) -> None:
    from lodge.storage import StorageError

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise StorageError("could not store occurrence")

    monkeypatch.setattr(Store, "put_record", broken)
    resp = send(Case("x", item(), 503, ""), project)
    assert resp["statusCode"] == 503
    assert json_body(resp) == {"err": 1, "message": "could not store occurrence; please retry"}


def test_unexpected_failure_is_500_json(monkeypatch: pytest.MonkeyPatch, store: Store, project: Project) -> None:
    boom: Callable[..., Any] = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("secret detail"))  # noqa: E731
    monkeypatch.setattr(Store, "put_record", boom)
    resp = send(Case("x", item(), 500, ""), project)
    assert resp["statusCode"] == 500
    assert json_body(resp) == {"err": 1, "message": "internal error"}


def test_other_paths_behind_the_greedy_route_are_404(store: Store, project: Project) -> None:
    headers = {"content-type": "application/json", "x-rollbar-access-token": project.credentials[SERVER]}
    event = build_event("POST", "/api/1/item/extra/path", headers=headers, body=json.dumps(item()))
    resp = invoke("rollbar_item", event)
    assert resp["statusCode"] == 404
    assert json_body(resp) == {"err": 1, "message": "not found"}
