"""Relay's answers: `{"id": ...}` on success, `{"detail": ..., "causes": [...]}` on failure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lodge.http import HttpError, response

RATE_LIMIT_SCOPE = "key"
"""X-Sentry-Rate-Limits scope: Lodge limits per DSN key (Relay's `key` scope)."""
MAX_RETRY_AFTER = 300
"""Relay never reports a limit longer than 300 s to clients."""


def fail(status: int, detail: str, causes: Sequence[str] = (), headers: Mapping[str, str] | None = None) -> HttpError:
    body: dict[str, Any] = {"detail": detail}
    if causes:
        body["causes"] = list(causes)
    return HttpError(status, detail, body=body, headers=headers)


def invalid_envelope(cause: str) -> HttpError:
    return fail(400, "invalid event envelope", [cause])


def rate_limited(retry_after: int) -> HttpError:
    seconds = max(1, min(MAX_RETRY_AFTER, retry_after))
    headers = {"Retry-After": str(seconds), "X-Sentry-Rate-Limits": f"{seconds}::{RATE_LIMIT_SCOPE}"}
    return fail(429, "event submission rejected: rate limit reached for this DSN key", headers=headers)


def on_error(error: HttpError) -> dict[str, Any]:
    """Every failure in Relay's JSON shape, whichever layer raised it (size bounds, storage, bugs)."""
    body = error.body if isinstance(error.body, dict) and "detail" in error.body else {"detail": error.message}
    return response(error.status, body, error.headers)


def ok(event_id: str | None) -> dict[str, Any]:
    return response(200, {"id": event_id})
