"""The AppSignal push api key: which project it names, and its rate limit (docs/protocols/appsignal.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lodge.http import HttpError

if TYPE_CHECKING:
    from lodge.auth import TokenInfo
    from lodge.storage import Store


def authenticate(store: Store, api_key: str, *, rate_limited: bool = True) -> TokenInfo:
    """The push key's token (401 unless it has the appsignal_push scope); enforces its rate limit
    on the ingest path (markers and key checks are rare, and their function has no UpdateItem grant).

    Over the limit the answer is 420 "Enhance Your Calm": the gem backs off (`sleep_time *= 1.5`),
    whereas 429 would stop its agent until the process restarts (docs/protocols/appsignal.md).
    """
    import time

    from lodge import auth
    from lodge.storage.errors import relabelled

    with relabelled("could not look up the push api key"):  # a 503: the gem keeps the batch and retries
        info = auth.lookup(store, api_key)
    if info is None or not info.allows(auth.APPSIGNAL_PUSH):
        raise HttpError(401, "invalid push api key")
    if rate_limited and info.rate_limit is not None:
        with relabelled("could not count the request against the rate limit"):
            allowed, _remaining, reset = store.hit_rate_limit(info.token_hash, info.rate_limit)
        if not allowed:
            retry = str(max(1, reset - int(time.time())))
            raise HttpError(420, "rate limit exceeded", headers={"Retry-After": retry})
    return info
