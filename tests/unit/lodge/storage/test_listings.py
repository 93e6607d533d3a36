"""Filtered listings (lodge.storage.listings): a filter reads only its own pages, in capped Queries."""

from __future__ import annotations

from typing import Any

from lodge.storage import RecordSummary, Store
from lodge.storage.listings import exception_stream, issue_stream

T0_MS = 1_700_000_000_000


def seeded(store: Store, records: int = 2_000, batch: int = 200) -> None:
    """What the digest writes for `records` single-event records over 100 issues, one rare exception."""
    pending: list[RecordSummary] = []
    for i in range(records):
        issue = f"{i % 100:032x}"
        rare = i == records // 2
        entry: dict[str, Any] = {"k": "error", "g": issue, "x": "RareError" if rare else f"E{i % 100}", "ts": i}
        entry["m"] = "x" * 200  # entries of a realistic size, so the pages fill up
        pending.append(RecordSummary(f"r{i:08d}", T0_MS + i * 1_000, [entry]))
        if len(pending) == batch:
            store.put_filtered_listings("p1", pending)
            pending = []


def queries(store: Store) -> list[str]:
    calls: list[str] = []
    store.ddb.meta.events.register("before-call.dynamodb.Query", lambda **_: calls.append("Query"))
    return calls


def test_a_rare_filter_reads_its_own_pages_only(store: Store) -> None:
    seeded(store)
    calls = queries(store)
    read = store.read_filtered("p1", exception_stream("RareError"), limit=10)
    assert [s.record_id for s in read.summaries] == ["r00001000"]
    assert read.next_before_ms is None
    assert len(calls) == read.reads == 1


def test_an_issue_listing_is_newest_first_and_capped_with_a_continuation(store: Store) -> None:
    seeded(store, records=4_000, batch=100)  # issue 7: one page in each of 40 batches
    calls = queries(store)
    first = store.read_filtered("p1", issue_stream(f"{7:032x}"), limit=5)
    assert [s.record_id for s in first.summaries] == [f"r{i:08d}" for i in (3907, 3807, 3707, 3607, 3507)]
    assert first.next_before_ms == first.summaries[-1].received_ms
    capped = store.read_filtered("p1", issue_stream(f"{7:032x}"), limit=1_000, max_reads=1)
    assert capped.reads == 1 and len(calls) == 2
    assert len(capped.summaries) == 16  # one Query: 16 pages (~1 MB on DynamoDB)
    assert capped.next_before_ms == T0_MS + 2_407_000
    rest = store.read_filtered("p1", issue_stream(f"{7:032x}"), limit=1_000, before_ms=capped.next_before_ms)
    assert len(rest.summaries) == 24 and rest.next_before_ms is None and rest.reads == 2
