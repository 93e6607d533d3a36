"""Delivery in process (moto): ingest's hand-off, the 10th and 100th occurrence, storm control,
regression gate, and that an ordinary occurrence costs no extra request."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from lodge import aws
from lodge.alerts import deliver, handoff, rules
from lodge.alerts.decide import CountedWrite, alerts_due
from lodge.alerts.model import IssueSummary, OccurrenceSummary
from lodge.ingest import ingest
from lodge.models.issues import IssueChange
from lodge.models.markers import Marker
from lodge.queries import markers
from lodge.storage import Store
from lodge_devtools import queues
from tests.alert_receiver import Receiver, receiver
from tests.conftest import Project
from tests.unit.lodge.occurrences import make


@pytest.fixture
def queue(store: Store, monkeypatch: pytest.MonkeyPatch) -> str:
    refs = queues.provision(aws.sqs(), aws.sns(), store.table)
    monkeypatch.setenv(handoff.QUEUE_ENV, refs["AlertQueue"])
    monkeypatch.setenv("LODGE_ALERT_RETRY_DELAYS", "0")
    return refs["AlertQueue"]


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as state:
        yield state


def context(store: Store, queue_url: str) -> deliver.Context:
    return deliver.Context(store=store, sqs=aws.sqs(), queue_url=queue_url, http_timeout=2)


def drain(store: Store, queue_url: str, batch: int = 5) -> int:
    ctx = context(store, queue_url)
    return queues.drain(aws.sqs(), queue_url, lambda event: deliver.handle_event(ctx, event), batch=batch)


def add_rule(store: Store, project_id: str, url: str, **kwargs: Any) -> rules.Rule:
    rule = rules.new_rule(project_id, "webhook", url=url, **kwargs)
    store.put_alert_rule(rule)
    return rule


def kinds(hook: Receiver) -> list[tuple[str, Any]]:
    return [(json.loads(r.body)["kind"], json.loads(r.body).get("threshold")) for r in hook.requests]


def test_tenth_and_hundredth_occurrence_alert_once_each(
    store: Store, project: Project, queue: str, hook: Receiver
) -> None:
    add_rule(store, project.id, hook.url)
    for i in range(100):
        ingest(store, project.id, [make(message="steady", client_id=f"c{i}")], 1_700_000_000 + i)
    drain(store, queue)
    assert kinds(hook) == [("new_issue", None), ("threshold", 10), ("threshold", 100)]


def test_a_resolved_issue_that_occurs_again_alerts_one_regression(
    store: Store, project: Project, queue: str, hook: Receiver
) -> None:
    add_rule(store, project.id, hook.url)
    result = ingest(store, project.id, [make(message="comes back", client_id="r1")], 1_700_000_000)
    issue_id = result.group_ids[0]
    assert issue_id is not None
    store.change_issue(project.id, issue_id, IssueChange(by="test", status="resolved"))
    ingest(store, project.id, [make(message="comes back", client_id="r2")], 1_700_000_060)
    ingest(store, project.id, [make(message="comes back", client_id="r3")], 1_700_000_120)  # active now: no alert
    drain(store, queue)
    assert kinds(hook) == [("new_issue", None), ("regression", None)]


def test_a_redelivered_alert_is_not_sent_twice(store: Store, project: Project, queue: str, hook: Receiver) -> None:
    add_rule(store, project.id, hook.url)
    ingest(store, project.id, [make(message="once", client_id="c1")], 1_700_000_000)
    body = aws.sqs().receive_message(QueueUrl=queue)["Messages"][0]["Body"]
    aws.sqs().send_message(QueueUrl=queue, MessageBody=body)  # SQS at-least-once: a duplicate
    aws.sqs().send_message(QueueUrl=queue, MessageBody=body)
    drain(store, queue)
    assert len(hook.requests) == 1


def _new_issue(i: int) -> CountedWrite:
    issue = IssueSummary(f"g{i}", f"Error {i}", "error", "production", 1, 1.0, 1.0)
    return CountedWrite("p", issue, OccurrenceSummary(f"o{i}", "production", "error", f"Error {i}", 1.0), 0, True)


def test_a_thousand_new_issues_in_a_minute_are_the_cap_plus_one_summary(
    store: Store, project: Project, queue: str, hook: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = add_rule(store, project.id, hook.url)
    window = 1_700_002_800  # a window start (multiple of 3600)
    now = [window + 3599.0]  # the minute before the window closes: the summary is due a second later
    monkeypatch.setattr(deliver, "clock", lambda: now[0])
    due = []
    for i in range(1000):
        write = _new_issue(i)
        write.project_id = project.id
        due.extend(alerts_due(write))
    assert handoff.hand_off(due) == 1000
    drain(store, queue, batch=10)
    assert len(hook.requests) == rule.cap
    now[0] = window + 3601.0
    for _ in range(20):  # the summary message waits out its DelaySeconds (a second or two)
        drain(store, queue)
        if len(hook.requests) > rule.cap:
            break
        time.sleep(0.5)
    assert len(hook.requests) == rule.cap + 1
    summary = json.loads(hook.requests[-1].body)
    assert summary["kind"] == "summary" and "970 more alerts" in summary["text"]
    drain(store, queue)
    assert len(hook.requests) == rule.cap + 1


def test_a_flapping_issue_alerts_a_regression_at_most_once_an_hour(
    store: Store, project: Project, queue: str, hook: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_rule(store, project.id, hook.url)
    now = [1_700_000_000.0]
    monkeypatch.setattr(deliver, "clock", lambda: now[0])
    issue = IssueSummary("g1", "Flaky", "error", "production", 5, 1.0, 1.0)
    for i, at in enumerate((0, 600, 1200, 3700)):
        now[0] = 1_700_000_000.0 + at
        occurrence = OccurrenceSummary(f"o{i}", "production", "error", "Flaky", now[0])
        handoff.hand_off(alerts_due(CountedWrite(project.id, issue, occurrence, 5, False, regressed=True)))
        drain(store, queue)
    assert kinds(hook) == [("regression", None), ("regression", None)]


def test_slack_destination_gets_slack_json(store: Store, project: Project, queue: str, hook: Receiver) -> None:
    store.put_alert_rule(rules.new_rule(project.id, "slack", url=hook.url))
    ingest(store, project.id, [make(message="to slack", client_id="s1")], 1_700_000_000)
    drain(store, queue)
    (request,) = hook.requests
    body = json.loads(request.body)
    assert "New issue" in body["text"] and "to slack" in body["text"]
    assert "Lodge-Signature" not in request.headers


def test_only_http_urls_are_accepted() -> None:
    for bad in ("file:///etc/passwd", "ftp://x/", "//host/path", "http:///nohost"):
        with pytest.raises(rules.RuleError):
            rules.new_rule("p", "webhook", url=bad)


class CountingSqs:
    def __init__(self, real: Any) -> None:
        self.real = real
        self.calls = 0

    def send_message_batch(self, **kwargs: Any) -> Any:
        self.calls += 1
        return self.real.send_message_batch(**kwargs)


def test_an_ordinary_occurrence_makes_no_alert_request(
    store: Store, project: Project, queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = CountingSqs(aws.sqs())
    monkeypatch.setattr(aws, "sqs", lambda: counting)
    ingest(store, project.id, [make(message="x", client_id="a")], 1_700_000_000)
    assert counting.calls == 1  # new issue
    ingest(store, project.id, [make(message="x", client_id="b")], 1_700_000_001)
    assert counting.calls == 1


def test_a_broken_queue_never_fails_an_ingest(store: Store, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(handoff.QUEUE_ENV, "https://sqs.us-east-1.amazonaws.com/123456789012/missing")
    result = ingest(store, project.id, [make(message="y", client_id="a")], 1_700_000_000)
    # The digest (drained after the put) created the issue, its alert hand-off failed quietly.
    assert result.duplicate is False and store.issue(project.id, result.group_ids[0] or "") is not None


def test_a_stored_deploy_marker_alerts(store: Store, project: Project, queue: str, hook: Receiver) -> None:
    add_rule(store, project.id, hook.url, kinds=["deploy"])
    markers.add_marker(store, project.id, Marker(kind="deploy", environment="production", revision="abc123", user="ci"))
    ingest(store, project.id, [make(message="not a deploy", client_id="d1")], 1_700_000_000)
    drain(store, queue)
    (request,) = hook.requests
    body = json.loads(request.body)
    assert body["kind"] == "deploy" and body["deploy"]["revision"] == "abc123"
