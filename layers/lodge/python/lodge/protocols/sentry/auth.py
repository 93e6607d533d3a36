"""DSN public keys: where a request carries one, which project a DSN names, and the DSN itself.

Sentry SDKs insist on a numeric project id in the DSN (sentry-python parses it with `int()`,
@sentry/core rejects anything but digits), while Lodge's project ids are 24 hex characters. The DSN
therefore carries the project id as the decimal number those hex digits spell: no lookup is
needed to map one onto the other, and the mapping is one-to-one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lodge import auth
from lodge.http import Request
from lodge.protocols.sentry.answers import fail, rate_limited
from lodge.storage.errors import relabelled

if TYPE_CHECKING:
    from lodge.storage import Store

KIND = "sentry_dsn"
"""The credential kind in lodge.auth.KINDS: the DSN public key, stored as a hash like every token."""
PROJECT_HEX_DIGITS = 24
_MAX_DECIMAL = 16**PROJECT_HEX_DIGITS
_PUBLIC_KEY = re.compile(r"[0-9a-zA-Z_]{1,64}")
_AUTH_PAIR = re.compile(r"\s*([a-z_]+)\s*=\s*([^,\s]*)\s*")


def dsn_project_number(project_id: str) -> str:
    """The project id as it appears in a DSN (decimal)."""
    return str(int(project_id, 16))


def project_from_path(number: str) -> str:
    """`/api/<number>/...` back to the project id; 400 when it cannot be one of Lodge's."""
    if not (number.isascii() and number.isdigit()) or len(number) > 30 or int(number) >= _MAX_DECIMAL:
        raise fail(400, "bad project path", ["the project id in the URL must be the number in your DSN"])
    return format(int(number), f"0{PROJECT_HEX_DIGITS}x")


def dsn(api_url: str, public_key: str, project_id: str) -> str:
    """`<scheme>://<public key>@<host>[/<path>]/<number>` for an API base URL (ApiUrl or the runner's)."""
    parts = urlsplit(api_url.rstrip("/") + "/")
    path = parts.path.rstrip("/")
    return f"{parts.scheme}://{public_key}@{parts.netloc}{path}/{dsn_project_number(project_id)}"


def _auth_fields(value: str) -> dict[str, str]:
    """`Sentry sentry_key=..., sentry_version=7, sentry_client=...` as a dict (Relay's parser)."""
    text = value.strip()
    if text[:7].lower() == "sentry ":
        text = text[7:]
    fields: dict[str, str] = {}
    for part in text.split(","):
        match = _AUTH_PAIR.fullmatch(part)
        if match is None:
            raise fail(401, "bad x-sentry-auth header", ["expected `Sentry sentry_key=<key>, sentry_version=7`"])
        fields[match.group(1)] = match.group(2)
    return fields


def _dsn_key(envelope_headers: Mapping[str, Any]) -> str | None:
    value = envelope_headers.get("dsn")
    if value is None:
        return None
    if not isinstance(value, str):
        raise fail(401, "bad envelope authentication", ["the envelope header's dsn must be a string"])
    key = urlsplit(value).username
    if not key:
        raise fail(401, "bad envelope authentication", ["the envelope header's dsn has no public key"])
    return key


def presented_key(request: Request, envelope_headers: Mapping[str, Any] | None = None) -> str:
    """The DSN public key from X-Sentry-Auth (or Authorization: Sentry ...), ?sentry_key= or the envelope's dsn.

    Several places may carry it (the browser SDK's query string, a tunnel's envelope header); when
    they disagree the request is refused rather than one silently chosen.
    """
    keys: list[str] = []
    header = request.header("x-sentry-auth") or (
        request.header("authorization") if request.header("authorization")[:7].lower() == "sentry " else ""
    )
    if header:
        fields = _auth_fields(header)
        if "sentry_key" not in fields:
            raise fail(401, "bad x-sentry-auth header", ["sentry_key is missing"])
        keys.append(fields["sentry_key"])
    if "sentry_key" in request.query:
        keys.append(request.query["sentry_key"])
    envelope_key = _dsn_key(envelope_headers or {})
    if envelope_key is not None:
        keys.append(envelope_key)
    if not keys:
        raise fail(401, "missing authorization information")
    if any(not auth.constant_time_equals(keys[0], other) for other in keys[1:]):
        raise fail(401, "multiple authorization payloads detected", ["the DSN keys in this request differ"])
    if not _PUBLIC_KEY.fullmatch(keys[0]):
        raise fail(401, "bad public key")
    return keys[0]


def authenticate(
    store: Store, request: Request, project_id: str, envelope_headers: Mapping[str, Any] | None
) -> auth.TokenInfo:
    """The key's credential, if it is a live DSN key of this very project, counted against its rate limit."""
    key = presented_key(request, envelope_headers)
    with relabelled("could not look up the DSN key"):
        info = auth.lookup(store, key)
    if info is None or not info.allows(auth.SENTRY_INGEST):
        raise fail(403, "event submission rejected with_reason: ProjectKey", ["unknown or revoked DSN public key"])
    if not auth.constant_time_equals(info.project_id, project_id):
        raise fail(403, "event submission rejected with_reason: ProjectId", ["this DSN key belongs to another project"])
    if info.rate_limit:
        with relabelled("could not count the request against the rate limit"):
            allowed, _remaining, reset = store.hit_rate_limit(info.token_hash, info.rate_limit)
        if not allowed:
            raise rate_limited(reset - int(time.time()))
    return info
