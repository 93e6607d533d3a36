"""Rollbar endpoints under hostile input and failing storage (regressions from the independent review).

Storage failures must be 503 with Rollbar's JSON error body (the client retries), never a 500.
The DynamoDB client itself is made to fail, so every Store method on the way is covered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from lodge import aws
from lodge.ids import occurrence_id_for
from lodge.storage import Store
from lodge_devtools.apigw import build_event
from tests.conftest import Project
from tests.helpers import invoke, json_body

SERVER = "rollbar_post_server_item"
DEPLOY = {"environment": "production", "revision": "abc"}


def throttled(operation: str) -> ClientError:
    error = {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}
    return ClientError({"Error": error}, operation)


def unreachable(operation: str) -> Exception:
    return EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com")


def os_level(operation: str) -> Exception:
    return ConnectionError("connection reset by peer")


FAILURES = [throttled, unreachable, os_level]


def break_ddb(
    monkeypatch: pytest.MonkeyPatch, method: str, failure: Callable[[str], Exception], *, tokens_too: bool = False
) -> None:
    """Make the process's DynamoDB client fail `method`; token reads still work unless `tokens_too`."""
    client = aws.dynamodb()
    original = getattr(client, method)

    def broken(**kwargs: Any) -> Any:
        key = kwargs.get("Key", {}).get("pk", {}).get("S", "")
        if key.startswith("TOK#") and not tokens_too:
            return original(**kwargs)
        raise failure(method)

    monkeypatch.setattr(client, method, broken)


def assert_503(resp: dict[str, Any], message: str) -> None:
    assert resp["statusCode"] == 503, resp["body"]
    assert json_body(resp) == {"err": 1, "message": f"{message}; please retry"}
    assert resp["headers"]["Access-Control-Allow-Origin"] == "*"


def deploy(method: str, path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    headers = {"content-type": "application/json", "x-rollbar-access-token": token}
    return invoke("rollbar_deploy", build_event(method, path, headers=headers, body=json.dumps(body)))


def read(project: Project, path: str, query: str = "") -> dict[str, Any]:
    headers = {"x-rollbar-access-token": project.credentials["rollbar_read"]}
    return invoke("rollbar_read", build_event("GET", path, raw_query=query, headers=headers))


def post_item(project: Project, raw: bytes) -> dict[str, Any]:
    headers = {"content-type": "application/json", "x-rollbar-access-token": project.credentials[SERVER]}
    return invoke("rollbar_item", build_event("POST", "/api/1/item/", headers=headers, body=raw))


# ---- review finding 12: storage failures outside ingest --------------------------------------------


@pytest.mark.parametrize("failure", FAILURES)
def test_deploy_report_storage_failure_is_503(
    monkeypatch: pytest.MonkeyPatch, store: Store, project: Project, failure: Callable[[str], Exception]
) -> None:
    break_ddb(monkeypatch, "put_item", failure)
    assert_503(deploy("POST", "/api/1/deploy", project.credentials[SERVER], DEPLOY), "could not store the deploy")


@pytest.mark.parametrize("method", ["get_item", "update_item"])
def test_deploy_update_storage_failure_is_503(
    monkeypatch: pytest.MonkeyPatch, store: Store, project: Project, method: str
) -> None:
    token = project.credentials[SERVER]
    deploy_id = json_body(deploy("POST", "/api/1/deploy", token, DEPLOY))["data"]["deploy_id"]
    break_ddb(monkeypatch, method, throttled)
    resp = deploy("PATCH", f"/api/1/deploy/{deploy_id}", token, {"status": "failed"})
    assert_503(resp, "could not update the deploy")


@pytest.mark.parametrize(
    "path, query, method",
    [
        ("/api/1/items/", "", "query"),
        ("/api/1/item/", "uuid=0a2bfe6e", "get_item"),
        ("/api/1/item/0123456789abcdef0123", "", "get_item"),
        ("/api/1/instance/0123456789abcdef01234567", "", "get_item"),
    ],
)
@pytest.mark.parametrize("failure", FAILURES)
def test_read_storage_failure_is_503(
    monkeypatch: pytest.MonkeyPatch,
    store: Store,
    project: Project,
    path: str,
    query: str,
    method: str,
    failure: Callable[[str], Exception],
) -> None:
    break_ddb(monkeypatch, method, failure)
    assert_503(read(project, path, query), "could not read from storage")


def test_token_lookup_failure_is_503_everywhere(
    monkeypatch: pytest.MonkeyPatch, store: Store, project: Project
) -> None:
    break_ddb(monkeypatch, "get_item", unreachable, tokens_too=True)
    message = "could not look up the access token"
    assert_503(read(project, "/api/1/items/"), message)
    assert_503(deploy("POST", "/api/1/deploy", project.credentials[SERVER], DEPLOY), message)
    assert_503(post_item(project, b'{"data":{"environment":"e","body":{"message":{"body":"x"}}}}'), message)


def test_rate_limit_storage_failure_is_503(monkeypatch: pytest.MonkeyPatch, store: Store, project: Project) -> None:
    from lodge import auth

    token, _ = auth.issue_token(store, project.id, "rollbar_post_server_item", rate_limit=10)
    break_ddb(monkeypatch, "update_item", throttled)
    headers = {"content-type": "application/json", "x-rollbar-access-token": token}
    body = b'{"data":{"environment":"e","body":{"message":{"body":"x"}}}}'
    resp = invoke("rollbar_item", build_event("POST", "/api/1/item/", headers=headers, body=body))
    assert_503(resp, "could not count the request against the rate limit")


def test_a_bug_is_still_a_500(monkeypatch: pytest.MonkeyPatch, store: Store, project: Project) -> None:
    """Only storage failures become 503 (the client retries); a programming error stays 500."""
    break_ddb(monkeypatch, "query", lambda operation: KeyError("bug"))
    resp = read(project, "/api/1/items/")
    assert resp["statusCode"] == 500
    assert json_body(resp) == {"err": 1, "message": "internal error"}


# ---- review finding 8: non-ASCII and over-long digit strings ---------------------------------------


@pytest.mark.parametrize("deploy_id", ["\u00b2", "\u0661\u0662", "1" * 20, "9" * 5000, "+1", " 1"])
def test_odd_deploy_ids_are_404(store: Store, project: Project, deploy_id: str) -> None:
    headers = {"content-type": "application/json", "x-rollbar-access-token": project.credentials["rollbar_write"]}
    event = build_event(
        "PATCH",
        f"/api/1/deploy/{deploy_id}",
        headers=headers,
        body=b'{"status":"failed"}',
        path_parameters={"deploy_id": deploy_id},
    )
    resp = invoke("rollbar_deploy", event)
    assert resp["statusCode"] == 404, resp["body"]
    assert json_body(resp) == {"err": 1, "message": "Deploy not found in this project."}


@pytest.mark.parametrize(
    "query, message",
    [
        ("page=%C2%B2", "page must be a positive integer"),
        ("page=%D9%A1", "page must be a positive integer"),
        ("page=-1", "page must be a positive integer"),
        ("page=" + "9" * 5000, "page is out of range"),
        ("page=" + "9" * 10, "page is out of range"),
        ("page=000", "page must be a positive integer"),
    ],
)
def test_odd_pages_are_400(store: Store, project: Project, query: str, message: str) -> None:
    resp = read(project, "/api/1/items/", query)
    assert resp["statusCode"] == 400, resp["body"]
    assert json_body(resp) == {"err": 1, "message": message}


@pytest.mark.parametrize("page, expected", [("9" * 9, 999_999_999), ("0" * 20 + "2", 2)])
def test_large_and_zero_padded_pages(store: Store, project: Project, page: str, expected: int) -> None:
    result = json_body(read(project, "/api/1/items/", f"page={page}"))["result"]
    assert result["page"] == expected and result["items"] == []


# ---- review finding 3: data.timestamp beyond any clock ---------------------------------------------


@pytest.mark.parametrize("raw", ["1e200", "1e130", "1e400", str(10**400), "-0", "1e-320"], ids=lambda r: r[:12])
def test_absurd_timestamps_are_stored_without_one(store: Store, project: Project, raw: str) -> None:
    body = b'{"data":{"environment":"p","body":{"message":{"body":"x"}},"timestamp":' + raw.encode() + b"}}"
    resp = post_item(project, body)
    assert resp["statusCode"] == 200, resp["body"]
    uuid = json_body(resp)["result"]["uuid"]
    detail = store.get_occurrence(project.id, occurrence_id_for("rollbar", uuid))
    assert detail is not None and detail.get("timestamp") is None
