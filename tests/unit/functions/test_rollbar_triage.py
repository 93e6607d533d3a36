"""functions/rollbar_read: triage (PATCH item), regressions and the rest of the Rollbar read API."""

from __future__ import annotations

import json
import uuid as uuidlib
from typing import Any

import pytest

from lodge.storage import Store
from lodge_devtools.apigw import build_event
from tests.conftest import Project
from tests.helpers import invoke, json_body
from tests.unit.functions.test_rollbar_read import fixture, get, ingest


def report(project: Project, code_version: str | None = None) -> str:
    payload = fixture("e1_pyrollbar_exc_info")
    payload["data"]["uuid"] = str(uuidlib.uuid4())
    if code_version is None:
        payload["data"].pop("code_version", None)
    else:
        payload["data"]["code_version"] = code_version
    return ingest(project, payload)


def patch(project: Project, item_id: str, body: Any, token: str | None = None) -> dict[str, Any]:
    token = project.credentials["rollbar_write"] if token is None else token
    event = build_event(
        "PATCH",
        f"/api/1/item/{item_id}",
        headers={"content-type": "application/json", "x-rollbar-access-token": token},
        body=body if isinstance(body, str) else json.dumps(body),
        path_parameters={"item_id": item_id},
    )
    return invoke("rollbar_read", event)


def item_of(project: Project, uuid: str) -> dict[str, Any]:
    result: dict[str, Any] = json_body(get(project, "/api/1/item/", f"uuid={uuid}"))["result"]
    return result


def test_resolve_regress_version_and_mute_loop(store: Store, project: Project) -> None:
    item = item_of(project, report(project))
    item_id = item["id"]
    resolved = patch(project, item_id, {"status": "resolved"})
    assert resolved["statusCode"] == 200, resolved["body"]
    assert json_body(resolved)["result"]["status"] == "resolved"
    assert json_body(resolved)["result"]["last_modified_by"] == "rollbar_write"

    again = item_of(project, report(project, "1.0.0"))
    assert again["status"] == "active" and again["regressed"] is True
    assert again["regression"]["code_version"] == "1.0.0"
    assert [h["status"] for h in again["status_history"]] == ["resolved", "active"]
    assert again["status_history"][-1]["by"] == "lodge"

    patch(project, item_id, {"status": "resolved", "resolved_in_version": "2.0.0"})
    old = item_of(project, report(project, "1.9.0"))
    assert old["status"] == "resolved" and old["resolved_in_version"] == "2.0.0" and not old["regressed"]
    new = item_of(project, report(project, "2.0.1"))
    assert new["status"] == "active" and new["regressed"] and new["regression"]["code_version"] == "2.0.1"

    muted = json_body(patch(project, item_id, {"status": "muted", "mute_occurrences": 3}))["result"]
    assert muted["status"] == "muted"
    for _ in range(3):
        assert item_of(project, report(project))["status"] == "muted"
    fourth = item_of(project, report(project))
    assert fourth["status"] == "active" and fourth["status_history"][-1]["reason"] == "mute count reached"
    assert fourth["total_occurrences"] == 8


def test_snooze_for_seconds_mutes_until_a_time(store: Store, project: Project) -> None:
    item_id = item_of(project, report(project))["id"]
    result = json_body(patch(project, item_id, {"snooze_enabled": True, "snooze_expiration_in_seconds": 3600}))[
        "result"
    ]
    assert result["status"] == "muted" and result["muted_until"] > result["first_occurrence_timestamp"]
    assert item_of(project, report(project))["status"] == "muted"


def test_level_and_title(store: Store, project: Project) -> None:
    item_id = item_of(project, report(project))["id"]
    result = json_body(patch(project, item_id, {"level": "critical", "title": "Renamed"}))["result"]
    assert result["level"] == "critical" and result["title"] == "Renamed" and result["status"] == "active"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"status": "fixed"}, 422, "Invalid status"),
        ({"level": "fatal"}, 422, "Invalid level"),
        ({"title": ""}, 422, "'title'"),
        ({"assigned_user_id": 1}, 422, "Unsupported field: assigned_user_id"),
        ({"status": "active", "resolved_in_version": "1"}, 422, "goes with status 'resolved'"),
        ({"resolved_in_version": "x" * 41}, 422, "'resolved_in_version'"),
        ({"mute_occurrences": 0}, 422, "'mute_occurrences'"),
        ({"snooze_enabled": True}, 422, "snooze_expiration_in_seconds"),
        ({}, 422, "nothing to change"),
        ("[1]", 400, "JSON object"),
        ("{", 400, "not valid JSON"),
    ],
)
def test_patch_bad_bodies(store: Store, project: Project, body: Any, status: int, message: str) -> None:
    item_id = item_of(project, report(project))["id"]
    resp = patch(project, item_id, body)
    assert resp["statusCode"] == status, resp["body"]
    assert json_body(resp)["err"] == 1 and message in json_body(resp)["message"]


def test_patch_ids_and_scopes(store: Store, project: Project, other_project: Project) -> None:
    item_id = item_of(project, report(project))["id"]
    cases = [
        (item_id, project.credentials["rollbar_read"], 403, "write scope is required"),
        (item_id, project.credentials["rollbar_post_server_item"], 403, "write scope is required"),
        (item_id, "nope" * 8, 403, ""),
        (item_id, other_project.credentials["rollbar_write"], 404, "Item not found in this project."),
        ("not-an-id", project.credentials["rollbar_write"], 404, "Item not found in this project."),
        ("ab" * 12, project.credentials["rollbar_write"], 404, "Item not found in this project."),
        (item_id, project.credentials["personal"], 200, ""),
    ]
    for target, token, status, message in cases:
        resp = patch(project, target, {"status": "resolved"}, token)
        assert resp["statusCode"] == status, (target, token, resp["body"])
        assert message in json_body(resp).get("message", "")


def test_items_filters(store: Store, project: Project) -> None:
    item_id = item_of(project, report(project))["id"]
    ingest(project, fixture("e2_pyrollbar_message"))
    assert [i["id"] for i in json_body(get(project, "/api/1/items/", "q=zerodivision"))["result"]["items"]] == [item_id]
    assert len(json_body(get(project, "/api/1/items/", "query=hello"))["result"]["items"]) == 1
    patch(project, item_id, {"status": "resolved"})
    resolved = json_body(get(project, "/api/1/items/", "status=resolved"))["result"]["items"]
    assert [i["id"] for i in resolved] == [item_id]
    for query, message in [
        ("person=bob", "Unsupported filter: person"),
        ("assigned_user=1", "Unsupported filter: assigned_user"),
        ("status=fixed", "Invalid filter value: fixed"),
        ("level=loud", "Invalid filter value: loud"),
    ]:
        resp = get(project, "/api/1/items/", query)
        assert resp["statusCode"] == 422 and json_body(resp)["message"] == message


def test_counters_and_item_by_counter(store: Store, project: Project, other_project: Project) -> None:
    first = item_of(project, report(project))
    ingest(project, fixture("e2_pyrollbar_message"))
    items = json_body(get(project, "/api/1/items/"))["result"]["items"]
    assert sorted(i["counter"] for i in items) == [1, 2]
    assert item_of(project, report(project))["counter"] == first["counter"] == 1  # stable once given
    resp = get(project, "/api/1/item_by_counter/1")
    assert resp["statusCode"] == 301
    assert resp["headers"]["Location"] == f"/api/1/item/{first['id']}"
    assert json_body(resp)["result"]["itemId"] == first["id"]
    for path, token, status in [
        ("/api/1/item_by_counter/3", None, 404),
        ("/api/1/item_by_counter/0", None, 404),
        ("/api/1/item_by_counter/x", None, 404),
        ("/api/1/item_by_counter/1", other_project.credentials["rollbar_read"], 404),
        ("/api/1/item_by_counter/1", project.credentials["rollbar_write"], 403),
    ]:
        assert get(project, path, token=token)["statusCode"] == status, path


def test_instances_of_item(store: Store, project: Project, other_project: Project) -> None:
    uuids = [report(project, str(n)) for n in range(3)]
    item_id = item_of(project, uuids[0])["id"]
    resp = get(project, f"/api/1/item/{item_id}/instances/")
    assert resp["statusCode"] == 200, resp["body"]
    instances = json_body(resp)["result"]["instances"]
    assert [i["data"]["uuid"] for i in instances] == list(reversed(uuids))
    assert all(i["item_id"] == item_id for i in instances)
    assert json_body(get(project, f"/api/1/item/{item_id}/instances/", "page=2"))["result"]["instances"] == []
    for path, token, status in [
        (f"/api/1/item/{'ab' * 12}/instances/", None, 404),
        ("/api/1/item/zz/instances/", None, 404),
        (f"/api/1/item/{item_id}/instances/", other_project.credentials["rollbar_read"], 404),
        (f"/api/1/item/{item_id}/instances/", project.credentials["rollbar_write"], 403),
    ]:
        assert get(project, path, "", token=token)["statusCode"] == status, path
    assert get(project, f"/api/1/item/{item_id}/instances/", "page=x")["statusCode"] == 400


def test_deploys_list_and_get(store: Store, project: Project, other_project: Project) -> None:
    ids = []
    for n in range(3):
        event = build_event(
            "POST",
            "/api/1/deploy/",
            headers={
                "content-type": "application/json",
                "x-rollbar-access-token": project.credentials["rollbar_post_server_item"],
            },
            body=json.dumps({"environment": "production", "revision": f"rev{n}"}),
        )
        resp = invoke("rollbar_deploy", event)
        assert resp["statusCode"] == 200, resp["body"]
        ids.append(json_body(resp)["data"]["deploy_id"])
    listed = json_body(get(project, "/api/1/deploys/"))["result"]
    assert listed["page"] == 1 and [d["revision"] for d in listed["deploys"]] == ["rev2", "rev1", "rev0"]
    assert json_body(get(project, "/api/1/deploys/", "page=2"))["result"]["deploys"] == []
    one = get(project, f"/api/1/deploy/{ids[0]}", path_parameters={"deploy_id": str(ids[0])})
    assert one["statusCode"] == 200 and json_body(one)["result"]["revision"] == "rev0"
    for path, token, status in [
        (f"/api/1/deploy/{ids[0]}", other_project.credentials["rollbar_read"], 404),
        ("/api/1/deploy/12345", None, 404),
        ("/api/1/deploy/abc", None, 404),
        ("/api/1/deploys/", project.credentials["rollbar_post_server_item"], 403),
    ]:
        resp = get(project, path, token=token)
        assert resp["statusCode"] == status, (path, resp["body"])
    assert get(project, "/api/1/deploys/", "page=0")["statusCode"] == 400
