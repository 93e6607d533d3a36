"""How the runner turns a handler's return value into HTTP, and its CORS answers (as API Gateway)."""

from __future__ import annotations

import base64
import json

import pytest

from lodge_devtools.runner import BadResponse, cors_headers, preflight_headers, shape_response
from lodge_devtools.sam_app import Cors

CORS = Cors(
    allow_origins=("*",),
    allow_methods=("GET", "POST"),
    allow_headers=("content-type", "x-rollbar-access-token"),
    expose_headers=("x-rate-limit-remaining",),
    max_age=600,
)


def test_full_response() -> None:
    status, headers, body = shape_response(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "application/json", "X-Count": 3},
            "multiValueHeaders": {"X-Multi": ["a", "b"]},
            "cookies": ["s=1; Path=/"],
            "body": '{"ok":true}',
        }
    )
    assert status == 201
    assert headers == [
        ("Content-Type", "application/json"),
        ("X-Count", "3"),
        ("X-Multi", "a"),
        ("X-Multi", "b"),
        ("Set-Cookie", "s=1; Path=/"),
    ]
    assert body == b'{"ok":true}'


def test_base64_body_is_decoded() -> None:
    data = bytes(range(256))
    assert (
        shape_response({"statusCode": 200, "body": base64.b64encode(data).decode(), "isBase64Encoded": True})[2] == data
    )


def test_object_without_status_code_is_a_json_200() -> None:
    status, headers, body = shape_response({"hello": "world"})
    assert status == 200
    assert ("Content-Type", "application/json") in headers
    assert json.loads(body) == {"hello": "world"}


@pytest.mark.parametrize(
    "result",
    [
        None,
        "text",
        [1, 2],
        {"statusCode": "abc"},
        {"statusCode": 99},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "headers": ["x"]},
        {"statusCode": 200, "headers": {"x": {"nested": 1}}},
        {"statusCode": 200, "body": "!!!", "isBase64Encoded": True},
    ],
)
def test_malformed_responses_are_rejected(result: object) -> None:
    with pytest.raises(BadResponse):
        shape_response(result)


def test_preflight_allowed() -> None:
    headers = dict(preflight_headers(CORS, "https://app.example", "POST", "Content-Type, X-Rollbar-Access-Token"))
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["Access-Control-Allow-Methods"] == "GET,POST"
    assert headers["Access-Control-Max-Age"] == "600"


@pytest.mark.parametrize(
    ("origin", "method", "asked"),
    [("", "POST", ""), ("https://app.example", "DELETE", ""), ("https://app.example", "POST", "x-secret")],
)
def test_preflight_refused(origin: str, method: str, asked: str) -> None:
    assert preflight_headers(CORS, origin, method, asked) == []


def test_cors_on_responses_only_with_an_origin() -> None:
    assert dict(cors_headers(CORS, "https://app.example")) == {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Expose-Headers": "x-rate-limit-remaining",
    }
    assert cors_headers(CORS, "") == []
    listed = Cors(allow_origins=("https://a.example",))
    assert dict(cors_headers(listed, "https://a.example"))["Vary"] == "Origin"
