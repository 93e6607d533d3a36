"""functions/rollbar_deploy: report (JSON, form, multipart; token in header, body or query) and update."""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import pytest

from lodge.storage import Store
from lodge_devtools.apigw import build_event
from tests.conftest import Project
from tests.helpers import invoke, json_body

FIELDS = {
    "environment": "production",
    "revision": "aaaafff",
    "rollbar_username": "brianr",
    "local_username": "brian",
    "comment": "just a test",
}


def call(
    method: str,
    path: str,
    body: bytes | str = b"",
    *,
    content_type: str = "",
    token: str | None = None,
    query: str = "",
) -> dict[str, Any]:
    headers = {"content-type": content_type} if content_type else {}
    if token:
        headers["x-rollbar-access-token"] = token
    event = build_event(method, path, headers=headers, body=body, raw_query=query)
    return invoke("rollbar_deploy", event)


def multipart(fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = "------------------------d74496d66958873e"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_json_report_is_stored_as_a_marker(store: Store, project: Project) -> None:
    token = project.credentials["rollbar_post_server_item"]
    resp = call("POST", "/api/1/deploy", json.dumps(FIELDS), content_type="application/json", token=token)
    assert resp["statusCode"] == 200, resp["body"]
    deploy_id = json_body(resp)["data"]["deploy_id"]
    assert isinstance(deploy_id, int) and deploy_id < 2**53
    (marker,) = store.list_markers(project.id)
    assert marker["id"] == deploy_id
    assert {
        k: marker[k]
        for k in ("kind", "source", "environment", "revision", "user", "local_username", "comment", "status")
    } == {
        "kind": "deploy",
        "source": "rollbar",
        "environment": "production",
        "revision": "aaaafff",
        "user": "brianr",
        "local_username": "brian",
        "comment": "just a test",
        "status": "succeeded",
    }
    assert isinstance(marker["created"], int)


def test_gem_style_json_labelled_as_form_with_body_token(store: Store, project: Project) -> None:
    body = {**FIELDS, "access_token": project.credentials["rollbar_post_server_item"], "status": "started"}
    resp = call("POST", "/api/1/deploy/", json.dumps(body), content_type="application/x-www-form-urlencoded")
    assert resp["statusCode"] == 200, resp["body"]
    (marker,) = store.list_markers(project.id)
    assert marker["status"] == "started" and "finished" not in marker


def test_urlencoded_form(store: Store, project: Project) -> None:
    body = urllib.parse.urlencode({**FIELDS, "access_token": project.credentials["rollbar_post_server_item"]})
    resp = call("POST", "/api/1/deploy/", body, content_type="application/x-www-form-urlencoded")
    assert resp["statusCode"] == 200, resp["body"]
    assert store.list_markers(project.id)[0]["revision"] == "aaaafff"


def test_multipart_form_like_curl_f(store: Store, project: Project) -> None:
    body, content_type = multipart({**FIELDS, "access_token": project.credentials["rollbar_post_server_item"]})
    resp = call("POST", "/api/1/deploy/", body, content_type=content_type)
    assert resp["statusCode"] == 200, resp["body"]
    marker = store.list_markers(project.id)[0]
    assert marker["comment"] == "just a test" and marker["user"] == "brianr"


def test_local_username_is_the_user_without_rollbar_username(store: Store, project: Project) -> None:
    fields = {"environment": "staging", "head_long": "abc", "local_username": "ci"}
    resp = call("POST", "/api/1/deploy", json.dumps(fields), token=project.credentials["rollbar_post_server_item"])
    assert resp["statusCode"] == 200, resp["body"]
    marker = store.list_markers(project.id)[0]
    assert marker["user"] == "ci" and marker["revision"] == "abc"


def test_patch_updates_status(store: Store, project: Project) -> None:
    token = project.credentials["rollbar_post_server_item"]
    created = call("POST", "/api/1/deploy", json.dumps({**FIELDS, "status": "started"}), token=token)
    deploy_id = json_body(created)["data"]["deploy_id"]
    resp = call(
        "PATCH",
        f"/api/1/deploy/{deploy_id}",
        json.dumps({"status": "succeeded", "comment": "foo"}),
        query=f"access_token={token}",
    )
    assert resp["statusCode"] == 200, resp["body"]
    result = json_body(resp)
    assert result["err"] == 0
    deploy = result["result"]
    assert deploy["id"] == deploy_id and deploy["status"] == "succeeded" and deploy["comment"] == "foo"
    assert deploy["environment"] == "production" and deploy["revision"] == "aaaafff" and deploy["username"] == "brianr"
    assert isinstance(deploy["finish_time"], int)
    assert store.get_marker(project.id, deploy_id)["status"] == "succeeded"  # type: ignore[index]


def test_patch_with_multipart_and_write_token(store: Store, project: Project) -> None:
    created = call("POST", "/api/1/deploy", json.dumps(FIELDS), token=project.credentials["rollbar_post_server_item"])
    deploy_id = json_body(created)["data"]["deploy_id"]
    body, content_type = multipart({"status": "failed"})
    resp = call(
        "PATCH",
        f"/api/1/deploy/{deploy_id}",
        body,
        content_type=content_type,
        token=project.credentials["rollbar_write"],
    )
    assert resp["statusCode"] == 200, resp["body"]
    assert json_body(resp)["result"]["status"] == "failed"


MISSING_BOTH = "Missing 'environment' key. Missing 'revision' or 'head_long' key. 'environment' key must be a string."


@pytest.mark.parametrize(
    "method, path, fields, credential, status, message",
    [
        ("POST", "/api/1/deploy", {}, "rollbar_post_server_item", 422, MISSING_BOTH),
        (
            "POST",
            "/api/1/deploy",
            {"environment": "p"},
            "rollbar_post_server_item",
            422,
            "Missing 'revision' or 'head_long' key.",
        ),
        (
            "POST",
            "/api/1/deploy",
            {"revision": "r"},
            "rollbar_post_server_item",
            422,
            "Missing 'environment' key. 'environment' key must be a string.",
        ),
        (
            "POST",
            "/api/1/deploy",
            {**FIELDS, "status": "done"},
            "rollbar_post_server_item",
            422,
            "Invalid 'status' value. Must be one of: started, succeeded, failed, timed_out.",
        ),
        (
            "POST",
            "/api/1/deploy",
            {**FIELDS, "environment": "e" * 256},
            "rollbar_post_server_item",
            422,
            "'environment' must be at most 255 characters.",
        ),
        ("POST", "/api/1/deploy", FIELDS, None, 422, "Invalid format. access_token is missing and it is required."),
        (
            "POST",
            "/api/1/deploy",
            FIELDS,
            "rollbar_read",
            403,
            "insufficient privileges: post_server_item scope is required but the access token only has read.",
        ),
        (
            "POST",
            "/api/1/deploy",
            FIELDS,
            "rollbar_post_client_item",
            403,
            "insufficient privileges: post_server_item scope is required but the access token only has "
            "post_client_item.",
        ),
        (
            "POST",
            "/api/1/deploy",
            {**FIELDS, "access_token": "other-token-123"},
            "rollbar_post_server_item",
            403,
            "access token mismatch: the tokens in the header, body and query string differ.",
        ),
        (
            "POST",
            "/api/1/deploy",
            {**FIELDS, "access_token": "abcdefabcdefabcdef"},
            None,
            403,
            "access token not found: abcd...",
        ),
        (
            "PATCH",
            "/api/1/deploy/12345",
            {"status": "succeeded"},
            "rollbar_post_server_item",
            404,
            "Deploy not found in this project.",
        ),
        (
            "PATCH",
            "/api/1/deploy/nope",
            {"status": "succeeded"},
            "rollbar_post_server_item",
            404,
            "Deploy not found in this project.",
        ),
        ("POST", "/api/1/deploy/1/x", FIELDS, "rollbar_post_server_item", 404, "not found"),
    ],
)
def test_errors(
    store: Store,
    project: Project,
    method: str,
    path: str,
    fields: dict[str, Any],
    credential: str | None,
    status: int,
    message: str,
) -> None:
    token = project.credentials[credential] if credential else None
    resp = call(method, path, json.dumps(fields), content_type="application/json", token=token)
    assert resp["statusCode"] == status, resp["body"]
    assert json_body(resp) == {"err": 1, "message": message}
    if method == "POST":
        assert store.list_markers(project.id) == []


def test_invalid_json_is_400(store: Store, project: Project) -> None:
    resp = call("POST", "/api/1/deploy", "{oops", token=project.credentials["rollbar_post_server_item"])
    assert resp["statusCode"] == 400
    assert json_body(resp) == {"err": 1, "message": "request body is not valid JSON"}


def test_another_projects_deploy_is_404(store: Store, project: Project, other_project: Project) -> None:
    created = call("POST", "/api/1/deploy", json.dumps(FIELDS), token=project.credentials["rollbar_post_server_item"])
    deploy_id = json_body(created)["data"]["deploy_id"]
    resp = call(
        "PATCH",
        f"/api/1/deploy/{deploy_id}",
        json.dumps({"status": "failed"}),
        token=other_project.credentials["rollbar_post_server_item"],
    )
    assert resp["statusCode"] == 404
    assert store.get_marker(project.id, deploy_id)["status"] == "succeeded"  # type: ignore[index]
