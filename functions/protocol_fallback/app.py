"""Any path under a protocol's prefix that no other route serves: that protocol's error JSON, 404.

API Gateway answers unmatched paths with `{"message":"Not Found"}`, which clients cannot tell from
success: rollbar.js pointed at `…/api/1/` (pyrollbar's base) reads no `err` and drops every report
silently. The template routes each protocol prefix here with `ANY …/{proxy+}` routes, which API
Gateway picks only when no more specific route matches (the local runner ranks them the same way).
Only `lodge.http` is imported: no storage, no pydantic, a small cold start.
"""

from __future__ import annotations

from typing import Any

from lodge import http

CORS_HEADERS = {"Access-Control-Allow-Origin": "*"}
APPSIGNAL_V01_PATHS = ("/api/1/log_entries", "/api/1/markers", "/api/1/auth")
"""AppSignal gem 0.1 posts under Rollbar's /api/1/ prefix; those paths keep AppSignal's shape."""


def protocol_of(path: str) -> str:
    """Which client family a path under a served prefix belongs to."""
    if path.startswith("/api/1/") or path == "/api/1":
        return "appsignal" if path.rstrip("/").startswith(APPSIGNAL_V01_PATHS) else "rollbar"
    if path.startswith(("/events", "/announce", "/locate")):
        return "crashlog"
    segments = path.split("/")
    if len(segments) > 2 and segments[1] == "api" and segments[2].isascii() and segments[2].isdigit():
        return "sentry"  # a DSN's project number is all digits; AppSignal app ids are 24 hex digits
    return "appsignal"  # /1/, /v1/ (push API) and /api/<app id>/ (query API)


def body_for(protocol: str, message: str) -> dict[str, Any]:
    if protocol == "rollbar":
        return {"err": 1, "message": message}  # Rollbar's envelope (lodge.protocols.rollbar.answers.error_body)
    if protocol == "sentry":
        return {"detail": message}  # Relay's error shape (lodge.protocols.sentry.answers)
    return {"error": message}  # AppSignal's and CrashLog's, as their handlers answer (lodge.http.error_response)


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    context_http = (event.get("requestContext") or {}).get("http") or {}
    method = str(context_http.get("method") or "GET").upper()
    path = str(event.get("rawPath") or context_http.get("path") or "/")
    protocol = protocol_of(path)
    message = f"no such endpoint: {method} {path}"
    headers = CORS_HEADERS if protocol in ("rollbar", "sentry") else None  # browser clients read these
    return http.response(404, body_for(protocol, message), headers)
