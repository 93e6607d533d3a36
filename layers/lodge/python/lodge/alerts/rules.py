"""Alert rules: validating a new rule, adding one (with its email subscription), and showing one
without its credentials. The CLI (`lodge alert ...`) and the console's Settings page both call
these, so a rule is checked, stored and displayed the same way from either (stored by
lodge.storage.alerts, one item per destination)."""

from __future__ import annotations

import json
import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lodge.alerts.model import ALERT_KINDS, DEFAULT_CAP, DESTINATION_KINDS, LEVELS, Rule

if TYPE_CHECKING:
    from lodge.storage import Store

MAX_NAME = 100
MAX_URL = 2000
MAX_EMAIL = 254
MAX_ENVIRONMENTS = 20
MAX_ENVIRONMENT = 100
MAX_CAP = 10_000
SHOWN_TAIL = 4
"""Characters of a URL's path shown after the mask, once the path is long enough to hide the rest."""


class RuleError(ValueError):
    """A rule that cannot work (bad URL, unknown kind or level); the message says why, for people."""


def _quoted(value: str) -> str:
    return repr(value[:40] + ("…" if len(value) > 40 else ""))


def check_url(url: str) -> str:
    """Only absolute http(s) URLs with a host: no file:, no schemeless paths. The message never
    repeats the URL (a Slack webhook URL is a credential); only its scheme."""
    if len(url) > MAX_URL:
        raise RuleError(f"the destination URL is longer than {MAX_URL} characters")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise RuleError("the destination URL must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError as error:
        raise RuleError("the destination URL is not a valid URL") from error
    if parts.scheme not in ("http", "https") or not hostname:
        got = f"{parts.scheme}:" if parts.scheme else "no scheme"
        raise RuleError(f"the destination URL must start with http:// or https:// and name a host (got {got})")
    return url


def check_email(email: str) -> str:
    local, at, domain = email.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain
        or len(email) > MAX_EMAIL
        or any(c.isspace() or ord(c) < 0x20 for c in email)
    ):
        raise RuleError("an email destination needs an address like oncall@example.com")
    return email


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
    """A validated rule with a fresh id (and, for a signed webhook without one, a fresh secret)."""
    if destination not in DESTINATION_KINDS:
        raise RuleError(f"unknown destination {_quoted(destination)}: choose {', '.join(DESTINATION_KINDS)}")
    chosen = set(kinds or ALERT_KINDS)
    unknown = sorted(chosen - set(ALERT_KINDS))
    if unknown:
        raise RuleError(f"unknown trigger {_quoted(unknown[0])}: the triggers are {', '.join(ALERT_KINDS)}")
    if min_level not in LEVELS:
        raise RuleError(f"unknown level {_quoted(min_level)}: the levels are {', '.join(LEVELS)}")
    if not 1 <= cap <= MAX_CAP:
        raise RuleError(f"the hourly cap must be between 1 and {MAX_CAP}")
    if len(name) > MAX_NAME:
        raise RuleError(f"the name is longer than {MAX_NAME} characters")
    envs = [e for e in (environments or ()) if e]
    if len(envs) > MAX_ENVIRONMENTS or any(len(e) > MAX_ENVIRONMENT for e in envs):
        raise RuleError(f"at most {MAX_ENVIRONMENTS} environments of at most {MAX_ENVIRONMENT} characters each")
    if destination in ("slack", "webhook"):
        if not url:
            raise RuleError(f"a {destination} destination needs a URL")
        check_url(url)
    if destination == "email":
        check_email(email or "")
    if destination == "webhook" and not secret:
        secret = "whsec_" + secrets.token_urlsafe(32)
    return Rule(
        id=secrets.token_hex(8),
        project_id=project_id,
        name=name or destination,
        destination=destination,
        kinds=frozenset(chosen),
        environments=frozenset(envs),
        min_level=min_level,
        url=url,
        secret=secret if destination == "webhook" else None,
        email=email if destination == "email" else None,
        cap=cap,
        created=round(time.time(), 3),
    )


def add_rule(store: Store, rule: Rule, sns: Any = None, topic_arn: str | None = None) -> None:
    """Store a rule; an email rule first subscribes its address to the alert topic with a filter
    policy, so it receives only its rule's alerts (SNS mails a confirmation link)."""
    if rule.destination == "email":
        if not topic_arn or sns is None:
            raise RuleError("this deployment has no alert topic (AlertTopicArn) for email destinations")
        try:
            sns.subscribe(
                TopicArn=topic_arn,
                Protocol="email",
                Endpoint=rule.email,
                Attributes={"FilterPolicy": json.dumps({"email": [rule.email]})},
            )
        except Exception as error:  # botocore's ClientError or a network failure: nothing stored
            raise RuleError(f"SNS did not subscribe the address ({type(error).__name__}); try again") from error
    store.put_alert_rule(rule)


def mask_url(url: str) -> str:
    """`https://hooks.slack.com/…XXXX`: scheme and host, never the path or query that holds the
    credential (only its last few characters, once it is long enough that they give nothing away)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "…"
    host = f"[{host}]" if ":" in host else host
    rest = url.split(parts.netloc, 1)[-1] if parts.netloc else ""
    tail = rest[-SHOWN_TAIL:] if len(rest) >= 4 * SHOWN_TAIL else ""
    return f"{parts.scheme}://{host}{port}/…{tail}"


def masked_destination(rule: Rule) -> str:
    """Where a rule sends, safe for a page, a log line or a terminal: webhook URLs masked, the
    signing secret never; an email address in full (it is no credential)."""
    if rule.destination == "email":
        return rule.email or ""
    return mask_url(rule.url or "")


def describe(rule: Rule) -> str:
    """One line per rule (`lodge alert list`)."""
    envs = ",".join(sorted(rule.environments)) or "all"
    signed = " signed" if rule.secret else ""
    return (
        f"{rule.id}  {rule.destination:<7} {masked_destination(rule)}{signed}  kinds={','.join(sorted(rule.kinds))} "
        f"env={envs} min-level={rule.min_level} cap={rule.cap}/h"
    )
