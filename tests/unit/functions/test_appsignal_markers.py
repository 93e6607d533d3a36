"""functions/appsignal_markers: deploy markers and key checks of every gem generation."""

from __future__ import annotations

import json
import urllib.parse
import zlib
from typing import Any

import pytest

from lodge.storage import Store
from lodge_devtools.apigw import build_event
from tests.conftest import Project
from tests.helpers import invoke, json_body
from tests.unit.functions.test_appsignal_push import GEM_QUERY, fixture_text


def post(path: str, query: str, body: bytes, headers: dict[str, str] | None = None) -> dict[str, Any]:
    return invoke("appsignal_markers", build_event("POST", path, raw_query=query, headers=headers or {}, body=body))


ZLIB = {"content-type": "application/json; charset=UTF-8", "content-encoding": "gzip"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


def test_gem_0_11_zlib_marker(project: Project, store: Store) -> None:
    body = zlib.compress(fixture_text("marker_0_11.json").encode(), 1)
    response = post("/1/markers", f"api_key={project.credentials['appsignal_push']}&{GEM_QUERY}", body, ZLIB)
    assert response["statusCode"] == 200, response
    (marker,) = store.list_markers(project.id)
    assert marker["id"] == json_body(response)["id"]
    assert {k: marker[k] for k in ("kind", "revision", "user", "environment", "hostname", "gem_version", "source")} == {
        "kind": "deploy",
        "revision": "fe001015311af4769a4dad76bdbce4c8f5d022af",
        "user": "deploy",
        "environment": "production",
        "hostname": "app1.local",
        "gem_version": "0.11.18",
        "source": "appsignal",
    }
    assert isinstance(marker["created"], (int, float))


def test_documented_curl_marker_raw_json_under_api_prefix(project: Project, store: Store) -> None:
    query = f"api_key={project.credentials['appsignal_push']}&name=test&environment=staging"
    response = post("/api/1/markers", query, fixture_text("marker_docs.json").encode(), FORM)
    assert response["statusCode"] == 200, response
    (marker,) = store.list_markers(project.id)
    assert marker["repository"] == "master" and marker["environment"] == "staging" and marker["user"] == "test user"


def test_gem_0_1_form_marker_with_key_in_form(project: Project, store: Store) -> None:
    data = {"revision": "abc123", "repository": "git@github.com:me/app.git", "user": "bob", "rails_env": "staging"}
    body = urllib.parse.urlencode(
        {"api_key": project.credentials["appsignal_push"], "gem_version": "0.1.6", "marker_data": json.dumps(data)}
    ).encode()
    assert post("/api/1/markers", "", body, FORM)["statusCode"] == 200
    (marker,) = store.list_markers(project.id)
    assert marker["environment"] == "staging" and marker["gem_version"] == "0.1.6" and marker["revision"] == "abc123"


@pytest.mark.parametrize("key", ["", "api_key=nope", "api_key=PERSONAL"])
def test_marker_with_bad_key_is_401(project: Project, store: Store, key: str) -> None:
    key = key.replace("PERSONAL", project.credentials["personal"])
    response = post("/1/markers", key, b'{"revision":"x"}')
    assert response["statusCode"] == 401 and json_body(response)["error"]
    assert store.list_markers(project.id) == []


@pytest.mark.parametrize("body", [b'{"revision":', b"[1,2]", b"", b"marker=1"])
def test_malformed_marker_is_400(project: Project, body: bytes) -> None:
    response = post("/1/markers", f"api_key={project.credentials['appsignal_push']}", body)
    assert response["statusCode"] == 400 and json_body(response)["error"]


@pytest.mark.parametrize("path", ["/1/auth", "/api/1/auth"])
def test_auth_check(project: Project, path: str) -> None:
    key = project.credentials["appsignal_push"]
    assert post(path, f"api_key={key}&{GEM_QUERY}", zlib.compress(b"{}", 1), ZLIB)["statusCode"] == 200
    assert post(path, f"api_key=wrong&{GEM_QUERY}", zlib.compress(b"{}", 1), ZLIB)["statusCode"] == 401
    assert (
        post(path, "", urllib.parse.urlencode({"api_key": key, "gem_version": "0.2.0"}).encode(), FORM)["statusCode"]
        == 200
    )
    assert post(path, "", b"", FORM)["statusCode"] == 401


def test_markers_are_not_rate_limited(project: Project, store: Store) -> None:
    from lodge import auth

    key, _ = auth.issue_token(store, project.id, "appsignal_push", rate_limit=1)
    for _ in range(3):
        assert post("/1/markers", f"api_key={key}", b'{"revision":"abc"}')["statusCode"] == 200


@pytest.mark.parametrize("path", ["/1/auth", "/1/markers"])
def test_token_read_failure_is_503_json(
    project: Project, store: Store, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    from lodge import auth, aws

    def broken(*_: Any, **__: Any) -> Any:
        raise ConnectionError("DynamoDB is unreachable")

    auth.clear_cache()
    monkeypatch.setattr(aws.dynamodb(), "get_item", broken)
    body = zlib.compress(fixture_text("marker_0_11.json").encode(), 1)
    response = post(path, f"api_key={project.credentials['appsignal_push']}&{GEM_QUERY}", body, ZLIB)
    assert response["statusCode"] == 503 and "error" in json_body(response), response
