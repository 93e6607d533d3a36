"""CrashLog request authentication: `Authorization: CrashLog|Staging <api_key>:<base64 HMAC-SHA1>`.

The client signs the string `VERB\\nContent-Type\\nContent-MD5\\nDate\\npath` - path without query,
missing headers as "", no trailing newline - with the project's secret (its raw bytes). Lodge adds
two checks the original gem never made: a Content-MD5 header, when sent, must match the body (hex
as Node sends it, or RFC 1864 base64), and the Date must lie within `CRASHLOG_DATE_WINDOW_SECONDS`
(default 900; 0 turns the check off, e.g. to replay the signed sample events in events/).

Known weaknesses of the protocol, which Lodge cannot fix without breaking the real clients:
- Without Content-MD5 (the Ruby gem and the Java appender never send it) the body is NOT signed.
  Anyone who sees one signed request can send any body with the same headers until the Date falls
  out of the window. Node with `checksum:true` sends the MD5 but signs an empty MD5 slot, so its
  body is not protected either. Lodge does not reject a repeated signature: two different events
  sent in the same second legitimately carry the same one.
- The api key travels in clear text. So TLS is what actually protects CrashLog traffic; never point
  a client at Lodge over plain HTTP outside a trusted network.

Failures are one uniform 401 with a JSON body (the Ruby client crashes on a non-JSON body) that
never says which part was wrong; signatures are compared in constant time and never logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import time
from typing import TYPE_CHECKING

from lodge import auth
from lodge.http import HttpError, Request
from lodge.normalize.timestamps import parse_http_date
from lodge.storage.errors import relabelled

if TYPE_CHECKING:
    from lodge.storage import Store

SERVICE_IDS = ("CrashLog", "Staging")
DATE_WINDOW_ENV = "CRASHLOG_DATE_WINDOW_SECONDS"
DEFAULT_DATE_WINDOW_SECONDS = 15 * 60
AUTH_FAILED = "HMAC authentication failed"

_AUTHORIZATION = re.compile(r"^(CrashLog|Staging) ([^:]+):(.+)$")


def canonical_string(method: str, content_type: str, content_md5: str, date: str, path: str) -> str:
    """The signed string: exactly four newlines, no trailing one; the path loses its query string."""
    return "\n".join((method, content_type, content_md5, date, path.split("?", 1)[0]))


def sign(secret: str, canonical: str) -> str:
    """base64(HMAC-SHA1(secret bytes, canonical)): 28 characters ending in `=`."""
    mac = hmac.new(secret.encode("utf-8"), canonical.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(mac).decode("ascii")


def parse_authorization(header: str) -> tuple[str, str, str] | None:
    """`CrashLog <key>:<signature>` -> (service id, api key, signature); None for any other form."""
    match = _AUTHORIZATION.match(header.strip())
    if not match:
        return None
    return match.group(1), match.group(2), match.group(3).strip()


def md5_matches(header_value: str, body: bytes) -> bool:
    """Content-MD5 as RFC 1864 base64, or the lowercase hex the Node client sends."""
    digest = hashlib.md5(body, usedforsecurity=False).digest()
    value = header_value.strip()
    if re.fullmatch(r"[0-9a-fA-F]{32}", value):
        return auth.constant_time_equals(value.lower(), digest.hex())
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return auth.constant_time_equals(decoded, digest)


def date_window_seconds() -> int:
    """Allowed |now - Date| in seconds; 0 (or a negative value) disables the check."""
    raw = os.environ.get(DATE_WINDOW_ENV, "").strip()
    try:
        return int(raw) if raw else DEFAULT_DATE_WINDOW_SECONDS
    except ValueError:
        return DEFAULT_DATE_WINDOW_SECONDS


def unauthorized() -> HttpError:
    return HttpError(401, AUTH_FAILED, headers={"WWW-Authenticate": "CrashLog"})


def signed_path(request: Request) -> str:
    """The request-target path as the client sent it (not percent-decoded), without the query."""
    raw = request.event.get("rawPath")
    return str(raw) if raw else request.path


def verify(store: Store, request: Request, now: float | None = None) -> auth.TokenInfo:
    """Authenticate a CrashLog-signed request; any failure is the same 401, whatever went wrong."""
    parsed = parse_authorization(request.header("authorization"))
    if parsed is None:
        raise unauthorized()
    _service, api_key, signature = parsed
    info = auth.lookup(store, api_key)
    if info is None or not info.allows(auth.CRASHLOG) or not info.secret:
        raise unauthorized()

    date = request.header("date")
    if not date:
        raise unauthorized()
    window = date_window_seconds()
    if window > 0:
        sent = parse_http_date(date)
        current = time.time() if now is None else now
        if sent is None or abs(current - sent) > window:
            raise unauthorized()

    content_md5 = request.header("content-md5")
    if content_md5 and not md5_matches(content_md5, request.raw_body):
        raise unauthorized()

    content_type = request.header("content-type")
    path = signed_path(request)
    expected = sign(info.secret, canonical_string(request.method, content_type, content_md5, date, path))
    accepted = auth.constant_time_equals(signature, expected)
    if content_md5:
        # The Node client sends Content-MD5 but always signs an empty MD5 slot (docs/protocols/crashlog.md).
        unsigned_md5 = sign(info.secret, canonical_string(request.method, content_type, "", date, path))
        accepted = auth.constant_time_equals(signature, unsigned_md5) | accepted
    if not accepted:
        raise unauthorized()
    return info


def enforce_rate_limit(store: Store, info: auth.TokenInfo) -> None:
    """Per-credential limit, only for credentials that have one (no counter write otherwise)."""
    if not info.rate_limit:
        return
    with relabelled("could not count the request against the rate limit"):
        allowed, _remaining, reset = store.hit_rate_limit(info.token_hash, info.rate_limit)
    if not allowed:
        retry_after = str(max(1, reset - int(time.time())))
        raise HttpError(429, "rate limit exceeded", headers={"Retry-After": retry_after})
