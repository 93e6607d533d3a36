"""functions/rollbar_read: items and instances read back after ingesting through functions/rollbar_item."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lodge.storage import Store
from lodge_devtools.apigw import build_event
from tests.conftest import Project
from tests.helpers import invoke, json_body

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "rollbar"


def fixture(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    payload.pop("access_token", None)
    return payload


def ingest(project: Project, payload: dict[str, Any], credential: str = "rollbar_post_server_item") -> str:
    event = build_event(
        "POST",
        "/api/1/item/",
        headers={"content-type": "application/json", "x-rollbar-access-token": project.credentials[credential]},
        body=json.dumps(payload),
    )
    resp = invoke("rollbar_item", event)
    assert resp["statusCode"] == 200, resp["body"]
    uuid: str = json_body(resp)["result"]["uuid"]
    return uuid


def get(
    project: Project,
    path: str,
    query: str = "",
    *,
    token: str | None = None,
    header: bool = True,
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    token = project.credentials["rollbar_read"] if token is None else token
    headers = {"x-rollbar-access-token": token} if header and token else {}
    if not header and token:
        query = f"{query}&access_token={token}" if query else f"access_token={token}"
    event = build_event("GET", path, raw_query=query, headers=headers, path_parameters=path_parameters)
    return invoke("rollbar_read", event)


@pytest.fixture
def loaded(store: Store, project: Project) -> dict[str, str]:
    uuids = {
        name: ingest(project, fixture(name))
        for name in ("e1_pyrollbar_exc_info", "e1b_pyrollbar_trace_chain", "e2_pyrollbar_message", "e6_node_error")
    }
    uuids["e7_browser_error"] = ingest(project, fixture("e7_browser_error"), "rollbar_post_client_item")
    return uuids


def test_item_by_uuid(loaded: dict[str, str], project: Project) -> None:
    resp = get(project, "/api/1/item/", f"uuid={loaded['e1b_pyrollbar_trace_chain']}")
    assert resp["statusCode"] == 200
    body = json_body(resp)
    assert body["err"] == 0
    item = body["result"]
    assert item["title"] == "Custom title" and item["hash"] == "custom-fp"
    assert item["project_id"] == project.id and item["environment"] == "staging"
    assert item["level"] == "error" and item["status"] == "active" and item["total_occurrences"] == 1
    assert item["framework"] == "unknown" and item["platform"] == "unknown"
    assert item["first_occurrence_timestamp"] == 1795325283
    assert item["first_occurrence_id"] == item["last_occurrence_id"]


def test_item_by_id_and_instance(loaded: dict[str, str], project: Project) -> None:
    item = json_body(get(project, "/api/1/item/", f"uuid={loaded['e1_pyrollbar_exc_info']}"))["result"]
    by_id = get(project, f"/api/1/item/{item['id']}", path_parameters={"item_id": item["id"]})
    assert by_id["statusCode"] == 200 and json_body(by_id)["result"] == item
    inst = get(project, f"/api/1/instance/{item['last_occurrence_id']}")
    assert inst["statusCode"] == 200
    result = json_body(inst)["result"]
    assert set(result) == {"id", "project_id", "item_id", "timestamp", "version", "data"}
    assert result["item_id"] == item["id"] and result["project_id"] == project.id
    sent = fixture("e1_pyrollbar_exc_info")["data"]
    # What was sent, as server-side scrubbing (issue 15) stores it: pyrollbar's own "*****" for the
    # `password` local becomes "[Filtered]"; nothing else changes.
    sent["body"]["trace"]["frames"][1]["locals"]["payload"]["password"] = "[Filtered]"
    assert result["data"] == sent


def test_instance_of_the_browser_item_keeps_telemetry(loaded: dict[str, str], project: Project) -> None:
    item = json_body(get(project, "/api/1/item/", f"uuid={loaded['e7_browser_error']}"))["result"]
    assert item["platform"] == "browser" and item["framework"] == "browser-js"
    data = json_body(get(project, f"/api/1/instance/{item['first_occurrence_id']}"))["result"]["data"]
    assert data["body"]["telemetry"][0]["level"] == "log"
    assert data["body"]["trace"]["exception"]["description"] == "Something failed"
    assert data["request"]["user_ip"] == "127.0.0.1"


def test_offloaded_instance_is_read_from_s3(store: Store, project: Project) -> None:
    payload = fixture("e2_pyrollbar_message")
    payload["data"]["custom"] = {"blob": "".join(f"{i:x}" for i in range(40_000))}  # not very compressible
    uuid = ingest(project, payload)
    item = json_body(get(project, "/api/1/item/", f"uuid={uuid}"))["result"]
    listing = store.s3.list_objects_v2(Bucket=store.config.bucket_name, Prefix=f"{project.id}/")
    keys = [o["Key"] for o in listing.get("Contents", [])]
    assert len(keys) == 1 and keys[0].startswith(f"{project.id}/{item['first_occurrence_id']}")
    data = json_body(get(project, f"/api/1/instance/{item['first_occurrence_id']}"))["result"]["data"]
    assert data["custom"] == payload["data"]["custom"]


def test_items_list_newest_first_with_filters(loaded: dict[str, str], project: Project) -> None:
    resp = get(project, "/api/1/items/")
    assert resp["statusCode"] == 200
    result = json_body(resp)["result"]
    assert result["page"] == 1 and result["total_count"] == 5 and len(result["items"]) == 5
    stamps = [i["last_occurrence_timestamp"] for i in result["items"]]
    assert stamps == sorted(stamps, reverse=True)
    warnings = json_body(get(project, "/api/1/items/", "level=warning"))["result"]
    assert [i["title"] for i in warnings["items"]] == ["Hello from pyrollbar"]
    both = json_body(get(project, "/api/1/items/", "environment=production&environment=nowhere"))["result"]
    assert [i["platform"] for i in both["items"]] == ["browser"]
    assert json_body(get(project, "/api/1/items/", "status=resolved"))["result"]["total_count"] == 0
    assert json_body(get(project, "/api/1/items/", "status=active&level=error"))["result"]["total_count"] == 4
    assert json_body(get(project, "/api/1/items/", "page=2"))["result"]["items"] == []


def test_items_list_pages_of_100(store: Store, project: Project) -> None:
    for i in range(101):
        ingest(
            project,
            {
                "data": {
                    "environment": "e",
                    "timestamp": 1_700_000_000 + i,
                    "fingerprint": f"fp{i}",
                    "body": {"message": {"body": f"m{i}"}},
                }
            },
        )
    first = json_body(get(project, "/api/1/items/"))["result"]
    second = json_body(get(project, "/api/1/items/", "page=2"))["result"]
    assert first["total_count"] == second["total_count"] == 101
    assert len(first["items"]) == 100 and [i["title"] for i in second["items"]] == ["m0"]
    assert first["items"][0]["title"] == "m100"


def test_query_string_token_works(loaded: dict[str, str], project: Project) -> None:
    resp = get(project, "/api/1/items/", header=False)
    assert resp["statusCode"] == 200


def test_ping() -> None:
    resp = invoke("rollbar_read", build_event("GET", "/api/1/status/ping"))
    assert resp["statusCode"] == 200 and resp["body"] == "pong"


ERRORS = [
    ("no token", "/api/1/items/", "", "", 403, "access token is missing; send it in the X-Rollbar-Access-Token header"),
    ("unknown token", "/api/1/items/", "", "feedfacefeedfacefeedface", 403, "access token not found: feed..."),
    (
        "write token",
        "/api/1/items/",
        "",
        "rollbar_write",
        403,
        "insufficient privileges: read scope is required but the access token only has write.",
    ),
    (
        "post token",
        "/api/1/items/",
        "",
        "rollbar_post_server_item",
        403,
        "insufficient privileges: read scope is required but the access token only has post_server_item.",
    ),
    ("missing uuid", "/api/1/item/", "", None, 400, "Invalid UUID format"),
    ("uuid too long", "/api/1/item/", "uuid=" + "a" * 37, None, 400, "Invalid UUID format"),
    (
        "unknown uuid",
        "/api/1/item/",
        "uuid=0a2bfe6e-2b7f-4d0f-9d6b-0c2b1d1f3e4a",
        None,
        404,
        "UUID did not match any occurrence",
    ),
    ("unknown item", "/api/1/item/0123456789abcdef0123", "", None, 404, "Item not found in this project."),
    ("malformed item id", "/api/1/item/..%2F..", "", None, 404, "Item not found in this project."),
    (
        "unknown instance",
        "/api/1/instance/0123456789abcdef01234567",
        "",
        None,
        404,
        "Instance not found in this project.",
    ),
    ("malformed instance", "/api/1/instance/x-y-z", "", None, 404, "Instance not found in this project."),
    ("bad page", "/api/1/items/", "page=0", None, 400, "page must be a positive integer"),
    ("bad level", "/api/1/items/", "level=loud", None, 422, "Invalid filter value: loud"),
    ("unknown path", "/api/1/nothing", "", None, 404, "not found"),
]


@pytest.mark.parametrize("name, path, query, token, status, message", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors(
    store: Store, project: Project, name: str, path: str, query: str, token: str | None, status: int, message: str
) -> None:
    if token in project.credentials:
        token = project.credentials[token]
    resp = get(project, path, query, token=token)
    assert resp["statusCode"] == status, resp["body"]
    assert json_body(resp) == {"err": 1, "message": message}


def test_another_projects_ids_are_404(loaded: dict[str, str], project: Project, other_project: Project) -> None:
    uuid = loaded["e1_pyrollbar_exc_info"]
    item = json_body(get(project, "/api/1/item/", f"uuid={uuid}"))["result"]
    assert get(other_project, "/api/1/item/", f"uuid={uuid}")["statusCode"] == 404
    assert get(other_project, f"/api/1/item/{item['id']}")["statusCode"] == 404
    assert get(other_project, f"/api/1/instance/{item['first_occurrence_id']}")["statusCode"] == 404
    assert json_body(get(other_project, "/api/1/items/"))["result"]["total_count"] == 0
