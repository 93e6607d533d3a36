"""Console sessions: a signed cookie instead of a token, and CSRF tokens bound to it.

The cookie holds `<payload>.<signature>`: the payload is the project id, the hash of the personal
token that signed in, a random session id and an expiry; the signature is HMAC-SHA256 under the
deployment's session key (see data.session_key). The token itself is never stored in the cookie,
the page, a URL or a log line. CSRF tokens are HMACs of the session id, so they need no storage and
die with the session. Before sign-in, a short-lived "pre-session" cookie plays the same role for
the sign-in form (so another site cannot sign a browser into its own project).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

SESSION_COOKIE = "lodge_session"
PRE_COOKIE = "lodge_pre"
SESSION_SECONDS = 12 * 3600
PRE_SECONDS = 3600


@dataclass(frozen=True)
class Session:
    project_id: str
    token_hash: str
    sid: str
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, purpose: str, data: str) -> str:
    return _b64(hmac.new(key, f"{purpose}\x00{data}".encode(), hashlib.sha256).digest())


def seal(key: bytes, session: Session) -> str:
    payload = _b64(
        json.dumps(
            [session.project_id, session.token_hash, session.sid, session.expires], separators=(",", ":")
        ).encode()
    )
    return f"{payload}.{_mac(key, 'session', payload)}"


def open_session(key: bytes, value: str | None, now: float | None = None) -> Session | None:
    """The session a cookie value carries, or None when it is missing, forged, malformed or expired."""
    if not value or len(value) > 1024 or value.count(".") != 1:
        return None
    payload, signature = value.split(".")
    if not hmac.compare_digest(signature.encode(), _mac(key, "session", payload).encode()):
        return None
    try:
        project_id, token_hash, sid, expires = json.loads(_unb64(payload))
    except (ValueError, TypeError):
        return None
    if not all(isinstance(v, str) for v in (project_id, token_hash, sid)) or not isinstance(expires, int):
        return None
    if expires <= (now if now is not None else time.time()):
        return None
    return Session(project_id, token_hash, sid, expires)


def new_session(project_id: str, token_hash: str, now: float | None = None) -> Session:
    return Session(project_id, token_hash, secrets.token_urlsafe(18), int(now or time.time()) + SESSION_SECONDS)


def csrf_token(key: bytes, sid: str) -> str:
    return _mac(key, "csrf", sid)


def csrf_ok(key: bytes, sid: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(str(presented).encode(), csrf_token(key, sid).encode())


def new_pre_session() -> str:
    return secrets.token_urlsafe(18)


def cookie(name: str, value: str, *, max_age: int, secure: bool) -> str:
    """A Set-Cookie value: HttpOnly, SameSite=Lax, scoped to the console, Secure over https."""
    parts = [f"{name}={value}", "Path=/console", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    if max_age <= 0:
        parts.append("Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    return "; ".join(parts)
