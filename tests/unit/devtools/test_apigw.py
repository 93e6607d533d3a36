"""build_event against the event `sam local generate-event apigateway http-api-proxy` prints."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

from lodge_devtools.apigw import build_event

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "apigw" / "http-api-proxy.json"
# Present in SAM's sample only because it shows a mutual-TLS, JWT-authorized API with stage variables.
AUTH_ONLY = {"authentication", "authorizer", "stageVariables"}


def sample() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(FIXTURE.read_text())
    return data


def full_event() -> dict[str, Any]:
    return build_event(
        "POST",
        "/path/to/resource",
        raw_query="parameter1=value1&parameter1=value2&parameter2=value",
        headers=[("Header1", "value1"), ("Header2", "value1"), ("Header2", "value2"), ("Cookie", "cookie1; cookie2")],
        body=b'{"test":"body"}',
        route_key="POST /path/to/{parameter1}",
        path_parameters={"parameter1": "value1"},
        source_ip="192.168.0.1",
    )


def test_same_keys_as_sam_sample() -> None:
    expected, built = sample(), full_event()
    assert set(built) == set(expected) - AUTH_ONLY
    assert set(built["requestContext"]) == set(expected["requestContext"]) - AUTH_ONLY
    assert set(built["requestContext"]["http"]) == set(expected["requestContext"]["http"])


def test_values_shaped_like_sam_sample() -> None:
    expected, built = sample(), full_event()
    for key in ("version", "rawPath", "rawQueryString", "cookies", "queryStringParameters", "pathParameters"):
        assert built[key] == expected[key], key
    assert built["headers"] == {k.lower(): v for k, v in expected["headers"].items()}
    context, sample_context = built["requestContext"], expected["requestContext"]
    assert context["http"]["method"] == "POST"
    assert context["stage"] == sample_context["stage"]
    assert context["routeKey"] == built["routeKey"] == "POST /path/to/{parameter1}"
    assert len(context["time"]) == len(sample_context["time"])
    assert len(str(context["timeEpoch"])) == len(str(sample_context["timeEpoch"]))
    for key, value in sample_context.items():
        if key not in AUTH_ONLY:
            assert type(context[key]) is type(value), key


def test_binary_body_is_base64() -> None:
    raw = gzip.compress(b'{"a": 1}')
    event = build_event(
        "POST", "/x", headers={"Content-Type": "application/json", "Content-Encoding": "gzip"}, body=raw
    )
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == raw


def test_text_body_is_plain_and_empty_body_absent() -> None:
    event = build_event("POST", "/x", headers={"Content-Type": "application/json"}, body='{"ü": 1}')
    assert (event["isBase64Encoded"], event["body"]) == (False, '{"ü": 1}')
    empty = build_event("GET", "/x")
    assert "body" not in empty and empty["isBase64Encoded"] is False
    assert "queryStringParameters" not in empty and "pathParameters" not in empty and "cookies" not in empty


def test_non_text_content_type_is_base64_even_if_utf8() -> None:
    event = build_event("POST", "/x", headers={"Content-Type": "application/octet-stream"}, body=b"plain")
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"plain"
