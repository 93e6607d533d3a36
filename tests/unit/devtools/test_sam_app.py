"""Route selection and function specs read from template.yaml, as API Gateway HTTP API would do them."""

from __future__ import annotations

from pathlib import Path

import pytest

from lodge_devtools.sam_app import App, Cors, Route, load_app
from lodge_devtools.template import ROOT


@pytest.fixture(scope="module")
def app() -> App:
    return load_app(table="t-local", bucket="b-local")


def synthetic(*routes: tuple[str, str]) -> App:
    return App(functions={}, routes=[Route(m, p, f"{m} {p}") for m, p in routes], cors=None, root=Path("."))


@pytest.mark.parametrize(
    ("method", "path", "route_key", "params"),
    [
        ("POST", "/api/1/item/", "POST /api/1/item/{proxy+}", {"proxy": ""}),
        ("POST", "/api/1/item", "POST /api/1/item", {}),
        ("GET", "/api/1/item/", "GET /api/1/item/{proxy+}", {"proxy": ""}),
        ("GET", "/api/1/item/1/extra", "GET /api/1/item/{proxy+}", {"proxy": "1/extra"}),
        ("GET", "/api/1/item/12345", "GET /api/1/item/{item_id}", {"item_id": "12345"}),
        ("GET", "/api/abc/samples.json", "GET /api/{app_id}/samples.json", {"app_id": "abc"}),
        ("GET", "/api/abc/samples/errors.json", "GET /api/{app_id}/samples/errors.json", {"app_id": "abc"}),
        (
            "GET",
            "/api/abc/samples/x1.json",
            "GET /api/{app_id}/samples/{sample_file}",
            {"app_id": "abc", "sample_file": "x1.json"},
        ),
        ("POST", "/api/abc/markers.json", "POST /api/{app_id}/markers.json", {"app_id": "abc"}),
        ("PATCH", "/api/1/deploy/99", "PATCH /api/1/deploy/{deploy_id}", {"deploy_id": "99"}),
        ("GET", "/locate/loc-1", "GET /locate/{location_id}", {"location_id": "loc-1"}),
    ],
)
def test_real_template_routes(app: App, method: str, path: str, route_key: str, params: dict[str, str]) -> None:
    found = app.match(method, path)
    assert found is not None
    route, got = found
    assert route.route_key == route_key
    assert got == params


# Issue 14: paths under a protocol prefix that no endpoint serves (these were API Gateway 404s before)
# go to the fallback function, which answers in that protocol's error JSON.
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/1/deploy"),
        ("DELETE", "/api/1/item/"),
        ("PATCH", "/api/1/deploy"),
        ("GET", "/locate/"),
        ("POST", "/events/"),
        ("GET", "/events"),
        ("POST", "/api/1/"),
        ("GET", "/1/log_entries"),
        ("POST", "/api/5114f7e38c5ce90000000011/samples.json"),
    ],
)
def test_real_template_protocol_fallback(app: App, method: str, path: str) -> None:
    found = app.match(method, path)
    assert found is not None and found[0].function == "ProtocolFallbackFunction"


@pytest.mark.parametrize(("method", "path"), [("GET", "/"), ("GET", "/nothing"), ("POST", "/apix/1"), ("GET", "/2/x")])
def test_real_template_unmatched(app: App, method: str, path: str) -> None:
    assert app.match(method, path) is None


def test_literal_segment_beats_parameter_regardless_of_order() -> None:
    for routes in ([("GET", "/a/{x}"), ("GET", "/a/b")], [("GET", "/a/b"), ("GET", "/a/{x}")]):
        found = synthetic(*routes).match("GET", "/a/b")
        assert found is not None
        assert found[0].path == "/a/b"


def test_earlier_literal_segment_wins() -> None:
    app = synthetic(("GET", "/{x}/b"), ("GET", "/a/{y}"))
    found = app.match("GET", "/a/b")
    assert found is not None
    assert (found[0].path, found[1]) == ("/a/{y}", {"y": "b"})


def test_greedy_parameter_and_any_method() -> None:
    app = synthetic(("ANY", "/files/{proxy+}"), ("GET", "/files/{name}"))
    found = app.match("GET", "/files/one")
    assert found is not None and found[0].path == "/files/{name}"
    found = app.match("DELETE", "/files/one/two")
    assert found is not None
    assert (found[0].method, found[1]) == ("ANY", {"proxy": "one/two"})
    found = app.match("PUT", "/files/")  # a greedy route takes the trailing-slash path (docs/deploy.md)
    assert found is not None and found[1] == {"proxy": ""}
    assert app.match("PUT", "/files") is None


def test_function_specs_resolve_environment(app: App) -> None:
    spec = app.function("rollbar_item")
    assert spec is app.function("RollbarItemFunction")
    assert spec.code_dir == ROOT / "functions" / "rollbar_item"
    assert spec.handler == "app.lambda_handler"
    assert spec.timeout == 10
    assert spec.memory == 256
    assert spec.environment["TABLE_NAME"] == "t-local"
    assert spec.environment["BUCKET_NAME"] == "b-local"
    assert spec.environment["RETENTION_DAYS"] == "90"
    assert spec.environment["POWERTOOLS_SERVICE_NAME"] == "rollbar_item"
    with pytest.raises(KeyError):
        app.function("nope")


def test_every_route_targets_a_known_function(app: App) -> None:
    # nine protocol endpoints, protocol_fallback, sentry_ingest, console, alert_deliver, digest
    assert len(app.functions) == 14
    # alert_deliver reads the alert queue, the digest the table's stream
    assert {r.function for r in app.routes} == set(app.functions) - {"AlertDeliverFunction", "DigestFunction"}


def test_cors_from_template(app: App) -> None:
    assert app.cors is not None
    assert app.cors.allowed_origin("https://x.example") == "*"
    assert "x-rollbar-access-token" in app.cors.allow_headers
    assert app.cors.max_age == 86400
    listed = Cors(allow_origins=("https://a.example",))
    assert listed.allowed_origin("https://a.example") == "https://a.example"
    assert listed.allowed_origin("https://b.example") is None
    assert listed.allowed_origin("") is None
