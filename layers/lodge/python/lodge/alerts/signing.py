"""HMAC-SHA256 webhook signatures over `timestamp.body`, the way Stripe and Sentry sign theirs.

Header: `Lodge-Signature: t=<unix seconds>,v1=<hex hmac>`. Receivers recompute the HMAC with the
rule's secret over `<t>.<raw body>`, compare in constant time and refuse a timestamp outside their
tolerance (a replay). `verify` is that check; it needs only the standard library, so receivers can
copy it (docs/alerts.md).
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Lodge-Signature"
DEFAULT_TOLERANCE = 300


class SignatureError(ValueError):
    """The signature header is missing, malformed, wrong, or too old/new (a replay)."""


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    secret: str, body: bytes, header: str | None, tolerance: int = DEFAULT_TOLERANCE, now: float | None = None
) -> int:
    """Check a `Lodge-Signature` header against the raw body; returns its timestamp or raises."""
    if not header:
        raise SignatureError("no signature header")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError) as error:
        raise SignatureError("no timestamp in the signature header") from error
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError("timestamp outside the tolerance (a replay?)")
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    if not any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", [])):
        raise SignatureError("signature does not match the body")
    return timestamp
