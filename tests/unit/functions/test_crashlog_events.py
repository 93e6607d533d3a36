"""POST /events handler, called like Lambda would, with requests signed by the test's own signer."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from lodge import auth
from lodge.occurrence import occurrence_id_for
from lodge.storage import StorageError, Store
from lodge_devtools.apigw import build_event
from tests.conftest import Project
from tests.fixtures.crashlog.signer import TAMPERED_PARTS, fixture, http_date, signed_headers, tampered
from tests.helpers import invoke, json_body, load_function

HUGE_TIMESTAMPS = [10**400, -(10**400), "Mon, 01 Jan 99999999999999999999 00:00:00 GMT"]


def post(project: Project, body: bytes, path: str = "/events", **sign: Any) -> dict[str, Any]:
    key, secret = project.credentials["crashlog"], project.credentials["crashlog_secret"]
    headers = signed_headers(key, secret, "POST", path, body=body, **sign)
    return invoke("crashlog_events", build_event("POST", path, headers=headers, body=body))


def stored(store: Store, project: Project, response: dict[str, Any]) -> dict[str, Any]:
    assert response["statusCode"] == 200, response
    location_id = json_body(response)["location_id"]
    assert uuid.UUID(location_id).version == 4
    detail = store.get_occurrence(project.id, occurrence_id_for("crashlog", location_id))
    assert detail is not None
    return detail


def test_ruby_event_is_stored_with_frames_and_context(store: Store, project: Project) -> None:
    response = post(project, fixture("ruby_1.0.7.json"))
    assert response["headers"]["Content-Type"].startswith("application/json")
    detail = stored(store, project, response)
    (exc,) = detail["exceptions"]
    assert exc["type"] == "NoMethodError"
    assert [f["method"] for f in exc["frames"]] == ["process_action", "send_action", "show"]
    top = exc["frames"][-1]
    assert top["lineno"] == 12 and top["code"] == "    @name = @user.name"
    assert top["context_pre"][0] == "require \\'user_presenter\\'" and len(top["context_post"]) == 3
    assert detail["context"] == "users#show"
    assert detail["extra"]["context"]["controller"] == "users"
    assert detail["custom"]["url"] == "http://app.example.com/users/42"
    assert detail["hostname"] == "app01.example.com"
    assert detail["notifier"] == {"name": "crashlog", "version": "1.0.7", "language": "Ruby"}
    groups = store.list_groups(project.id)
    assert len(groups) == 1 and groups[0]["cnt"] == 1


@pytest.mark.parametrize(
    ("name", "content_type", "md5", "sign_md5"),
    [
        ("node_winston.json", "application/json", "hex", False),  # winston-crashlog with checksum:true
        ("node_winston.json", "application/json", None, True),
        ("java_log4j.json", "application/json; charset=UTF-8", None, True),
        ("ruby_1.1.0.pre1_vector_d4.json", "application/json; charset=UTF-8", "base64", True),
    ],
)
def test_other_clients(
    store: Store, project: Project, name: str, content_type: str, md5: str | None, sign_md5: bool
) -> None:
    response = post(project, fixture(name), content_type=content_type, content_md5=md5, sign_md5=sign_md5)
    detail = stored(store, project, response)
    payload = json.loads(fixture(name))["payload"]
    frames = detail["exceptions"][0]["frames"]
    assert [f.get("lineno") for f in frames] == [b["number"] for b in reversed(payload["backtrace"])]
    assert detail["exceptions"][0]["type"] == payload["event"]["type"]


def test_repeated_events_each_get_a_location(store: Store, project: Project) -> None:
    body = fixture("java_log4j.json")
    first, second = post(project, body), post(project, body)
    assert json_body(first)["location_id"] != json_body(second)["location_id"]
    assert store.list_groups(project.id)[0]["cnt"] == 2


@pytest.mark.parametrize("part", TAMPERED_PARTS)
def test_tampered_requests_are_401_json(store: Store, project: Project, part: str) -> None:
    key, secret = project.credentials["crashlog"], project.credentials["crashlog_secret"]
    body = fixture("java_log4j.json")
    headers, sent_body = tampered(part, key, secret, body)
    response = invoke("crashlog_events", build_event("POST", "/events", headers=headers, body=sent_body))
    assert response["statusCode"] == 401
    assert json_body(response) == {"error": "HMAC authentication failed"}
    assert store.list_groups(project.id) == []
    # The same request unspoiled goes through: the 401 is down to the tampered part.
    intact = signed_headers(key, secret, "POST", "/events", body=body, content_md5="base64")
    assert invoke("crashlog_events", build_event("POST", "/events", headers=intact, body=body))["statusCode"] == 200


def test_other_credentials_are_401(store: Store, project: Project, other_project: Project) -> None:
    body = fixture("java_log4j.json")
    key = project.credentials["crashlog"]
    headers = signed_headers(key, other_project.credentials["crashlog_secret"], "POST", "/events", body=body)
    response = invoke("crashlog_events", build_event("POST", "/events", headers=headers, body=body))
    assert response["statusCode"] == 401
    personal = signed_headers(project.credentials["personal"], "", "POST", "/events", body=body)
    response = invoke("crashlog_events", build_event("POST", "/events", headers=personal, body=body))
    assert response["statusCode"] == 401


def test_unsigned_body_is_accepted_as_the_protocol_allows(store: Store, project: Project) -> None:
    """Without Content-MD5 the body is not signed: the same headers carry another body (docs/protocols/crashlog.md)."""
    key, secret = project.credentials["crashlog"], project.credentials["crashlog_secret"]
    headers = signed_headers(key, secret, "POST", "/events")
    for name in ("java_log4j.json", "node_winston.json"):
        response = invoke("crashlog_events", build_event("POST", "/events", headers=headers, body=fixture(name)))
        assert response["statusCode"] == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"", 400), (b"{", 400), (b"[]", 400), (b'{"payload":{}}', 400), (b'{"payload":{"event":1}}', 400)],
)
def test_bad_bodies_are_json_errors(store: Store, project: Project, body: bytes, status: int) -> None:
    response = post(project, body)
    assert response["statusCode"] == status
    assert "error" in json_body(response)


@pytest.mark.parametrize("timestamp", HUGE_TIMESTAMPS, ids=["10**400", "-10**400", "year 10**20"])
def test_timestamps_beyond_float_and_datetime_are_kept_not_500(store: Store, project: Project, timestamp: Any) -> None:
    """10**400 is valid JSON; float() raised OverflowError (a 500 the client would retry forever)."""
    body = json.dumps({"payload": {"event": {"message": "m", "type": "E", "timestamp": timestamp}}}).encode()
    response = post(project, body)
    detail = stored(store, project, response)
    assert detail["extra"]["event"]["timestamp"] == timestamp  # kept as sent, not as the event's time


def test_a_date_header_beyond_datetime_is_401_not_500(store: Store, project: Project) -> None:
    response = post(project, fixture("java_log4j.json"), date="Mon, 01 Jan 99999999999999999999 00:00:00 GMT")
    assert response["statusCode"] == 401 and json_body(response) == {"error": "HMAC authentication failed"}


def test_pathological_backtrace_lines_are_stored_quickly(store: Store, project: Project) -> None:
    """The old Ruby-line pattern took minutes on one 1 MB line: the Lambda timed out, the event was lost."""
    line = ":1:in `'" * (1024 * 1024 // 8 - 16) + "z"  # the body stays within the 1 MB limit
    body = json.dumps({"payload": {"event": {"type": "E"}, "backtrace": [line]}}).encode()
    started = time.process_time()
    response = post(project, body)
    assert time.process_time() - started < 3.0
    (frame,) = stored(store, project, response)["exceptions"][0]["frames"]
    assert frame["filename"] == line


def test_oversized_body_is_413(store: Store, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    from lodge import config

    monkeypatch.setenv("MAX_BODY_BYTES", "1000")
    config.settings.cache_clear()
    body = json.dumps({"payload": {"event": {"type": "E", "message": "x" * 2000}}}).encode()
    response = post(project, body)
    config.settings.cache_clear()
    assert response["statusCode"] == 413
    assert "error" in json_body(response)


@pytest.mark.usefixtures("steady_rate_window")
def test_rate_limited_key_gets_429(store: Store, project: Project) -> None:
    key, secret = auth.issue_token(store, project.id, "crashlog", rate_limit=1)
    assert secret
    body = fixture("java_log4j.json")
    statuses = []
    for _ in range(2):
        headers = signed_headers(key, secret, "POST", "/events", body=body)
        statuses.append(invoke("crashlog_events", build_event("POST", "/events", headers=headers, body=body)))
    assert [r["statusCode"] for r in statuses] == [200, 429]
    assert "error" in json_body(statuses[1])


def test_storage_failure_is_503(store: Store, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise StorageError("table is gone")  # what storage raises for any AWS failure

    monkeypatch.setattr(Store, "put_record", broken)  # the request path's one write (issue 16)
    response = post(project, fixture("java_log4j.json"))
    assert response["statusCode"] == 503
    assert "error" in json_body(response)


def test_secret_and_signature_are_never_logged(
    store: Store, project: Project, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    key, secret = project.credentials["crashlog"], project.credentials["crashlog_secret"]
    body = fixture("ruby_1.0.7.json")
    good = signed_headers(key, secret, "POST", "/events", body=body)
    bad = dict(good, Date=http_date(time.time() - 60))
    logger = load_function("crashlog_events").logger
    level = logger.log_level
    logger.setLevel("DEBUG")  # the most verbose the function can log must still hold no secret
    try:
        for headers in (good, bad):
            invoke("crashlog_events", build_event("POST", "/events", headers=headers, body=body))
    finally:
        logger.setLevel(level)
    output = capsys.readouterr()
    logged = output.out + output.err + "\n".join(str(r.__dict__) for r in caplog.records)
    assert "event stored" in logged  # the log is captured at all
    signature = good["Authorization"].rsplit(":", 1)[1]
    assert secret not in logged and signature not in logged and key not in logged


def test_sample_events_replay_with_the_window_disabled(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """events/crashlog_*.json are signed with the demo credentials at generation time."""
    from lodge_devtools.demo import DEMO_CREDENTIALS, DEMO_PROJECT_ID, DEMO_PROJECT_NAME
    from tests.helpers import ROOT

    auth.create_project(store, DEMO_PROJECT_NAME, DEMO_PROJECT_ID, fixed=DEMO_CREDENTIALS)
    monkeypatch.setenv("CRASHLOG_DATE_WINDOW_SECONDS", "0")
    events = {
        name: json.loads((ROOT / "events" / f"{name}.json").read_text())
        for name in ("crashlog_events", "crashlog_announce")
    }
    assert invoke("crashlog_events", events["crashlog_events"])["statusCode"] == 200
    assert invoke("crashlog_announce", events["crashlog_announce"])["statusCode"] == 201
    tampered = json.loads(json.dumps(events["crashlog_events"]))
    tampered["headers"]["content-type"] = "text/plain"
    assert invoke("crashlog_events", tampered)["statusCode"] == 401
