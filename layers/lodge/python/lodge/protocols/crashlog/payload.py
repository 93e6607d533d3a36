"""The `payload` object every signed CrashLog POST (`/events`, `/announce`) wraps its content in, read
in the one safe order: the signature first, then the rate limit, then the body."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lodge.http import HttpError, Request, loads
from lodge.protocols.crashlog.auth import enforce_rate_limit, verify

if TYPE_CHECKING:
    from lodge import auth
    from lodge.storage import Store


def payload_of(body: bytes) -> dict[str, Any]:
    """The `payload` object every CrashLog request body wraps its content in."""
    document = _loads(body)
    if not isinstance(document, dict) or not isinstance(document.get("payload"), dict):
        raise HttpError(400, 'request body must be a JSON object with a "payload" object')
    payload: dict[str, Any] = document["payload"]
    return payload


def signed_payload(store: Store, request: Request, max_body_bytes: int) -> tuple[auth.TokenInfo, dict[str, Any]]:
    """The prologue of every signed POST (/events, /announce), in its one safe order: the signature
    first (nothing is decoded for an unauthenticated caller), then the rate limit, then the body."""
    info = verify(store, request)
    enforce_rate_limit(store, info)
    return info, payload_of(request.body(max_body_bytes))


def _loads(body: bytes) -> Any:
    if not body.strip():
        raise HttpError(400, "request body is empty")
    return loads(body)
