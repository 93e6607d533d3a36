"""Rollbar access tokens: where each endpoint finds one, which scopes it needs, and its rate limit.

Status policy (docs/protocols/rollbar.md). Rollbar never answers 401 on its API; its table says
"403 Access denied - the access token was missing, invalid, or does not have the necessary
permissions", while the real item endpoint answers a *missing* token with 422 (rollbar-gem#971).
So on the item and deploy endpoints: no token -> 422, unknown token / header-body mismatch / wrong
scope -> 403; on the read API every token problem is 403. Never 401.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lodge import auth
from lodge.protocols.rollbar.answers import fail, invalid, storage

if TYPE_CHECKING:
    from lodge.http import Request
    from lodge.storage import Store

CLIENT_PLATFORMS = frozenset({"browser", "android", "ios", "flash", "client"})


def token_hint(token: str) -> str:
    """What an error may echo of a token: a short prefix only, never a usable credential."""
    return (token[:4] + "...") if len(token) > 8 else "..."


def resolve_token(store: Store, token: str) -> auth.TokenInfo:
    with storage("look up the access token"):
        info = auth.lookup(store, token)
    if info is None:
        raise fail(403, f"access token not found: {token_hint(token)}")
    return info


def require_scope(info: auth.TokenInfo, *scopes: str, required: str | None = None) -> None:
    """403 unless the token has one of `scopes`; the message names `required` (else the first scope)."""
    if any(info.allows(scope) for scope in scopes):
        return
    have = ", ".join(sorted(info.scopes)) or "no scopes"
    raise fail(
        403, f"insufficient privileges: {required or scopes[0]} scope is required but the access token only has {have}."
    )


def presented_token(request: Request, payload: Mapping[str, Any] | None) -> str:
    """The item endpoint's token: header or payload; both present must agree (compared in constant time)."""
    header = request.header("x-rollbar-access-token").strip()
    body_token = payload.get("access_token") if payload else None
    if body_token is not None and not isinstance(body_token, str):
        raise invalid("access_token should be string.")
    body_token = (body_token or "").strip()
    if header and body_token and not auth.constant_time_equals(header, body_token):
        raise fail(
            403, "access token mismatch: the X-Rollbar-Access-Token header and the payload's access_token differ."
        )
    token = header or body_token
    if not token:
        raise invalid("access_token is missing and it is required.")
    return token


def check_post_scope(info: auth.TokenInfo, platform: Any) -> None:
    """post_server_item may post anything; post_client_item only client platforms (docs/protocols/rollbar.md)."""
    is_client = isinstance(platform, str) and platform.strip().lower() in CLIENT_PLATFORMS
    if is_client:
        require_scope(info, auth.POST_SERVER_ITEM, auth.POST_CLIENT_ITEM, required="post_client_item")
    else:
        require_scope(info, auth.POST_SERVER_ITEM, required="post_server_item")


def authorize_deploy(request: Request, store: Store, fields: Mapping[str, Any], *scopes: str) -> auth.TokenInfo:
    """A deploy request's token: header, body or query; any of `scopes` will do. Same 422/403 policy as /item/."""
    candidates = [
        request.header("x-rollbar-access-token"),
        fields.get("access_token") if isinstance(fields.get("access_token"), str) else "",
        request.query.get("access_token", ""),
    ]
    present = [c.strip() for c in candidates if c and c.strip()]
    if not present:
        raise invalid("access_token is missing and it is required.")
    if any(not auth.constant_time_equals(present[0], other) for other in present[1:]):
        raise fail(403, "access token mismatch: the tokens in the header, body and query string differ.")
    info = resolve_token(store, present[0])
    require_scope(info, *scopes)
    return info


def authorize_read(request: Request, store: Store, scope: str = auth.READ) -> auth.TokenInfo:
    """The token of a read-API (or, with `scope=auth.WRITE`, a triage) request; 403 for any problem."""
    token = request.header("x-rollbar-access-token").strip() or request.query.get("access_token", "").strip()
    if not token:
        raise fail(403, "access token is missing; send it in the X-Rollbar-Access-Token header")
    info = resolve_token(store, token)
    require_scope(info, scope)
    return info


def rate_limit_headers(limit: int, remaining: int, reset: int, now: float | None = None) -> dict[str, str]:
    seconds = max(0, reset - int(now if now is not None else time.time()))
    return {
        "X-Rate-Limit-Limit": str(limit),
        "X-Rate-Limit-Remaining": str(remaining),
        "X-Rate-Limit-Remaining-Seconds": str(seconds),
        "X-Rate-Limit-Reset": str(reset),
    }


def apply_rate_limit(store: Store, info: auth.TokenInfo) -> dict[str, str]:
    """Count the request against the token's per-minute limit; 429 when over. No limit, no write."""
    if not info.rate_limit:
        return {}
    with storage("count the request against the rate limit"):
        allowed, remaining, reset = store.hit_rate_limit(info.token_hash, info.rate_limit)
    headers = rate_limit_headers(info.rate_limit, remaining, reset)
    if not allowed:
        raise fail(429, "rate limit reached for this access token; retry after the window resets", headers)
    return headers
