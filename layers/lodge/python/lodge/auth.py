"""Projects and credentials: tokens are stored only as SHA-256 hashes; lookups are cached briefly.

Tokens are 128+ bit random strings, so a plain SHA-256 is a sufficient one-way hash (no password
stretching needed). The exception is the CrashLog secret: HMAC verification needs the secret
itself, so it is stored (encrypted at rest by the table's key) on the api key's token item.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lodge.config import settings
from lodge.models.credentials import Credential

if TYPE_CHECKING:
    from lodge.storage import Store

# Scopes. Rollbar's four keep Rollbar's names so its docs and error messages apply unchanged.
POST_SERVER_ITEM = "post_server_item"
POST_CLIENT_ITEM = "post_client_item"
READ = "read"
WRITE = "write"
APPSIGNAL_PUSH = "appsignal_push"
CRASHLOG = "crashlog"
SENTRY_INGEST = "sentry_ingest"  # Sentry: the DSN public key (lodge.protocols.sentry.auth)

# Credential kinds a project gets, with their scopes.
KINDS: dict[str, frozenset[str]] = {
    "rollbar_post_server_item": frozenset({POST_SERVER_ITEM}),
    "rollbar_post_client_item": frozenset({POST_CLIENT_ITEM}),
    "rollbar_read": frozenset({READ}),
    "rollbar_write": frozenset({WRITE}),
    "appsignal_push": frozenset({APPSIGNAL_PUSH}),
    "crashlog": frozenset({CRASHLOG}),
    "personal": frozenset({READ, WRITE}),
    "sentry_dsn": frozenset({SENTRY_INGEST}),  # 32 hex characters, like Sentry's public keys
}


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def constant_time_equals(left: str | bytes, right: str | bytes) -> bool:
    a = left.encode("utf-8", "surrogatepass") if isinstance(left, str) else left
    b = right.encode("utf-8", "surrogatepass") if isinstance(right, str) else right
    return hmac.compare_digest(a, b)


def _new_token(kind: str) -> str:
    if kind in ("appsignal_push", "crashlog"):
        return str(uuid.uuid4())  # both vendors' keys look like uuids
    return secrets.token_hex(16)  # Rollbar tokens are 32 hex characters


@dataclass(frozen=True)
class TokenInfo:
    project_id: str
    kind: str
    scopes: frozenset[str]
    token_hash: str
    label: str = ""
    secret: str | None = None
    rate_limit: int | None = None
    """Requests per minute allowed for this token; None means unlimited (no counter write)."""

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


def _info(credential: Credential) -> TokenInfo:
    return TokenInfo(
        project_id=credential.project_id,
        kind=credential.kind,
        scopes=credential.scopes,
        token_hash=credential.token_hash,
        label=credential.label,
        secret=credential.secret,
        rate_limit=credential.rate_limit,
    )


class TokenCache:
    """Per-process cache of token lookups, so a warm function reads each token once a minute."""

    def __init__(self, ttl_seconds: float | None = None, negative_ttl_seconds: float = 5.0) -> None:
        self.ttl = ttl_seconds
        """None: TOKEN_CACHE_SECONDS from the settings (default 60)."""
        self.negative_ttl = negative_ttl_seconds
        self._entries: dict[str, tuple[float, TokenInfo | None]] = {}

    def lookup(self, store: Store, token: str) -> TokenInfo | None:
        if not token:
            return None
        token_hash = hash_token(token)
        now = time.monotonic()
        cached = self._entries.get(token_hash)
        if cached and cached[0] > now:
            return cached[1]
        credential = store.credential(token_hash)
        info = _info(credential) if credential else None
        if len(self._entries) > 10_000:
            self._entries.clear()
        ttl = (self.ttl if self.ttl is not None else settings().token_cache_seconds) if info else self.negative_ttl
        self._entries[token_hash] = (now + ttl, info)
        return info

    def clear(self) -> None:
        self._entries.clear()

    def forget(self, token_hash: str) -> None:
        self._entries.pop(token_hash, None)


_cache = TokenCache()


def lookup(store: Store, token: str | None) -> TokenInfo | None:
    """Resolve a presented token (cached); None when unknown, revoked or empty."""
    return _cache.lookup(store, token or "")


def clear_cache() -> None:
    _cache.clear()


# ---- provisioning (admin CLI, tests) -----------------------------------------------------------


def issue_token(
    store: Store,
    project_id: str,
    kind: str,
    label: str = "",
    rate_limit: int | None = None,
    *,
    token: str | None = None,
    secret: str | None = None,
) -> tuple[str, str | None]:
    """Create a credential of `kind`; returns (token, secret). The secret is only for CrashLog.

    `token`/`secret` are for fixed local demo credentials; otherwise fresh random values are made.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown credential kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    token = token or _new_token(kind)
    secret = (secret or secrets.token_urlsafe(30)) if kind == "crashlog" else None
    store.add_credential(
        Credential(
            token_hash=hash_token(token),
            project_id=project_id,
            kind=kind,
            scopes=KINDS[kind],
            label=label or kind,
            created=int(time.time()),
            secret=secret,
            rate_limit=rate_limit,
        )
    )
    return token, secret


def create_project(
    store: Store, name: str, project_id: str | None = None, fixed: dict[str, str] | None = None
) -> tuple[str, dict[str, str]]:
    """Create a project with one credential of every kind; returns (project id, credentials).

    Project ids are 24 hex characters, the shape of AppSignal's app ids. `fixed` supplies known
    credential values (same keys as the returned dict) for the local demo project only.
    """
    fixed = fixed or {}
    project_id = project_id or secrets.token_hex(12)
    store.put_project(project_id, name)
    credentials: dict[str, str] = {}
    for kind in KINDS:
        fixed_secret = fixed.get("crashlog_secret") if kind == "crashlog" else None
        token, secret = issue_token(store, project_id, kind, token=fixed.get(kind), secret=fixed_secret)
        credentials[kind] = token
        if secret:
            credentials["crashlog_secret"] = secret
    return project_id, credentials


def revoke_token(store: Store, token_or_hash: str, project_id: str) -> bool:
    """Delete a credential given the token itself or its hash (as `lodge token list` shows it)."""
    candidates = {token_or_hash, hash_token(token_or_hash)}
    for token_hash in candidates:
        credential = store.credential(token_hash)
        if credential and credential.project_id == project_id:
            store.remove_credential(project_id, token_hash)
            _cache.forget(token_hash)  # other warm processes still hold it until their cache expires
            return True
    return False
