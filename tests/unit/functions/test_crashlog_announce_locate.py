"""POST /announce and GET /locate/{location_id} handlers, called like Lambda would."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from lodge.occurrence import occurrence_id_for
from lodge.protocols.crashlog import announce as crashlog
from lodge.storage import Store
from lodge_devtools.apigw import build_event
from tests.conftest import Project
from tests.fixtures.crashlog.signer import fixture, signed_headers
from tests.helpers import invoke, json_body

HUGE_TIMESTAMPS = [10**400, -(10**400), "Mon, 01 Jan 99999999999999999999 00:00:00 GMT"]


def signed(project: Project, method: str, path: str, body: bytes = b"", **sign: Any) -> dict[str, str]:
    key, secret = project.credentials["crashlog"], project.credentials["crashlog_secret"]
    return signed_headers(key, secret, method, path, body=body, **sign)


def announce(project: Project, body: bytes) -> dict[str, Any]:
    headers = signed(project, "POST", "/announce", body)
    return invoke("crashlog_announce", build_event("POST", "/announce", headers=headers, body=body))


def locate(location_id: str, *, query: str = "", headers: dict[str, str] | None = None) -> dict[str, Any]:
    event = build_event(
        "GET",
        f"/locate/{location_id}",
        raw_query=query,
        headers=headers or {},
        route_key="GET /locate/{location_id}",
        path_parameters={"location_id": location_id},
    )
    return invoke("crashlog_locate", event)


def report(project: Project) -> str:
    body = fixture("ruby_1.0.7.json")
    headers = signed(project, "POST", "/events", body)
    response = invoke("crashlog_events", build_event("POST", "/events", headers=headers, body=body))
    assert response["statusCode"] == 200
    location_id: str = json_body(response)["location_id"]
    return location_id


# ---- announce ---------------------------------------------------------------------------------


def test_announce_answers_201_with_the_project_name_and_leaves_a_marker(store: Store, project: Project) -> None:
    response = announce(project, fixture("announce_ruby.json"))
    assert response["statusCode"] == 201
    assert json_body(response) == {"application_name": "Test project"}
    (marker,) = store.list_markers(project.id)
    assert marker["kind"] == "announce" and marker["source"] == "crashlog"
    assert marker["hostname"] == "app01.example.com" and marker["stage"] == "production"
    assert marker["created"] == 1349339476
    assert marker["notifier"]["version"] == "1.0.7"


def test_announce_staging_service_id(store: Store, project: Project) -> None:
    body = fixture("announce_ruby.json")
    headers = signed(project, "POST", "/announce", body, service="Staging")
    response = invoke("crashlog_announce", build_event("POST", "/announce", headers=headers, body=body))
    assert response["statusCode"] == 201


def test_announce_rejects_bad_signatures_and_bodies(store: Store, project: Project) -> None:
    body = fixture("announce_ruby.json")
    headers = signed(project, "POST", "/events", body)  # signed for another path
    response = invoke("crashlog_announce", build_event("POST", "/announce", headers=headers, body=body))
    assert response["statusCode"] == 401 and json_body(response) == {"error": "HMAC authentication failed"}
    response = announce(project, b"nope")
    assert response["statusCode"] == 400 and "error" in json_body(response)
    assert store.list_markers(project.id) == []


@pytest.mark.parametrize("timestamp", HUGE_TIMESTAMPS, ids=["10**400", "-10**400", "year 10**20"])
def test_announce_with_a_timestamp_beyond_float_is_stored_at_receipt(
    store: Store, project: Project, timestamp: Any
) -> None:
    body = json.dumps({"payload": {"timestamp": timestamp, "hostname": "h"}}).encode()
    before = time.time()
    response = announce(project, body)
    assert response["statusCode"] == 201
    (marker,) = store.list_markers(project.id)
    assert before - 1 <= marker["created"] == marker["received"] <= time.time() + 1


def test_announce_stores_only_plain_clipped_notifier_strings(store: Store, project: Project) -> None:
    """A verbatim notifier map with 1e300 or nesting past 32 levels fails every PutItem on AWS (503
    forever); moto checks neither, so the stored types are asserted directly."""
    deep: Any = "x"
    for _ in range(60):
        deep = {"v": deep}
    notifier = {"name": 1e300, "version": deep, "language": "Ruby" * 1000, "extra": {"n": 1e300}}
    body = json.dumps({"payload": {"hostname": "h", "notifier": notifier}}).encode()
    assert announce(project, body)["statusCode"] == 201
    (marker,) = store.list_markers(project.id)
    stored = marker["notifier"]
    assert set(stored) == {"name", "language"}
    assert all(type(value) is str for value in stored.values())
    assert stored["name"] == "1e+300" and stored["language"] == ("Ruby" * 1000)[: crashlog.MAX_MARKER_TEXT]


# ---- locate -----------------------------------------------------------------------------------


def test_locate_404_until_stored_then_301(store: Store, project: Project) -> None:
    token = project.credentials["personal"]
    unknown = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
    response = locate(unknown, query=f"token={token}")
    assert response["statusCode"] == 404 and "error" in json_body(response)

    location_id = report(project)
    response = locate(location_id, query=f"token={token}")
    assert response["statusCode"] == 301
    target = response["headers"]["Location"]
    occurrence_id = occurrence_id_for("crashlog", location_id)
    # Issue 15: no credential in a URL Lodge writes; the client re-sends its own token to the target.
    assert target == f"/api/{project.id}/samples/{occurrence_id}.json"
    assert token not in json.dumps(response)
    assert store.get_occurrence(project.id, occurrence_id) is not None
    followed = invoke("appsignal_query", build_event("GET", target, raw_query=f"token={token}"))
    assert followed["statusCode"] == 200


def test_locate_with_a_signed_request(store: Store, project: Project) -> None:
    location_id = report(project)
    path = f"/locate/{location_id}"
    response = locate(location_id, headers=signed(project, "GET", path, content_type=None))
    assert response["statusCode"] == 301
    assert (
        response["headers"]["Location"]
        == f"/api/{project.id}/samples/{occurrence_id_for('crashlog', location_id)}.json"
    )
    bad = signed(project, "GET", "/locate/other", content_type=None)
    assert locate(location_id, headers=bad)["statusCode"] == 401


def test_locate_needs_a_read_credential(store: Store, project: Project) -> None:
    location_id = report(project)
    assert locate(location_id)["statusCode"] == 401
    for kind in ("crashlog", "appsignal_push", "rollbar_post_server_item"):
        response = locate(location_id, query=f"token={project.credentials[kind]}")
        assert response["statusCode"] == 401, kind
        assert json_body(response) == {"error": "HMAC authentication failed"}
    assert locate(location_id, query="token=nonsense")["statusCode"] == 401
    assert locate(location_id, query=f"token={project.credentials['rollbar_read']}")["statusCode"] == 301


def test_locate_is_per_project(store: Store, project: Project, other_project: Project) -> None:
    location_id = report(project)
    response = locate(location_id, query=f"token={other_project.credentials['personal']}")
    assert response["statusCode"] == 404


@pytest.mark.parametrize("location_id", ["not-a-uuid", "3F2504E0-4F89-41D3-9A0C-0305E82C3301x", "%00"])
def test_locate_malformed_ids_are_404(store: Store, project: Project, location_id: str) -> None:
    response = locate(location_id, query=f"token={project.credentials['personal']}")
    assert response["statusCode"] == 404


def test_locate_accepts_uppercase_ids(store: Store, project: Project) -> None:
    location_id = report(project)
    response = locate(location_id.upper(), query=f"token={project.credentials['personal']}")
    assert response["statusCode"] == 301


@pytest.mark.usefixtures("steady_rate_window")
def test_announce_respects_a_rate_limit(store: Store, project: Project) -> None:
    from lodge import auth

    key, secret = auth.issue_token(store, project.id, "crashlog", rate_limit=1)
    assert secret
    body = fixture("announce_ruby.json")
    statuses = []
    for _ in range(2):
        headers = signed_headers(key, secret, "POST", "/announce", body=body)
        statuses.append(invoke("crashlog_announce", build_event("POST", "/announce", headers=headers, body=body)))
    assert [r["statusCode"] for r in statuses] == [201, 429]
    assert "Retry-After" in statuses[1]["headers"]
