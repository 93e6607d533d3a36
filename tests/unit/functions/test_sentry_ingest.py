"""POST /api/{project}/envelope/ and /store/ called like Lambda would: every answer, table-driven."""

from __future__ import annotations

import gzip
import json
import uuid
import zlib
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lodge import auth
from lodge.ids import occurrence_id_for
from lodge.protocols.sentry import outcomes
from lodge.protocols.sentry.auth import dsn, dsn_project_number
from lodge.storage import Store
from lodge_devtools.apigw import build_event
from tests.conftest import Project
from tests.helpers import invoke, json_body

EVENT_ID = "9ec79c33ec9942ab8353589fcb2e04dc"


def event_body(**fields: Any) -> dict[str, Any]:
    return {
        "event_id": EVENT_ID,
        "platform": "python",
        "level": "error",
        "exception": {"values": [{"type": "ValueError", "value": "boom", "stacktrace": {"frames": [
            {"filename": "app.py", "function": "run", "lineno": 3, "in_app": True}
        ]}}]},
        **fields,
    }  # fmt: skip


def envelope(*items: tuple[dict[str, Any], bytes], **headers: Any) -> bytes:
    lines = [json.dumps(headers).encode()]
    for item_headers, payload in items:
        lines += [json.dumps(item_headers).encode(), payload]
    return b"\n".join(lines) + b"\n"


def event_envelope(event: dict[str, Any] | None = None, **headers: Any) -> bytes:
    payload = json.dumps(event or event_body()).encode()
    return envelope(({"type": "event", "length": len(payload)}, payload), event_id=EVENT_ID, **headers)


def post(
    project: Project,
    body: bytes,
    *,
    endpoint: str = "envelope",
    number: str | None = None,
    key: str | None = None,
    headers: dict[str, str] | None = None,
    query: str = "",
) -> dict[str, Any]:
    number = number or dsn_project_number(project.id)
    path = f"/api/{number}/{endpoint}/"
    sent = dict(headers or {})
    if key is None:
        key = project.credentials["sentry_dsn"]
    if key and "x-sentry-auth" not in {k.lower() for k in sent}:
        sent["X-Sentry-Auth"] = f"Sentry sentry_key={key}, sentry_version=7, sentry_client=sentry.python/2.75.0"
    route = f"POST /api/{{app_id}}/{endpoint}/{{proxy+}}"
    return invoke(
        "sentry_ingest",
        build_event("POST", path, headers=sent, body=body, raw_query=query, route_key=route,
                    path_parameters={"app_id": number, "proxy": ""}),
    )  # fmt: skip


def detail(store: Store, project: Project, event_id: str = EVENT_ID) -> dict[str, Any]:
    found = store.get_occurrence(project.id, occurrence_id_for("sentry", event_id))
    assert found is not None
    return found


# ---- successes ----------------------------------------------------------------------------------


def test_event_is_stored_and_answered_with_its_id(store: Store, project: Project) -> None:
    response = post(project, event_envelope())
    assert response["statusCode"] == 200, response
    assert json_body(response) == {"id": EVENT_ID}
    stored = detail(store, project)
    assert stored["protocol"] == "sentry" and stored["exceptions"][0]["type"] == "ValueError"
    assert store.issues(project.id)[0].total_occurrences == 1


def test_resent_event_is_a_duplicate_with_the_same_answer(store: Store, project: Project) -> None:
    assert post(project, event_envelope())["statusCode"] == 200
    again = post(project, event_envelope())
    assert again["statusCode"] == 200 and json_body(again) == {"id": EVENT_ID}
    assert store.issues(project.id)[0].total_occurrences == 1


@pytest.mark.parametrize(
    ("encode", "encoding"),
    [
        (gzip.compress, "gzip"),
        (zlib.compress, "deflate"),
        (lambda b: zlib.compress(b)[2:-4], "deflate"),  # raw deflate
        (gzip.compress, ""),  # undeclared: sniffed like every protocol
    ],
)
def test_compressed_bodies(store: Store, project: Project, encode: Any, encoding: str) -> None:
    headers = {"Content-Encoding": encoding} if encoding else {}
    response = post(project, encode(event_envelope()), headers=headers)
    assert response["statusCode"] == 200, response
    detail(store, project)


def test_key_in_query_string_as_the_browser_sdk_sends_it(store: Store, project: Project) -> None:
    key = project.credentials["sentry_dsn"]
    response = post(project, event_envelope(), key="", query=f"sentry_version=7&sentry_key={key}")
    assert response["statusCode"] == 200, response


def test_key_in_the_envelope_header_dsn_as_tunnels_send_it(store: Store, project: Project) -> None:
    the_dsn = dsn("https://lodge.example/", project.credentials["sentry_dsn"], project.id)
    response = post(project, event_envelope(dsn=the_dsn), key="")
    assert response["statusCode"] == 200, response


def test_every_item_type_is_accepted_and_only_events_are_stored(store: Store, project: Project) -> None:
    report = {"timestamp": 1, "discarded_events": [{"reason": "ratelimit_backoff", "category": "error", "quantity": 4}]}
    items = [
        ({"type": t}, b'{"a":1}')
        for t in ("transaction", "session", "sessions", "attachment", "check_in", "log", "replay_event", "profile", "x")
    ]
    items.append(({"type": "replay_recording", "length": 4}, b"\x00\n\xff\x01"))  # binary, with a newline inside
    items.append(({"type": "client_report"}, json.dumps(report).encode()))
    response = post(project, envelope(*items, event_id=EVENT_ID))
    assert response["statusCode"] == 200, response
    assert json_body(response) == {"id": EVENT_ID}
    assert store.get_occurrence(project.id, occurrence_id_for("sentry", EVENT_ID)) is None
    assert store.issues(project.id) == []
    assert list(outcomes.read(store, project.id).values()) == [{"ratelimit_backoff:error": 4}]


def test_envelope_without_an_event_answers_a_null_id(store: Store, project: Project) -> None:
    response = post(project, envelope(({"type": "session"}, b"{}")))
    assert response["statusCode"] == 200 and json_body(response) == {"id": None}


def test_legacy_store_endpoint(store: Store, project: Project) -> None:
    response = post(project, json.dumps(event_body()).encode(), endpoint="store")
    assert response["statusCode"] == 200 and json_body(response) == {"id": EVENT_ID}
    detail(store, project)
    transaction = post(project, json.dumps({"type": "transaction", "event_id": "a" * 32}).encode(), endpoint="store")
    assert transaction["statusCode"] == 200
    assert store.get_occurrence(project.id, occurrence_id_for("sentry", "a" * 32)) is None


# ---- every failure: status and Relay's JSON body -------------------------------------------------

OTHER = object()  # placeholder: the other project's DSN number
MiB = 1024 * 1024
too_big_event = event_envelope(event_body(extra={"blob": "x" * MiB}))


def _length_beyond_body() -> bytes:
    return b'{}\n{"type":"event","length":500}\n{"event_id":"' + EVENT_ID.encode() + b'"}\n'


BAD_AUTH, INVALID, MULTIPLE = (
    "bad x-sentry-auth header",
    "invalid event envelope",
    "multiple authorization payloads detected",
)
CASES: list[tuple[str, dict[str, Any], int, str]] = [
    ("no credential", {"key": ""}, 401, "missing authorization information"),
    ("auth header without key", {"headers": {"X-Sentry-Auth": "Sentry sentry_version=7"}}, 401, BAD_AUTH),
    ("garbled auth header", {"headers": {"X-Sentry-Auth": "Sentry ;;;"}}, 401, BAD_AUTH),
    ("malformed key", {"key": "../etc"}, 401, "bad public key"),
    ("header and query keys differ", {"query": "sentry_key=" + "f" * 32}, 401, MULTIPLE),
    ("unknown key (bad DSN)", {"key": "0" * 32}, 403, "event submission rejected with_reason: ProjectKey"),
    ("another credential kind", {"key": "ROLLBAR"}, 403, "event submission rejected with_reason: ProjectKey"),
    ("wrong project id", {"number": OTHER}, 403, "event submission rejected with_reason: ProjectId"),
    ("project id not a number", {"number": "5114f7e38c5ce90000000011"}, 400, "bad project path"),
    ("project id out of range", {"number": "9" * 40}, 400, "bad project path"),
    ("empty body", {"body": b""}, 400, INVALID),
    ("truncated envelope header", {"body": b'{"event_id":"9ec7'}, 400, INVALID),
    ("envelope header not an object", {"body": b'[1]\n{"type":"event"}\n{}'}, 400, INVALID),
    ("item header not JSON", {"body": b'{}\n{"type":\n{}'}, 400, INVALID),
    ("item without type", {"body": b'{}\n{"length":2}\n{}'}, 400, INVALID),
    ("negative item length", {"body": b'{}\n{"type":"event","length":-1}\n{}'}, 400, INVALID),
    ("item length beyond the body", {"body": _length_beyond_body()}, 400, INVALID),
    ("payload not followed by newline", {"body": b'{}\n{"type":"event","length":2}\n{}xx'}, 400, INVALID),
    ("event not JSON", {"body": b'{}\n{"type":"event"}\n{"level":'}, 400, "invalid event payload"),
    ("event not an object", {"body": b'{}\n{"type":"event"}\n[1,2]'}, 400, "invalid event payload"),
    ("invalid event id", {"body": b'{}\n{"type":"event"}\n{"event_id":"nope"}'}, 400, "invalid event id"),
    ("corrupt gzip", {"body": b"\x1f\x8b\x08\x00garbage", "headers": {"Content-Encoding": "gzip"}}, 400,
     "request body could not be decompressed"),
    ("brotli without brotli", {"body": b"\x0b\x02\x80", "headers": {"Content-Encoding": "br"}}, 415,
     "unsupported content encoding"),
    ("unknown encoding", {"body": b"(\xb5/\xfd", "headers": {"Content-Encoding": "zstd"}}, 415,
     "unsupported content encoding"),
    ("oversized event", {"body": too_big_event}, 413, "envelope exceeded size limits"),
    ("oversized envelope", {"body": b"{}\n" + b"\n" * (20 * MiB)}, 413, "envelope exceeded size limits"),
    ("store: oversized event", {"endpoint": "store", "body": b'{"a":"' + b"x" * MiB + b'"}'}, 413,
     "envelope exceeded size limits"),
    ("store: invalid JSON", {"endpoint": "store", "body": b'{"level":'}, 400, "invalid event payload"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "options", "status", "message"), CASES, ids=[c[0] for c in CASES])
def test_failures_answer_relays_status_and_detail(
    store: Store,
    project: Project,
    other_project: Project,
    case: str,
    options: dict[str, Any],
    status: int,
    message: str,
) -> None:
    options = dict(options)
    body = options.pop("body", event_envelope())
    if options.get("number") is OTHER:
        options["number"] = dsn_project_number(other_project.id)
    if options.get("key") == "ROLLBAR":
        options["key"] = project.credentials["rollbar_post_server_item"]
    response = post(project, body, **options)
    assert response["statusCode"] == status, response
    assert response["headers"]["Content-Type"].startswith("application/json")
    answer = json_body(response)
    assert answer["detail"] == message
    assert set(answer) <= {"detail", "causes"} and all(isinstance(c, str) for c in answer.get("causes", []))
    assert store.issues(project.id) == []


def test_other_paths_under_the_greedy_route_are_404(store: Store, project: Project) -> None:
    number = dsn_project_number(project.id)
    event = build_event("POST", f"/api/{number}/envelope/extra", body=event_envelope())
    response = invoke("sentry_ingest", event)
    assert response["statusCode"] == 404 and json_body(response) == {"detail": "not found"}


def test_rate_limit_answers_429_with_retry_after_and_sentry_limits(store: Store, project: Project) -> None:
    key, _ = auth.issue_token(store, project.id, "sentry_dsn", rate_limit=1)
    assert post(project, event_envelope(), key=key)["statusCode"] == 200
    limited = post(project, event_envelope(event_body(event_id=uuid.uuid4().hex)), key=key)
    assert limited["statusCode"] == 429
    retry_after = int(limited["headers"]["Retry-After"])
    assert 1 <= retry_after <= 60
    assert limited["headers"]["X-Sentry-Rate-Limits"] == f"{retry_after}::key"
    assert json_body(limited)["detail"].startswith("event submission rejected")


def test_storage_failure_is_503_never_a_stored_answer(
    store: Store, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutItem")

    monkeypatch.setattr(Store, "put_record", broken)
    response = post(project, event_envelope())
    assert response["statusCode"] == 503
    assert "retry" in json_body(response)["detail"]


def test_revoked_key_is_refused(store: Store, project: Project) -> None:
    key = project.credentials["sentry_dsn"]
    assert auth.revoke_token(store, key, project.id)
    response = post(project, event_envelope())
    assert response["statusCode"] == 403
