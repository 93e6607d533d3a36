"""functions/rollbar_item: the handler called as Lambda would, with moto underneath."""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from lodge import auth
from lodge.occurrence import occurrence_id_for
from lodge.storage import Store
from lodge_devtools.apigw import build_event
from tests.conftest import Project
from tests.helpers import invoke, json_body

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "rollbar"


def fixture(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return payload


def with_token(payload: dict[str, Any], token: str | None) -> dict[str, Any]:
    payload = dict(payload)
    if token is None:
        payload.pop("access_token", None)
    elif "access_token" in payload:
        payload["access_token"] = token
    return payload


def post(
    body: bytes | str | dict[str, Any],
    token: str | None = None,
    *,
    path: str = "/api/1/item/",
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    source_ip: str = "203.0.113.7",
) -> dict[str, Any]:
    raw = json.dumps(body) if isinstance(body, dict) else body
    all_headers = {"content-type": content_type, **(headers or {})}
    if token is not None:
        all_headers["x-rollbar-access-token"] = token
    event = build_event("POST", path, headers=all_headers, body=raw, route_key=f"POST {path}", source_ip=source_ip)
    return invoke("rollbar_item", event)


def stored(store: Store, project: Project, uuid: str) -> dict[str, Any]:
    detail = store.get_occurrence(project.id, occurrence_id_for("rollbar", uuid))
    assert detail is not None
    return detail


def test_pyrollbar_exc_info_is_stored_and_answered_like_rollbar(store: Store, project: Project) -> None:
    token = project.credentials["rollbar_post_server_item"]
    resp = post(with_token(fixture("e1_pyrollbar_exc_info"), token), token)
    assert resp["statusCode"] == 200
    assert json_body(resp) == {"err": 0, "result": {"id": None, "uuid": "fa3905ed-4259-4fde-8972-0403fead5455"}}
    assert resp["headers"]["Access-Control-Allow-Origin"] == "*"
    detail = stored(store, project, "fa3905ed-4259-4fde-8972-0403fead5455")
    assert detail["environment"] == "staging"
    assert detail["level"] == "error"
    assert detail["timestamp"] == 1795324863
    assert detail["code_version"] == "1.2.3"
    assert detail["exceptions"][0]["type"] == "ZeroDivisionError"
    frames = detail["exceptions"][0]["frames"]
    assert [f["method"] for f in frames] == ["<module>", "outer", "inner"]
    assert frames[2]["locals"] == {"x": 1} and frames[2]["argspec"] == ["x"]
    assert detail["server"]["host"] == "web-1" and detail["server"]["pid"] == 8387
    assert "access_token" not in json.dumps(detail)
    assert token not in json.dumps(detail)


def test_trace_chain_keeps_order_fingerprint_and_title(store: Store, project: Project) -> None:
    token = project.credentials["rollbar_post_server_item"]
    resp = post(with_token(fixture("e1b_pyrollbar_trace_chain"), token), token)
    assert resp["statusCode"] == 200
    detail = stored(store, project, "82394ecb-e82e-4d0c-bb1d-7f88eab5c92b")
    assert [e["type"] for e in detail["exceptions"]] == ["ValueError", "KeyError"]
    assert detail["fingerprint"] == "custom-fp"
    assert detail["title"] == "Custom title"
    assert detail["custom"] == {"k": "v"}
    group = store.get_group(project.id, detail["group_id"])
    assert group is not None
    assert group["title"] == "Custom title" and group["fp"] == "custom-fp"


def test_message_with_extra_keys(store: Store, project: Project) -> None:
    token = project.credentials["rollbar_post_server_item"]
    resp = post(with_token(fixture("e2_pyrollbar_message"), token), token)
    assert resp["statusCode"] == 200
    detail = stored(store, project, "a7a587d9-1eda-4701-b86d-a72d75a46e69")
    assert detail["kind"] == "message"
    assert detail["message"] == "Hello from pyrollbar"
    assert detail["level"] == "warning"
    assert detail["extra"]["_body"]["message"] == {"route": "home#index"}


def test_failsafe_without_uuid_gets_a_generated_32_hex_uuid(store: Store, project: Project) -> None:
    token = project.credentials["rollbar_post_server_item"]
    resp = post(with_token(fixture("e4_pyrollbar_failsafe"), token), None)
    assert resp["statusCode"] == 200
    uuid = json_body(resp)["result"]["uuid"]
    assert re.fullmatch(r"[0-9a-f]{32}", uuid)
    detail = stored(store, project, uuid)
    assert detail["client_id"] == uuid
    assert detail["extra"]["failsafe"] is True and detail["extra"]["internal"] is True
    assert detail["level"] == "error" and detail["kind"] == "message"


def test_node_payloads(store: Store, project: Project) -> None:
    token = project.credentials["rollbar_post_server_item"]
    for name in ("e5_node_message", "e6_node_error"):
        assert post(fixture(name), token)["statusCode"] == 200
    message = stored(store, project, "2fcecc26-98be-4b68-8dd1-28e08c796d74")
    assert message["level"] == "info" and message["message"] == "Hello from node"
    assert message["context"] == ""
    error = stored(store, project, "32a380d2-e6a9-43d2-bcff-ed68da432499")
    assert error["exceptions"][0]["type"] == "TypeError"
    assert error["exceptions"][0]["frames"][0]["context_pre"][0] == "});"
    assert error["extra"]["custom_key"] == "v"
    assert error["custom"] == {"custom_key": "v"}


def test_browser_payload_needs_client_platform_and_replaces_remote_ip(store: Store, project: Project) -> None:
    token = project.credentials["rollbar_post_client_item"]
    resp = post(fixture("e7_browser_error"), token, source_ip="198.51.100.23")
    assert resp["statusCode"] == 200, resp["body"]
    detail = stored(store, project, "ca124115-bc95-45ad-e444-0a25588b5fe6")
    assert detail["request"]["user_ip"] == "198.51.100.23"
    assert detail["timestamp"] == 1795325122  # client.timestamp: the browser build sends no data.timestamp
    assert detail["platform"] == "browser"
    assert detail["code_version"] == "abc123"
    assert detail["exceptions"][0]["description"] == "Something failed"
    telemetry = detail["extra"]["_body"]["telemetry"]
    assert telemetry[0]["level"] == "log"


def test_form_encoded_payload_and_missing_trailing_slash(store: Store, project: Project) -> None:
    token = project.credentials["rollbar_post_server_item"]
    payload = with_token(fixture("e2_pyrollbar_message"), token)
    payload["data"]["uuid"] = "form-encoded-1"
    form = urllib.parse.urlencode({"payload": json.dumps(payload)})
    resp = post(form, None, path="/api/1/item", content_type="application/x-www-form-urlencoded")
    assert resp["statusCode"] == 200, resp["body"]
    assert stored(store, project, "form-encoded-1")["message"] == "Hello from pyrollbar"


def test_raw_json_labelled_as_form_is_sniffed(store: Store, project: Project) -> None:
    token = project.credentials["rollbar_post_server_item"]
    payload = with_token(fixture("e1_pyrollbar_exc_info"), token)
    resp = post(json.dumps(payload), None, content_type="application/x-www-form-urlencoded")
    assert resp["statusCode"] == 200


def test_duplicate_uuid_is_stored_once_with_the_same_answer(store: Store, project: Project) -> None:
    token = project.credentials["rollbar_post_server_item"]
    payload = with_token(fixture("e1_pyrollbar_exc_info"), token)
    first, second = post(payload, token), post(payload, token)
    assert first["statusCode"] == second["statusCode"] == 200
    assert json_body(first) == json_body(second)
    detail = stored(store, project, "fa3905ed-4259-4fde-8972-0403fead5455")
    group = store.get_group(project.id, detail["group_id"])
    assert group is not None and group["cnt"] == 1


def test_concurrent_duplicates_store_exactly_one(store: Store, project: Project) -> None:
    token = project.credentials["rollbar_post_server_item"]
    payload = with_token(fixture("e2_pyrollbar_message"), token)
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def send() -> None:
        resp = post(payload, token)
        with lock:
            results.append(resp)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r["statusCode"] for r in results] == [200] * 8
    assert {json_body(r)["result"]["uuid"] for r in results} == {"a7a587d9-1eda-4701-b86d-a72d75a46e69"}
    records = list(store.iter_records(project.id))
    assert len(records) == 1
    group = store.get_group(project.id, records[0].index[0]["g"])
    assert group is not None and group["cnt"] == 1


def test_large_payload_up_to_512_kib_is_accepted(store: Store, project: Project) -> None:
    token = project.credentials["rollbar_post_server_item"]
    payload = with_token(fixture("e2_pyrollbar_message"), token)
    payload["data"]["custom"] = {"blob": "x" * (512 * 1024 - 1024)}
    body = json.dumps(payload)
    assert 500 * 1024 < len(body) <= 512 * 1024
    resp = post(body, token)
    assert resp["statusCode"] == 200
    detail = stored(store, project, payload["data"]["uuid"])
    assert len(detail["custom"]["blob"]) == 512 * 1024 - 1024


@pytest.mark.usefixtures("steady_rate_window")
def test_rate_limited_token(store: Store, project: Project) -> None:
    token, _ = auth.issue_token(store, project.id, "rollbar_post_server_item", rate_limit=2)
    payload = fixture("e5_node_message")
    answers = []
    for i in range(3):
        payload["data"]["uuid"] = f"rl-{i}"
        answers.append(post(payload, token))
    assert [a["statusCode"] for a in answers] == [200, 200, 429]
    assert answers[0]["headers"]["X-Rate-Limit-Limit"] == "2"
    assert answers[0]["headers"]["X-Rate-Limit-Remaining"] == "1"
    limited = answers[2]
    assert limited["headers"]["X-Rate-Limit-Remaining"] == "0"
    assert 0 <= int(limited["headers"]["X-Rate-Limit-Remaining-Seconds"]) <= 60
    assert int(limited["headers"]["X-Rate-Limit-Reset"]) % 60 == 0
    assert json_body(limited)["err"] == 1
    assert store.get_occurrence(project.id, occurrence_id_for("rollbar", "rl-2")) is None


def test_unlimited_token_sends_no_rate_limit_headers(store: Store, project: Project) -> None:
    resp = post(fixture("e5_node_message"), project.credentials["rollbar_post_server_item"])
    assert resp["statusCode"] == 200
    assert not any(h.startswith("X-Rate-Limit") for h in resp["headers"])


@pytest.mark.parametrize("level, expected", [(None, "error"), ("log", "debug"), ("WARNING", "warning")])
def test_level_defaults_and_aliases(store: Store, project: Project, level: str | None, expected: str) -> None:
    payload = fixture("e6_node_error")
    if level is None:
        del payload["data"]["level"]
    else:
        payload["data"]["level"] = level
    payload["data"]["uuid"] = f"level-{level}"
    assert post(payload, project.credentials["rollbar_post_server_item"])["statusCode"] == 200
    assert stored(store, project, f"level-{level}")["level"] == expected
