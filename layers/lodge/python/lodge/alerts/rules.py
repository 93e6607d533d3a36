"""Alert rules: validation of a new rule (stored by lodge.storage.alerts, one item per destination)."""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlsplit

from lodge.alerts.model import ALERT_KINDS, DEFAULT_CAP, DESTINATION_KINDS, LEVELS, Rule


class RuleError(ValueError):
    """A rule that cannot work (bad URL, unknown kind or level)."""


def check_url(url: str) -> str:
    """Only absolute http(s) URLs with a host: no file:, no schemeless paths."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RuleError(f"destination URL must be http:// or https:// with a host, got {url!r}")
    return url


def new_rule(
    project_id: str,
    destination: str,
    *,
    name: str = "",
    url: str | None = None,
    email: str | None = None,
    kinds: list[str] | None = None,
    environments: list[str] | None = None,
    min_level: str = "debug",
    cap: int = DEFAULT_CAP,
    secret: str | None = None,
) -> Rule:
    if destination not in DESTINATION_KINDS:
        raise RuleError(f"destination must be one of {', '.join(DESTINATION_KINDS)}")
    chosen = set(kinds or ALERT_KINDS)
    if not chosen <= set(ALERT_KINDS):
        raise RuleError(f"alert kinds are {', '.join(ALERT_KINDS)}")
    if min_level not in LEVELS:
        raise RuleError(f"levels are {', '.join(LEVELS)}")
    if cap < 1:
        raise RuleError("the hourly cap must be at least 1")
    if destination in ("slack", "webhook"):
        if not url:
            raise RuleError(f"a {destination} destination needs a URL")
        check_url(url)
    if destination == "email" and (not email or "@" not in email):
        raise RuleError("an email destination needs an address")
    if destination == "webhook" and not secret:
        secret = "whsec_" + secrets.token_urlsafe(32)
    return Rule(
        id=secrets.token_hex(8),
        project_id=project_id,
        name=name or destination,
        destination=destination,
        kinds=frozenset(chosen),
        environments=frozenset(environments or ()),
        min_level=min_level,
        url=url,
        secret=secret if destination == "webhook" else None,
        email=email if destination == "email" else None,
        cap=cap,
        created=round(time.time(), 3),
    )
