"""Unserved paths under a protocol's prefix answer 404 in that protocol's own error JSON."""

from __future__ import annotations

import pytest

from lodge_devtools.apigw import build_event
from tests.helpers import invoke, json_body


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/1/", {"err": 1, "message": "no such endpoint: POST /api/1/"}),
        ("GET", "/api/1/nothing", {"err": 1, "message": "no such endpoint: GET /api/1/nothing"}),
        ("POST", "/api/1/log_entries/x", {"error": "no such endpoint: POST /api/1/log_entries/x"}),
        ("GET", "/1/nope", {"error": "no such endpoint: GET /1/nope"}),
        (
            "GET",
            "/api/5114f7e38c5ce90000000011/nope.json",
            {"error": "no such endpoint: GET /api/5114f7e38c5ce90000000011/nope.json"},
        ),
        ("GET", "/events/x", {"error": "no such endpoint: GET /events/x"}),
        (
            "GET",
            "/api/25058139001398374858964684817/envelope/",
            {"detail": "no such endpoint: GET /api/25058139001398374858964684817/envelope/"},
        ),
        ("POST", "/api/42/minidump/", {"detail": "no such endpoint: POST /api/42/minidump/"}),
    ],
)
def test_each_prefix_answers_in_its_protocols_shape(method: str, path: str, body: dict[str, object]) -> None:
    response = invoke("protocol_fallback", build_event(method, path))
    assert response["statusCode"] == 404
    assert json_body(response) == body
