"""Hourly buckets: written by the digest once per project and hour, idempotent, bounded."""

from __future__ import annotations

import pytest

from lodge.digest import digest as digest_batch
from lodge.digest import new_records
from lodge.ingest import ingest
from lodge.storage import Store, buckets
from lodge.storage.buckets import SERIES_CAP, Tally, action_series, exception_series, issue_series
from lodge.storage.issues import DigestMark
from lodge_devtools.streams import StreamPoller, _lambda_json
from tests.unit.lodge.occurrences import error, make

pytestmark = pytest.mark.manual_digest
T0 = 1_700_000_000.0  # 472222 h + 1600 s
HOUR = int(T0 // 3600)


def _batch(store: Store, digest: StreamPoller) -> list:
    return new_records({"Records": [_lambda_json(r) for r in digest._read()]})


def _store(store: Store) -> str:
    issue_id = ""
    for i in range(3):
        result = ingest(store, "p1", [error(action="Posts#show", received_at=T0 + i)], T0 + i)
        issue_id = result.group_ids[0] or ""
    ingest(store, "p1", [make(kind="performance", action="Posts#show", duration=10.0)], T0 + 5)
    ingest(store, "p1", [make(kind="performance", action="Posts#show", duration=30.0)], T0 + 3600)
    return issue_id


def test_the_digest_counts_each_hour_once_even_when_the_batch_is_retried(store: Store, digest: StreamPoller) -> None:
    issue_id = _store(store)
    batch = _batch(store, digest)
    first = digest_batch(store, batch)
    assert first.hour_items == 2
    again = digest_batch(store, batch)  # a retried batch: the marks skip it
    assert again.hour_items == 0
    (this_hour, next_hour) = store.hour_points("p1", action_series("Posts#show"), HOUR, HOUR + 1)
    assert (this_hour.hour, this_hour.count, this_hour.exceptions) == (HOUR, 4, 3)
    assert (this_hour.duration_sum, this_hour.durations) == (10.0, 1)
    assert (next_hour.count, next_hour.exceptions, next_hour.duration_sum) == (1, 0, 30.0)
    (total,) = store.hour_points("p1", buckets.TOTAL, HOUR, HOUR)
    assert total.count == 4
    (issue,) = store.hour_points("p1", issue_series(issue_id), HOUR - 5, HOUR)
    assert (issue.count, issue.exceptions, issue.durations) == (3, 0, 0)
    (pair,) = store.hour_points("p1", exception_series("Posts#show", "ZeroDivisionError"), HOUR, HOUR + 1)
    assert pair.count == 3


def test_an_hour_holds_at_most_the_cap_of_series_and_folds_the_rest(store: Store) -> None:
    many = {f"a{i:010x}": Tally(count=1) for i in range(SERIES_CAP - 10)}
    assert store.count_hour("p1", HOUR, many, marks=[DigestMark("0", "100")])
    more = {f"b{i:010x}": Tally(count=2) for i in range(30)} | {"a0000000000": Tally(count=1)}
    assert store.count_hour("p1", HOUR, more, marks=[DigestMark("0", "200")])
    assert not store.count_hour("p1", HOUR, more, marks=[DigestMark("0", "200")])  # again: skipped
    item = store.ddb.get_item(TableName=store.table, Key={"pk": {"S": "PRJ#p1"}, "sk": {"S": buckets.hour_sk(HOUR)}})
    stored = item["Item"]
    assert len(stored["ix"]["SS"]) == SERIES_CAP
    assert stored["oc"]["N"] == "40"  # 20 series did not fit: 2 each, folded into "other"
    assert stored["a0000000000c"]["N"] == "2"
    (known,) = store.hour_points("p1", "b0000000000", HOUR, HOUR)
    assert known.count == 2


def test_a_batch_that_fails_after_its_hour_count_is_retried_and_counted_once(
    store: Store, digest: StreamPoller, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.unit.lodge.test_digest import _fail_once_at, _store_events

    stored = _store_events(store)  # 40 events within one hour
    calls = _fail_once_at(monkeypatch, 3)  # the hour is counted, two issues, then the batch fails
    digest.drain()  # bisected and retried, as the event source mapping does
    assert len(calls) > 3 and not digest.failed
    (total,) = store.hour_points("p1", buckets.TOTAL, HOUR, HOUR)
    assert total.count == sum(stored.values()) == 40
    for issue_id, count in stored.items():
        (point,) = store.hour_points("p1", issue_series(issue_id), HOUR, HOUR)
        assert point.count == count
