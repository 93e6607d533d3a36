"""The digest on the table's stream: counts exact under retries, listings, retention, poison records."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from lodge import aws, grouping
from lodge.alerts import handoff
from lodge.digest import digest as digest_batch
from lodge.digest import new_records
from lodge.ingest import ingest
from lodge.models.issues import IssueChange
from lodge.occurrence import RequestInfo
from lodge.storage import StorageError, Store
from lodge.storage.issues import Issues
from lodge_devtools import queues
from lodge_devtools.streams import StreamPoller, _lambda_json, in_process_invoke
from tests.unit.lodge.occurrences import make

pytestmark = pytest.mark.manual_digest
T0 = 1_700_000_000.0
ISSUES = ["alpha", "beta", "gamma", "delta", "epsilon"]


def _store_events(store: Store, n: int = 40) -> Counter[str]:
    """n single events over five issues; returns each issue's stored-record count."""
    stored: Counter[str] = Counter()
    for i in range(n):
        occurrence = make(message=ISSUES[i % len(ISSUES)] if i % 3 else ISSUES[i % 2], timestamp=T0 + i)
        result = ingest(store, "p1", [occurrence], T0 + i)
        stored[result.group_ids[0] or ""] += 1
    return stored


def _counts(store: Store) -> Counter[str]:
    return Counter({g["id"]: int(g["cnt"]) for g in store.list_groups("p1")})


def _fail_once_at(monkeypatch: pytest.MonkeyPatch, call_number: int) -> list[int]:
    calls: list[int] = []
    count_into = Issues.count_into

    def flaky(self: Issues, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == call_number:
            raise StorageError("throttled")  # halfway through the batch
        return count_into(self, *args, **kwargs)

    monkeypatch.setattr(Issues, "count_into", flaky)
    return calls


def test_failure_halfway_through_a_batch_is_retried_without_counting_twice(
    store: Store, digest: StreamPoller, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = _store_events(store)
    calls = _fail_once_at(monkeypatch, 3)  # two issues counted, then the batch fails
    digest.drain()  # fails, bisects, retries both halves (as the event source mapping does)
    assert len(calls) > 3 and not digest.failed
    assert _counts(store) == stored
    assert sum(r["records"] for r in digest.results) == 40  # each record in exactly one successful batch


def test_whole_batch_retried_after_a_partial_failure_counts_once(
    store: Store, digest: StreamPoller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same batch again (no bisecting): the marks skip what the failed attempt counted."""
    stored = _store_events(store, 25)
    event = {"Records": [_lambda_json(r) for r in digest._read()]}
    batch = new_records(event)
    assert len(batch) == 25
    _fail_once_at(monkeypatch, 3)
    with pytest.raises(StorageError):
        digest_batch(store, batch)
    partial = _counts(store)
    assert 0 < sum(partial.values()) < 25
    monkeypatch.undo()
    result = digest_batch(store, batch)
    assert _counts(store) == stored
    assert [c.count.applied for c in result.counts].count(False) == 2  # the two counted before the failure
    assert digest_batch(store, batch).counts and _counts(store) == stored  # and a third time: still exact


def test_listing_holds_every_record_once_newest_first(store: Store, digest: StreamPoller) -> None:
    _store_events(store, 30)
    digest.drain()
    digest.drain()
    records = list(store.iter_records("p1"))
    assert len(records) == 30 and len({r.record_id for r in records}) == 30
    assert [r.received_ms for r in records] == sorted((r.received_ms for r in records), reverse=True)
    items = store.ddb.query(
        TableName=store.table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :lst)",
        ExpressionAttributeValues={":pk": {"S": "PRJ#p1"}, ":lst": {"S": "LST#"}},
    )["Items"]
    assert len(items) == 1, "one listing item for a batch of 30 records"


def test_new_issue_results_for_alerts(store: Store, digest: StreamPoller) -> None:
    first = make(message="brand new")
    ingest(store, "p1", [first], T0)
    ingest(store, "p1", [make(message="brand new")], T0 + 1)
    digest.drain()
    (result,) = digest.results
    gid = grouping.compute(first).group_id  # type: ignore[union-attr]
    assert result["new_issue_ids"] == [gid] and result["issues"] == 1
    group = store.get_group("p1", gid)
    assert group is not None and group["cnt"] == 2


def test_poison_record_lands_in_the_dead_letter_queue_and_is_redriven(
    store: Store, digest: StreamPoller, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = _store_events(store, 12)
    poison = make(message="poison")
    poisoned = ingest(store, "p1", [poison], T0 + 100)
    details_of = Store.details_of

    def choke(self: Store, record: Any) -> Any:
        if record.record_id == poisoned.record_id:
            raise ValueError("cannot decode")  # a bug, not a storage failure: it fails every retry
        return details_of(self, record)

    monkeypatch.setattr(Store, "details_of", choke)
    digest.drain()
    assert len(digest.failed) == 1 and len(digest.failed[0]["event"]["Records"]) == 1
    assert _counts(store) == stored  # everything else was digested
    monkeypatch.undo()  # the fix is deployed
    assert digest.redrive() == 1 and not digest.failed
    assert _counts(store) == stored + Counter({poisoned.group_ids[0] or "": 1})


def _queued_alerts(queue_url: str) -> list[dict[str, Any]]:
    """Every message on the alert queue (received once each, not deleted)."""
    sqs = aws.sqs()
    found: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=300).get(
            "Messages", []
        )
        if not messages:
            return found
        found += [json.loads(m["Body"]) for m in messages]


@pytest.fixture
def alert_queue(store: Store, monkeypatch: pytest.MonkeyPatch) -> str:
    refs = queues.provision(aws.sqs(), aws.sns(), store.table)
    monkeypatch.setenv(handoff.QUEUE_ENV, refs["AlertQueue"])
    return refs["AlertQueue"]


def test_a_retried_batch_hands_off_every_alert_exactly_once(
    store: Store, digest: StreamPoller, alert_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fault test with alerts: each issue is new once and crosses 10 once, whatever fails."""
    stored = _store_events(store, 40)  # alpha and beta get 13 and 11 records: both cross 10
    _fail_once_at(monkeypatch, 3)
    digest.drain()
    assert _counts(store) == stored and not digest.failed
    alerts = _queued_alerts(alert_queue)
    ids = [a["id"] for a in alerts]
    assert len(ids) == len(set(ids)), "no alert handed off twice"
    expected = {("new_issue", g) for g in stored} | {("threshold", g) for g, n in stored.items() if n >= 10}
    assert {(a["kind"], a["issue"]["id"]) for a in alerts} == expected
    assert sum(1 for g, n in stored.items() if n >= 10) >= 2


def test_the_same_batch_again_decides_no_alert_again(store: Store, digest: StreamPoller, alert_queue: str) -> None:
    _store_events(store, 12)
    event = {"Records": [_lambda_json(r) for r in digest._read()]}
    batch = new_records(event)
    first = digest_batch(store, batch)
    assert first.alerts == len(ISSUES)  # five new issues (none reaches 10 in 12 events)
    again = digest_batch(store, batch)
    assert again.alerts == 0 and not any(c.count.applied for c in again.counts)
    assert len(_queued_alerts(alert_queue)) == len(ISSUES)


def test_the_digest_reopens_a_resolved_issue_once(store: Store, digest: StreamPoller, alert_queue: str) -> None:
    """Triage in the digest: a resolved issue that occurs again is active and regressed, and a
    retry of that batch neither reopens it twice nor alerts twice."""
    first = ingest(store, "p1", [make(message="comes back")], T0)
    digest.drain()
    issue_id = first.group_ids[0] or ""
    store.change_issue("p1", issue_id, IssueChange(by="test", status="resolved"))
    ingest(store, "p1", [make(message="comes back")], T0 + 60)
    event = {"Records": [_lambda_json(r) for r in digest._read()]}
    batch = new_records(event)
    (counted,) = digest_batch(store, batch).counts
    assert counted.count.regressed and counted.count.new_count == 2
    issue = store.issue("p1", issue_id)
    assert issue is not None and issue.status == "active" and issue.regression is not None
    history = len(issue.history)
    (again,) = digest_batch(store, batch).counts
    assert not again.count.applied and not again.count.regressed
    reread = store.issue("p1", issue_id)
    assert reread is not None and len(reread.history) == history and reread.total_occurrences == 2
    kinds = sorted(a["kind"] for a in _queued_alerts(alert_queue))
    assert kinds == ["new_issue", "regression"]


def test_a_poison_record_reaches_the_digest_dead_letter_queue(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner's mapping sends what Lambda's on-failure destination gets: the batch's stream position."""
    refs = queues.provision(aws.sqs(), aws.sns(), store.table)
    sqs = aws.sqs()

    def send(message: dict[str, Any]) -> None:
        sqs.send_message(QueueUrl=refs["DigestDeadLetterQueue"], MessageBody=json.dumps(message))

    poller = StreamPoller(aws.dynamodb(), store.table, in_process_invoke(), on_failure=send)
    stored = _store_events(store, 6)
    poisoned = ingest(store, "p1", [make(message="poison")], T0 + 100)
    details_of = Store.details_of

    def choke(self: Store, record: Any) -> Any:
        if record.record_id == poisoned.record_id:
            raise ValueError("cannot decode")
        return details_of(self, record)

    monkeypatch.setattr(Store, "details_of", choke)
    poller.drain()
    assert _counts(store) == stored
    (message,) = _queued_alerts(refs["DigestDeadLetterQueue"])
    info = message["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["startSequenceNumber"] == info["endSequenceNumber"]
    assert info["streamArn"].startswith("arn:aws:dynamodb:") and info["shardId"]
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"


def test_a_scrubbed_mapping_does_not_poison_the_digest(store: Store, digest: StreamPoller) -> None:
    """Scrubbing may store "[Filtered]" where the model has a mapping (a secret `session`): the
    digest still counts the record."""
    occurrence = make(message="scrubbed session", request=RequestInfo(url="https://shop.example/cart"))
    assert occurrence.request is not None
    object.__setattr__(occurrence.request, "session", "[Filtered]")  # as lodge.scrubbing leaves it
    result = ingest(store, "p1", [occurrence], T0)
    digest.drain()
    assert not digest.failed
    assert _counts(store)[result.group_ids[0] or ""] == 1
