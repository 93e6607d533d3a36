"""functions/appsignal_query: GET/PUT/DELETE /api/{app}/markers/{id}.json."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lodge.storage import Store
from lodge_devtools.apigw import build_event
from tests.conftest import Project
from tests.helpers import invoke, json_body


def call(project: Project, method: str, path: str, body: Any = None, token: str | None = None) -> dict[str, Any]:
    token = project.credentials["personal"] if token is None else token
    event = build_event(
        method,
        f"/api/{project.id}/{path}",
        raw_query=f"token={token}",
        headers={"content-type": "application/json"},
        body=json.dumps(body) if body is not None else "",
    )
    return invoke("appsignal_query", event)


def create(project: Project) -> str:
    resp = call(
        project, "POST", "markers.json", {"marker": {"kind": "deploy", "revision": "abc1234def", "user": "ann"}}
    )
    assert resp["statusCode"] == 200, resp["body"]
    marker_id: str = json_body(resp)["id"]
    return marker_id


def test_get_put_delete(store: Store, project: Project) -> None:
    marker_id = create(project)
    got = json_body(call(project, "GET", f"markers/{marker_id}.json"))
    assert got["id"] == marker_id and got["revision"] == "abc1234def" and got["user"] == "ann"
    put = call(project, "PUT", f"markers/{marker_id}.json", {"marker": {"revision": "fff0000", "user": "bob"}})
    assert put["statusCode"] == 200, put["body"]
    assert (
        json_body(put)["revision"] == "fff0000"
        and json_body(put)["user"] == "bob"
        and json_body(put)["kind"] == "deploy"
    )
    assert json_body(call(project, "GET", f"markers/{marker_id}.json"))["short_revision"] == "fff0000"
    deleted = call(project, "DELETE", f"markers/{marker_id}.json")
    assert deleted["statusCode"] == 200 and json_body(deleted)["id"] == marker_id
    assert call(project, "GET", f"markers/{marker_id}.json")["statusCode"] == 404
    assert call(project, "DELETE", f"markers/{marker_id}.json")["statusCode"] == 404
    assert json_body(call(project, "GET", "markers.json"))["count"] == 0


@pytest.mark.parametrize(
    ("method", "file", "body", "token_kind", "status"),
    [
        ("GET", "{id}.json", None, "rollbar_write", 401),  # a write token cannot read
        ("PUT", "{id}.json", {"marker": {"user": "x"}}, "rollbar_read", 401),
        ("DELETE", "{id}.json", None, "rollbar_read", 401),
        ("GET", "123.json", None, "personal", 404),
        ("GET", "abc.json", None, "personal", 404),
        ("PUT", "{id}.json", {"marker": {}}, "personal", 400),
        ("PUT", "{id}.json", {"marker": {"kind": "custom"}}, "personal", 400),
        ("PUT", "{id}.json", {"nope": 1}, "personal", 400),
        ("PUT", "{id}.json", {"marker": {"user": ["x"]}}, "personal", 400),
        ("PATCH", "{id}.json", None, "personal", 405),
    ],
)
def test_errors(
    store: Store, project: Project, method: str, file: str, body: Any, token_kind: str, status: int
) -> None:
    marker_id = create(project)
    resp = call(project, method, "markers/" + file.format(id=marker_id), body, project.credentials[token_kind])
    assert resp["statusCode"] == status, resp["body"]
    assert "error" in json_body(resp) or "message" in json_body(resp)


def test_other_projects_marker_is_not_found(store: Store, project: Project, other_project: Project) -> None:
    marker_id = create(project)
    for method in ("GET", "PUT", "DELETE"):
        body = {"marker": {"user": "x"}} if method == "PUT" else None
        resp = call(other_project, method, f"markers/{marker_id}.json", body)
        assert resp["statusCode"] == 404, (method, resp["body"])
    assert call(project, "GET", f"markers/{marker_id}.json")["statusCode"] == 200
