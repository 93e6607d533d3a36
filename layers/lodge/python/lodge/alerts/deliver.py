"""Delivery of queued alerts: match rules, apply storm control, send, and report what failed.

Per (alert, destination) a conditional claim item decides who sends, so an SQS redelivery of the
same alert id never sends twice once it was sent (a crash between send and marking it sent is
the one window where a receiver may see an id twice; the id makes that recognisable). Storm
control per destination (docs/alerts.md): new issue at most once per issue (its alert id is one
per issue and its claim never expires), a regression at most once per hour per issue, and at most
`cap` alerts per window; the rest of a window folds into one summary sent when it closes.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lodge.alerts import handoff, render, signing
from lodge.alerts.model import Alert, IssueSummary, OccurrenceSummary, Rule, alert_id
from lodge.alerts.transport import DeliveryError, post
from lodge.storage import alerts as states

if TYPE_CHECKING:
    from lodge.storage import Store

log = logging.getLogger(__name__)

DEFAULT_RETRY_DELAYS = (60, 300, 900, 1800, 3600)
"""Visibility timeout after failed receive n (seconds); with maxReceiveCount 6 that is 6 tries over
~1 h 50 min before the dead-letter queue."""
CLAIM_LEASE = 120
WINDOW_SECONDS = 3600
REGRESSION_GAP = 3600
HTTP_TIMEOUT = 5.0
SAMPLE_SIZE = 10
KEEP_SECONDS = 30 * 86400
MAX_DELAY = 900

clock: Callable[[], float] = time.time
"""The time source (tests move it)."""


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        return float(raw) if raw else default
    except ValueError:
        return default


def retry_delays() -> tuple[int, ...]:
    raw = os.environ.get("LODGE_ALERT_RETRY_DELAYS", "")
    try:
        delays = tuple(int(x) for x in raw.split(",") if x.strip())
    except ValueError:
        delays = ()
    return delays or DEFAULT_RETRY_DELAYS


def window_seconds() -> int:
    return int(_env_float("LODGE_ALERT_WINDOW_SECONDS", WINDOW_SECONDS))


@dataclass
class Context:
    """Clients and settings one invocation needs."""

    store: Store
    sqs: Any = None
    sns: Any = None
    queue_url: str | None = None
    topic_arn: str | None = None
    base_url: str = ""
    http_timeout: float = HTTP_TIMEOUT
    project_names: dict[str, str] = field(default_factory=dict)
    rules: dict[str, list[Rule]] = field(default_factory=dict)
    """Per invocation: a batch of one project's alerts reads its rules once."""
    full_windows: set[tuple[str, int]] = field(default_factory=set)
    """(rule, window) known to be at the cap: a window's count only grows, so skip the write."""

    def project_rules(self, project_id: str) -> list[Rule]:
        if project_id not in self.rules:
            self.rules[project_id] = self.store.alert_rules(project_id)
        return self.rules[project_id]

    def project_name(self, project_id: str) -> str:
        if project_id not in self.project_names:
            project = self.store.project(project_id)
            self.project_names[project_id] = (project.name if project else None) or project_id
        return self.project_names[project_id]


# ---- sending ---------------------------------------------------------------------------------------


def send(ctx: Context, rule: Rule, payload: Alert | list[str], timeout: float | None = None) -> None:
    """Render for the rule's destination and send; raises DeliveryError. A list is a summary's lines."""
    name = ctx.project_name(rule.project_id)
    timeout = ctx.http_timeout if timeout is None else timeout
    if isinstance(payload, list):
        text = "\n".join(payload)
        slack_body: dict[str, Any] = {"text": text}
        hook_body: dict[str, Any] = {"kind": "summary", "project": {"id": rule.project_id, "name": name}, "text": text}
        subject = payload[0][:100]
    else:
        slack_body = render.slack(payload, name, ctx.base_url)
        hook_body = render.webhook(payload, name, ctx.base_url)
        subject, text = render.email(payload, name, ctx.base_url)
    if rule.destination == "slack":
        post(str(rule.url), json.dumps(slack_body).encode(), {}, timeout)
    elif rule.destination == "webhook":
        body = json.dumps(hook_body, separators=(",", ":")).encode()
        headers = {signing.HEADER: signing.sign(rule.secret or "", body, int(clock()))}
        if "id" in hook_body:
            headers["Lodge-Alert-Id"] = hook_body["id"]
        post(str(rule.url), body, headers, timeout)
    else:
        if not ctx.topic_arn or ctx.sns is None:
            raise DeliveryError("no email topic configured (ALERT_TOPIC_ARN)")
        try:
            ctx.sns.publish(
                TopicArn=ctx.topic_arn,
                Subject=subject,
                Message=text,
                MessageAttributes={
                    "project": {"DataType": "String", "StringValue": rule.project_id},
                    "email": {"DataType": "String", "StringValue": rule.email or ""},
                },
            )
        except Exception as error:
            raise DeliveryError(f"SNS publish failed: {error}") from error


def sample_alert(project_id: str) -> Alert:
    """A new-issue alert about a made-up ZeroDivisionError, marked as a test in its title."""
    now = round(clock(), 3)
    issue = IssueSummary(
        "test", "ZeroDivisionError: division by zero (a test alert)", "error", "production", 1, now, now
    )
    occurrence = OccurrenceSummary("test", "production", "error", issue.title, now, ["app.py:3 in <module>"])
    return Alert(alert_id(project_id, "test", str(now)), "new_issue", project_id, now, issue, occurrence)


def send_test(ctx: Context, rule: Rule) -> Alert:
    """Send a sample alert to one destination now, outside storm control (`lodge alert test` and
    the console's "Send test"); raises DeliveryError when the destination does not take it."""
    alert = sample_alert(rule.project_id)
    send(ctx, rule, alert)
    return alert


# ---- state items (lodge.storage.alerts) ----------------------------------------------------------


def finish_claim(ctx: Context, rule: Rule, alert: Alert, state: str, now: float, decision: str | None = None) -> None:
    # A new-issue claim never expires: that is what makes it once per issue, ever.
    expires = None if alert.kind == "new_issue" else int(now) + KEEP_SECONDS
    ctx.store.finish_alert_claim(rule.id, alert.id, state, decision, expires)


def take_slot(ctx: Context, rule: Rule, now: float) -> tuple[bool, int]:
    """Count one alert into the destination's window; False (fold) once the cap is reached."""
    seconds = window_seconds()
    start = int(now) - int(now) % seconds
    if (rule.id, start) in ctx.full_windows:
        return False, start
    taken = ctx.store.take_alert_slot(rule.id, start, rule.cap, start + seconds + KEEP_SECONDS)
    if not taken:
        ctx.full_windows.add((rule.id, start))
    return taken, start


def fold(ctx: Context, rule: Rule, alert: Alert, start: int) -> None:
    """Count an alert into the window's summary; the first fold queues the summary message."""
    line = f"{render.headline(alert)}: {render.title(alert)}"[:200]
    if ctx.store.fold_alert(rule.id, start, line, SAMPLE_SIZE) == 0:  # exactly one summary message
        queue_summary(ctx, rule, start, clock())


def queue_summary(ctx: Context, rule: Rule, start: int, now: float) -> None:
    if not ctx.queue_url or ctx.sqs is None:
        raise DeliveryError("no alert queue to schedule the summary on")
    delay = int(max(0, min(MAX_DELAY, start + window_seconds() - now + 1)))
    body = {"v": 1, "type": "summary", "project_id": rule.project_id, "rule": rule.id, "window": start}
    handoff.send_messages(ctx.sqs, ctx.queue_url, [body], delay=delay)


# ---- one message ---------------------------------------------------------------------------------------


def deliver_alert(ctx: Context, alert: Alert) -> list[str]:
    """Deliver to every matching destination; returns the ids of destinations that failed."""
    failed: list[str] = []
    for rule in ctx.project_rules(alert.project_id):
        if not rule.matches(alert):
            continue
        now = clock()
        held = ctx.store.claim_alert(rule.id, alert.id, now, CLAIM_LEASE)
        if held is None:
            log.info("alert %s to %s: already sent or in flight", alert.id, rule.id)
            continue
        decided = held.decision
        try:
            if decided is None:
                gate_issue = alert.issue.id if alert.issue else ""
                if alert.kind == "regression" and not ctx.store.pass_regression_gate(
                    rule.id, gate_issue, now, REGRESSION_GAP
                ):
                    finish_claim(ctx, rule, alert, states.STATE_SUPPRESSED, now)
                    continue
                direct, start = take_slot(ctx, rule, now)
                if not direct:
                    fold(ctx, rule, alert, start)
                    finish_claim(ctx, rule, alert, states.STATE_FOLDED, now)
                    continue
                decided = "direct"
            send(ctx, rule, alert)
            finish_claim(ctx, rule, alert, states.STATE_SENT, now, decided)
        except Exception as error:
            log.warning("alert %s to %s failed: %s", alert.id, rule.id, error)
            failed.append(rule.id)
            try:  # keep the slot decision, so a retry does not count against the cap again
                finish_claim(ctx, rule, alert, states.STATE_FAILED, now, decided or "direct")
            except Exception:
                log.exception("could not release claim of alert %s", alert.id)
    return failed


def deliver_summary(ctx: Context, project_id: str, rule_id: str, start: int) -> bool:
    """Send a closed window's summary once; False when it must be retried."""
    now = clock()
    rule = ctx.store.alert_rule(project_id, rule_id)
    if rule is None:
        return True  # destination removed
    if now < start + window_seconds():
        queue_summary(ctx, rule, start, now)  # not closed yet: look again later
        return True
    held = ctx.store.claim_summary(rule.id, start)
    if held is None:
        return True
    sample = held.sample[:SAMPLE_SIZE]
    lines = render.summary_lines(ctx.project_name(project_id), held.folded, sample, start, window_seconds())
    state = states.STATE_SENT
    try:
        send(ctx, rule, lines)
    except Exception as error:
        log.warning("summary for %s failed: %s", rule.id, error)
        state = states.STATE_FAILED
    ctx.store.finish_summary(rule.id, start, state)
    return state == states.STATE_SENT


def handle_message(ctx: Context, body: str) -> bool:
    """One queue message; True when done (delivered, suppressed, or unusable), False to retry."""
    try:
        data = json.loads(body)
        kind = data.get("type")
        if kind == "summary":
            return deliver_summary(ctx, str(data["project_id"]), str(data["rule"]), int(data["window"]))
        alert = Alert.from_message(data)
    except (ValueError, KeyError, TypeError, AttributeError):
        log.error("dropping an unreadable alert message")
        return True
    return not deliver_alert(ctx, alert)


def backoff(receive_count: int) -> int:
    delays = retry_delays()
    return delays[min(max(receive_count, 1), len(delays)) - 1]


def handle_event(ctx: Context, event: dict[str, Any], remaining_ms: Callable[[], int] | None = None) -> dict[str, Any]:
    """An SQS event: the partial-batch response (ReportBatchItemFailures), backoff via visibility."""
    failures: list[dict[str, str]] = []
    for record in event.get("Records", []):
        message_id = record.get("messageId", "")
        if remaining_ms is not None and remaining_ms() < (ctx.http_timeout + 2) * 1000:
            failures.append({"itemIdentifier": message_id})  # out of time: back to the queue as is
            continue
        try:
            done = handle_message(ctx, record.get("body", ""))
        except Exception:
            log.exception("alert message %s failed", message_id)
            done = False
        if done:
            continue
        failures.append({"itemIdentifier": message_id})
        count = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
        if ctx.sqs is not None and record.get("receiptHandle"):
            url = ctx.queue_url or _queue_url_from_arn(ctx, record.get("eventSourceARN", ""))
            try:
                ctx.sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=backoff(count)
                )
            except Exception:
                log.exception("could not set the retry delay of %s", message_id)
    return {"batchItemFailures": failures}


def _queue_url_from_arn(ctx: Context, arn: str) -> str:
    name = arn.rsplit(":", 1)[-1]
    return str(ctx.sqs.get_queue_url(QueueName=name)["QueueUrl"])
