"""The table of fuzzed endpoints: one `Endpoint` per function in template.yaml.

Each entry names its handler, its legitimate request shapes (method, paths, queries) and its seed
payloads, which are the project's real captured payloads (tests/fixtures, bench/workloads, events).
How credentials are presented differs per protocol, so each entry carries a `credentials` kind that
`apply_credentials` knows. A new protocol (Sentry's envelope and store endpoints) is one more entry
here, plus, when its authentication is new, one more branch in `apply_credentials`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from lodge.protocols.sentry.auth import dsn_project_number
from lodge_devtools.demo import DEMO_CREDENTIALS, DEMO_PROJECT_ID

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
WORKLOADS = ROOT / "bench" / "workloads"
EVENTS = ROOT / "events"

GEM_QUERY = "name=MyBlog&environment=production&hostname=app1.local&gem_version=0.11.18"
LOCATION_ID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


@dataclass(frozen=True)
class Shape:
    """One legitimate way to call an endpoint: the fuzzer mutates from here."""

    method: str
    path: str
    route_key: str
    query: str = ""
    path_params: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"
    encoding: str = "identity"
    """How a real client encodes the body: identity, zlib (labelled gzip, the AppSignal gem) or gzip."""
    form_field: str | None = None
    """Real clients that wrap the JSON in a form send it as this field (AppSignal gem 0.1-0.2)."""


@dataclass(frozen=True)
class Endpoint:
    name: str
    function: str
    """functions/<function>/app.py holds the handler."""
    credentials: str
    """rollbar_header | appsignal_query | crashlog_hmac | query_token | rollbar_read | sentry_auth |
    none (no credential: the protocol fallback) | console_session (the signed-in console's cookie)"""
    shapes: tuple[Shape, ...]
    seeds: Callable[[], list[Any]] = field(default=lambda: [])
    """The payloads to mutate (JSON values); empty for GET endpoints."""
    freshen: Callable[[Any, str], None] = field(default=lambda payload, unique: None)
    """Gives a seed a fresh client id, so most cases are stored and counted, not de-duplicated."""
    render: Callable[[Any, str], bytes] | None = None
    """Bytes of a (mutated) seed when the body is not one JSON document (Sentry envelopes, forms);
    the second argument is the serialization style (tests.fuzz.mutators.SERIALIZATIONS)."""

    @property
    def has_body(self) -> bool:
        return bool(self.seeds())


# ---- seeds ---------------------------------------------------------------------------------------


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _event_body(name: str) -> Any:
    event = _json(EVENTS / name)
    raw = base64.b64decode(event["body"]) if event.get("isBase64Encoded") else event["body"].encode()
    with contextlib.suppress(zlib.error):
        raw = zlib.decompress(raw)
    return json.loads(raw)


@cache
def rollbar_seeds() -> list[Any]:
    found = [_json(p) for p in sorted((FIXTURES / "rollbar").glob("*.json"))]
    found += [_json(p) for p in sorted(WORKLOADS.glob("rollbar_*/body.json"))]
    found.append(_event_body("rollbar_item.json"))
    return found


@cache
def appsignal_seeds() -> list[Any]:
    found = [_json(p) for p in sorted((FIXTURES / "appsignal").glob("gem_*_batch.json"))]
    for path in sorted((FIXTURES / "appsignal").glob("seed_docs_*.txt")):
        try:  # the documents' examples are not all valid JSON (the gem's repair handles them)
            found.append(json.loads(path.read_text()))
        except ValueError:
            continue
    found.append(json.loads(zlib.decompress((WORKLOADS / "appsignal_batch20" / "body.zlib").read_bytes())))
    found.append(_event_body("appsignal_push.json"))
    return found


@cache
def marker_seeds() -> list[Any]:
    return [_json(p) for p in sorted((FIXTURES / "appsignal").glob("marker_*.json"))] + [
        _event_body("appsignal_markers.json")
    ]


@cache
def crashlog_seeds() -> list[Any]:
    names = sorted(p for p in (FIXTURES / "crashlog").glob("*.json") if p.name != "announce_ruby.json")
    found = [_json(p) for p in names]
    found += [_json(WORKLOADS / "crashlog_ruby" / "body.json"), _event_body("crashlog_events.json")]
    return found


@cache
def announce_seeds() -> list[Any]:
    return [_json(FIXTURES / "crashlog" / "announce_ruby.json"), _event_body("crashlog_announce.json")]


@cache
def deploy_seeds() -> list[Any]:
    base = _event_body("rollbar_deploy.json")
    return [base, {**base, "status": "succeeded"}, {"status": "failed", "comment": "rolled back"}]


@cache
def api_marker_seeds() -> list[Any]:
    return [{"marker": {"revision": "abc123", "repository": "main", "user": "deploy", "kind": "deploy"}}]


@cache
def sentry_envelope_seeds() -> list[Any]:
    """The SDK's captured envelopes as trees: {"headers": ..., "items": [{"headers", "payload"}]}."""
    return [_envelope_tree(p.read_bytes()) for p in sorted((FIXTURES / "sentry").glob("*.envelope"))]


@cache
def sentry_store_seeds() -> list[Any]:
    """The events inside the captured envelopes: what older SDKs POST to /store/."""
    return [
        item["payload"]
        for tree in sentry_envelope_seeds()
        for item in tree["items"]
        if item["headers"].get("type") == "event"
    ]


def _envelope_tree(data: bytes) -> dict[str, Any]:
    lines = data.rstrip(b"\n").split(b"\n")
    items = [
        {"headers": json.loads(h), "payload": json.loads(b)} for h, b in zip(lines[1::2], lines[2::2], strict=True)
    ]
    return {"headers": json.loads(lines[0]), "items": items}


def render_envelope(tree: Any, style: str) -> bytes:
    """An envelope from a mutated tree: the style applies to the first item's payload; items keep
    a correct `length` unless the mutation replaced their headers with something else."""
    from tests.fuzz.mutators import serialize

    if not isinstance(tree, dict) or not isinstance(tree.get("items"), list):
        return serialize(tree, style)
    lines = [serialize(tree.get("headers"), "json")]
    for index, item in enumerate(tree["items"]):
        item = item if isinstance(item, dict) else {"headers": item, "payload": None}
        payload = serialize(item.get("payload"), style if index == 0 else "json")
        headers = item.get("headers")
        if isinstance(headers, dict) and isinstance(headers.get("length"), int):
            headers = {**headers, "length": len(payload)}
        lines += [serialize(headers, "json"), payload]
    return b"\n".join(lines) + b"\n"


def _fresh_sentry_event(payload: Any, unique: str) -> None:
    if isinstance(payload, dict) and "event_id" in payload:
        payload["event_id"] = unique.replace("-", "")


def _fresh_sentry_envelope(tree: Any, unique: str) -> None:
    if not isinstance(tree, dict):
        return
    _fresh_sentry_event(tree.get("headers"), unique)
    for item in tree.get("items") or []:
        if isinstance(item, dict):
            _fresh_sentry_event(item.get("payload"), unique)


CSRF = "__CSRF__"
"""Placeholder in console form seeds: the signed-in session's CSRF token replaces it."""
ISSUE = "__ISSUE__"
OCCURRENCE = "__OCCURRENCE__"
SESSION: dict[str, str] = {}
"""The console session the signed-in cases present: `cookie` (the Cookie header), `csrf`, and a
stored `issue` and `occurrence` reference. Set by the harness (in-process: sealed with the table's
session key; over HTTP: by signing in through the runner's own sign-in form)."""


@cache
def console_form_seeds() -> list[Any]:
    return [
        {"csrf": CSRF, "action": "resolve"},
        {"csrf": CSRF, "action": "resolve_next", "version": "1.4.3"},
        {"csrf": CSRF, "action": "mute", "mute_for": "3600", "mute_count": ""},
        {"csrf": CSRF, "action": "mute", "mute_count": "10"},
        {"csrf": CSRF, "action": "reopen"},
        {"csrf": CSRF, "action": "archive"},
        {"csrf": CSRF, "token": DEMO_CREDENTIALS["personal"], "next": "/console/issues?status=muted"},
        {"csrf": CSRF},
    ]


def render_form(tree: Any, style: str) -> bytes:
    """`application/x-www-form-urlencoded` of a flat dict (nested values as their JSON text); a
    non-dict tree or a broken style gives the raw bytes (what a confused client would send)."""
    from urllib.parse import quote_plus

    from tests.fuzz.mutators import serialize

    if style != "json" or not isinstance(tree, dict):
        return serialize(tree, style)

    def text(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value)

    return "&".join(
        f"{quote_plus(text(k).encode('utf-8', 'surrogatepass'))}={quote_plus(text(v).encode('utf-8', 'surrogatepass'))}"
        for k, v in tree.items()
    ).encode()


def _fresh_rollbar(payload: Any, unique: str) -> None:
    data = payload.get("data") if isinstance(payload, dict) else None
    if isinstance(data, dict):
        data["uuid"] = unique
    if isinstance(payload, dict) and "access_token" in payload:
        payload["access_token"] = DEMO_CREDENTIALS["rollbar_post_server_item"]


def _fresh_appsignal(payload: Any, unique: str) -> None:
    if isinstance(payload, list):
        for index, entry in enumerate(payload):
            if isinstance(entry, dict):
                entry["request_id"] = f"{unique}-{index}"


# ---- the table -----------------------------------------------------------------------------------

_PROJECT = DEMO_PROJECT_ID
_SENTRY = dsn_project_number(DEMO_PROJECT_ID)
_FORM = "application/x-www-form-urlencoded"
_NO_CREDENTIAL = "0" * 64


def _console(method: str, rest: str, query: str = "", content_type: str = "") -> Shape:
    path = "/console" + rest
    return Shape(method, path, "ANY /console/{proxy+}", query, (("proxy", rest.lstrip("/")),), content_type)


CONSOLE_SHAPES: tuple[Shape, ...] = (
    Shape("GET", "/console", "ANY /console", content_type=""),
    _console("GET", "/signin", "next=%2Fconsole%2Fissues%3Fstatus%3Dmuted"),
    _console("POST", "/signin", content_type=_FORM),
    _console("POST", "/signout", content_type=_FORM),
    _console("GET", "/issues", "status=active&level=error&environment=production&q=boom&sort=count&page=2"),
    _console("GET", "/issues", "status=muted"),
    _console("GET", f"/issues/{ISSUE}", "before=1765000000000&flash=resolved"),
    _console("POST", f"/issues/{ISSUE}/triage", content_type=_FORM),
    _console("GET", f"/occurrences/{OCCURRENCE}"),
    _console("GET", "/deploys"),
    _console("GET", "/settings", "flash=revoked"),
    _console("POST", f"/settings/credentials/{_NO_CREDENTIAL}/revoke", content_type=_FORM),
    _console("POST", f"/settings/credentials/{_NO_CREDENTIAL}/rotate", content_type=_FORM),
    _console("GET", "/static/console.css"),
)
"""Every console route; the revoke/rotate forms name no stored credential (a fuzz run must not
revoke the session it runs in)."""
_ITEM = "/api/1/item/{proxy+}"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "rollbar_item",
        "rollbar_item",
        "rollbar_header",
        (
            Shape("POST", "/api/1/item/", "POST " + _ITEM, path_params=(("proxy", ""),)),
            Shape("POST", "/api/1/item", "POST /api/1/item"),
            Shape("POST", "/api/1/item/", "POST " + _ITEM, content_type="application/x-www-form-urlencoded"),
        ),
        rollbar_seeds,
        _fresh_rollbar,
    ),
    Endpoint(
        "rollbar_deploy",
        "rollbar_deploy",
        "rollbar_header",
        (
            Shape("POST", "/api/1/deploy", "POST /api/1/deploy"),
            Shape("POST", "/api/1/deploy/", "POST /api/1/deploy/{proxy+}", path_params=(("proxy", ""),)),
            Shape("PATCH", "/api/1/deploy/1", "PATCH /api/1/deploy/{deploy_id}", path_params=(("deploy_id", "1"),)),
        ),
        deploy_seeds,
    ),
    Endpoint(
        "rollbar_read",
        "rollbar_read",
        "rollbar_read",
        (
            Shape("GET", "/api/1/items/", "GET /api/1/items/{proxy+}", "environment=staging&level=error&page=1"),
            Shape("GET", "/api/1/items", "GET /api/1/items", "status=active&framework=django"),
            Shape("GET", "/api/1/item/", "GET " + _ITEM, "uuid=fa3905ed-4259-4fde-8972-0403fead5455"),
            Shape("GET", "/api/1/item/1", "GET /api/1/item/{item_id}", path_params=(("item_id", "1"),)),
            Shape("GET", "/api/1/instance/1", "GET /api/1/instance/{instance_id}", path_params=(("instance_id", "1"),)),
            Shape("GET", "/api/1/status/ping", "GET /api/1/status/ping"),
        ),
    ),
    Endpoint(
        "appsignal_push",
        "appsignal_push",
        "appsignal_query",
        (
            Shape("POST", "/1/log_entries", "POST /1/log_entries", GEM_QUERY, encoding="zlib"),
            Shape("POST", "/api/1/log_entries", "POST /api/1/log_entries", GEM_QUERY),
            Shape("POST", "/v1/log_entries.json", "POST /v1/log_entries.json", GEM_QUERY),
            Shape(
                "POST",
                "/1/log_entries",
                "POST /1/log_entries",
                content_type="application/x-www-form-urlencoded",
                form_field="log_entries",
            ),
        ),
        appsignal_seeds,
        _fresh_appsignal,
    ),
    Endpoint(
        "appsignal_markers",
        "appsignal_markers",
        "appsignal_query",
        (
            Shape("POST", "/1/markers", "POST /1/markers", GEM_QUERY, encoding="zlib"),
            Shape("POST", "/api/1/markers", "POST /api/1/markers", GEM_QUERY),
            Shape("POST", "/1/auth", "POST /1/auth", GEM_QUERY),
            Shape(
                "POST",
                "/api/1/markers",
                "POST /api/1/markers",
                content_type="application/x-www-form-urlencoded",
                form_field="marker_data",
            ),
        ),
        marker_seeds,
    ),
    Endpoint(
        "appsignal_query",
        "appsignal_query",
        "query_token",
        (
            Shape("GET", f"/api/{_PROJECT}/samples.json", "GET /api/{app_id}/samples.json", "limit=10"),
            Shape(
                "GET",
                f"/api/{_PROJECT}/samples/errors.json",
                "GET /api/{app_id}/samples/errors.json",
                "since=1365000000&before=1900000000&count_only=false",
            ),
            Shape(
                "GET",
                f"/api/{_PROJECT}/samples/performance.json",
                "GET /api/{app_id}/samples/performance.json",
                "action=PostsController%23index&callback=cb",
            ),
            Shape("GET", f"/api/{_PROJECT}/samples/abc.json", "GET /api/{app_id}/samples/{sample_file}"),
            Shape("GET", f"/api/{_PROJECT}/markers.json", "GET /api/{app_id}/markers.json", "kind=deploy&limit=5"),
            Shape("POST", f"/api/{_PROJECT}/markers.json", "POST /api/{app_id}/markers.json"),
            *(
                Shape(
                    method,
                    f"/api/{_PROJECT}/markers/1.json",
                    f"{method} /api/{{app_id}}/markers/{{marker_file}}",
                    path_params=(("app_id", _PROJECT), ("marker_file", "1.json")),
                )
                for method in ("GET", "PUT", "DELETE")
            ),
        ),
        api_marker_seeds,
    ),
    Endpoint(
        "crashlog_events",
        "crashlog_events",
        "crashlog_hmac",
        (
            Shape("POST", "/events", "POST /events", content_type="application/json; charset=UTF-8"),
            Shape("POST", "/events", "POST /events", content_type="application/json", encoding="gzip"),
        ),
        crashlog_seeds,
    ),
    Endpoint(
        "crashlog_announce",
        "crashlog_announce",
        "crashlog_hmac",
        (Shape("POST", "/announce", "POST /announce", content_type="application/json; charset=UTF-8"),),
        announce_seeds,
    ),
    Endpoint(
        "crashlog_locate",
        "crashlog_locate",
        "query_token",
        (
            Shape(
                "GET",
                f"/locate/{LOCATION_ID}",
                "GET /locate/{location_id}",
                path_params=(("location_id", LOCATION_ID),),
            ),
            Shape(
                "GET",
                f"/locate/{LOCATION_ID}",
                "GET /locate/{location_id}",
                path_params=(("location_id", LOCATION_ID),),
                content_type="",
                encoding="signed",
            ),
        ),
    ),
)

ENDPOINTS += (
    Endpoint(
        "sentry_envelope",
        "sentry_ingest",
        "sentry_auth",
        (
            Shape(
                "POST",
                f"/api/{_SENTRY}/envelope/",
                "POST /api/{app_id}/envelope/{proxy+}",
                path_params=(("app_id", _SENTRY), ("proxy", "")),
                content_type="application/x-sentry-envelope",
            ),
            Shape(
                "POST",
                f"/api/{_SENTRY}/envelope/",
                "POST /api/{app_id}/envelope/{proxy+}",
                "sentry_version=7&sentry_client=sentry.javascript.browser%2F11.12.0",
                path_params=(("app_id", _SENTRY), ("proxy", "")),
                content_type="text/plain;charset=UTF-8",
                encoding="query_key",
            ),
            Shape(
                "POST",
                f"/api/{_SENTRY}/envelope",
                "POST /api/{app_id}/envelope",
                path_params=(("app_id", _SENTRY),),
                content_type="application/x-sentry-envelope",
                encoding="gzip",
            ),
        ),
        sentry_envelope_seeds,
        _fresh_sentry_envelope,
        render_envelope,
    ),
    Endpoint(
        "sentry_store",
        "sentry_ingest",
        "sentry_auth",
        (
            Shape(
                "POST",
                f"/api/{_SENTRY}/store/",
                "POST /api/{app_id}/store/{proxy+}",
                path_params=(("app_id", _SENTRY), ("proxy", "")),
            ),
            Shape("POST", f"/api/{_SENTRY}/store", "POST /api/{app_id}/store", path_params=(("app_id", _SENTRY),)),
        ),
        sentry_store_seeds,
        _fresh_sentry_event,
    ),
    Endpoint(
        "protocol_fallback",
        "protocol_fallback",
        "none",
        tuple(
            Shape(method, path, route, path_params=(("proxy", path.split("/", 2)[-1]),) if "proxy" in route else ())
            for method in ("GET", "POST", "PUT", "DELETE", "OPTIONS")
            for path, route in (
                ("/api/1/itemz", "ANY /api/{proxy+}"),
                ("/api/1/log_entries/x", "ANY /api/{proxy+}"),
                (f"/api/{_SENTRY}/minidump/", "ANY /api/{proxy+}"),
                ("/1/unknown", "ANY /1/{proxy+}"),
                ("/v1/unknown.json", "ANY /v1/{proxy+}"),
                ("/events", "ANY /events"),
                ("/events/1", "ANY /events/{proxy+}"),
                ("/announce", "ANY /announce"),
                ("/announce/x", "ANY /announce/{proxy+}"),
                ("/locate/", "ANY /locate/{proxy+}"),
            )
        ),
        lambda: [{"access_token": "x", "data": {"body": {"message": {"body": "hi"}}}}],
    ),
    Endpoint("console", "console", "none", CONSOLE_SHAPES, console_form_seeds, render=render_form),
    Endpoint("console_signed_in", "console", "console_session", CONSOLE_SHAPES, console_form_seeds, render=render_form),
)

BY_NAME: dict[str, Endpoint] = {endpoint.name: endpoint for endpoint in ENDPOINTS}


# ---- credentials ---------------------------------------------------------------------------------


def credential_for(endpoint: Endpoint) -> str:
    kind = {
        "rollbar_header": "rollbar_post_server_item",
        "rollbar_read": "rollbar_read",
        "appsignal_query": "appsignal_push",
        "crashlog_hmac": "crashlog",
        "query_token": "personal",
        "sentry_auth": "sentry_dsn",
        "none": "personal",
        "console_session": "personal",
    }[endpoint.credentials]
    if endpoint.name == "crashlog_locate":
        kind = "personal"
    return DEMO_CREDENTIALS[kind]


def apply_credentials(
    endpoint: Endpoint,
    shape: Shape,
    token: str,
    headers: dict[str, str],
    query: str,
    body: bytes,
    sign: Callable[[dict[str, str], str, bytes], dict[str, str]],
) -> tuple[dict[str, str], str]:
    """Present `token` the way this endpoint's clients do; returns (headers, query)."""
    joined = (query + "&") if query else ""
    if endpoint.credentials == "rollbar_header" or endpoint.credentials == "rollbar_read":
        return {**headers, "x-rollbar-access-token": token}, query
    if endpoint.credentials == "appsignal_query":
        return headers, f"{joined}api_key={quote(token.encode('utf-8', 'surrogatepass'), safe='')}"
    if endpoint.credentials == "crashlog_hmac":
        return sign(headers, shape.path, body), query
    if endpoint.credentials == "query_token":
        if shape.encoding == "signed":
            return sign(headers, shape.path, body), query
        return headers, f"{joined}token={quote(token.encode('utf-8', 'surrogatepass'), safe='')}"
    if endpoint.credentials == "sentry_auth":
        if shape.encoding == "query_key":  # @sentry/browser: the key in the query, no auth header
            return headers, f"{joined}sentry_key={quote(token.encode('utf-8', 'surrogatepass'), safe='')}"
        auth = f"Sentry sentry_key={token}, sentry_version=7, sentry_client=sentry.python/2.75.0"
        return {**headers, "x-sentry-auth": auth}, query
    if endpoint.credentials == "none":
        return headers, query
    if endpoint.credentials == "console_session":
        if token != credential_for(endpoint):  # an edited credential: a forged or broken cookie
            return {**headers, "cookie": f"lodge_session={token}"}, query
        return {**headers, "cookie": SESSION.get("cookie", "")}, query
    raise ValueError(endpoint.credentials)


def fill_placeholders(text: str) -> str:
    """The console cases' placeholders: the stored issue and occurrence, the session's CSRF token."""
    for name, key in ((ISSUE, "issue"), (OCCURRENCE, "occurrence"), (CSRF, "csrf")):
        text = text.replace(name, SESSION.get(key, "none"))
    return text
