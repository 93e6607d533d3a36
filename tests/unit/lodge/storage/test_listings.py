"""Listings (lodge.storage.listings): a filter reads only its own pages, in capped Queries, newest first."""

from __future__ import annotations

import random
from typing import Any

import pytest

from lodge.dynamo import from_item
from lodge.storage import RecordSummary, Store, listings
from lodge.storage.keys import project_pk
from lodge.storage.listings import PERFORMANCE, exception_stream, issue_stream
from lodge.storage.records import PAGE_ATTR, page_entries

T0_MS = 1_700_000_000_000


def seeded(store: Store, records: int = 2_000, batch: int = 200, issues: int = 100) -> None:
    """What the digest writes for `records` single-event records over `issues` issues, one rare exception."""
    pending: list[RecordSummary] = []
    for i in range(records):
        issue = f"{i % issues:032x}"
        rare = i == records // 2
        entry: dict[str, Any] = {"k": "error", "g": issue, "x": "RareError" if rare else f"E{i % issues}", "ts": i}
        entry["m"] = "x" * 200  # entries of a realistic size, so the pages fill up
        pending.append(RecordSummary(f"r{i:08d}", T0_MS + i * 1_000, [entry]))
        if len(pending) == batch:
            store.put_listing("p1", pending)
            store.put_filtered_listings("p1", pending)
            pending = []


def queries(store: Store) -> list[str]:
    calls: list[str] = []
    store.ddb.meta.events.register("before-call.dynamodb.Query", lambda **_: calls.append("Query"))
    return calls


def test_a_rare_filter_reads_its_own_pages_only(store: Store) -> None:
    seeded(store, records=1_000, batch=100, issues=20)
    calls = queries(store)
    walk = store.walk("p1", exception_stream("RareError"))
    bucket = list(walk)  # the exception's bucket: ~1/64 of the listing, the rare one among them
    assert len(bucket) < 1_000 / 4
    assert [s.record_id for s in bucket if s.exception_class == "RareError"] == ["r00000500"]
    assert walk.complete and walk.resume_before_ms is None
    assert len(calls) == walk.reads == 1


def test_pages_are_stored_compressed_and_read_back_whole(store: Store) -> None:
    seeded(store, records=200, batch=200)
    items = store.ddb.query(
        TableName=store.table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": project_pk("p1")}},
    )["Items"]
    pages = [from_item(i) for i in items if i["sk"]["S"].startswith(("LST#", "LSF#"))]
    assert pages and all(PAGE_ATTR in p and "rs" not in p for p in pages)
    main = [p for p in pages if p["sk"].startswith("LST#")]
    entries = [e for p in main for e in page_entries(p)]
    assert len(entries) == 200 and entries[0]["ix"][0]["m"] == "x" * 200
    assert sum(len(bytes(p[PAGE_ATTR])) for p in main) < 200 * 200 / 4  # the repeated text compresses


def test_an_issue_listing_is_newest_first_and_capped_with_a_continuation(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded(store, records=400, batch=10, issues=10)  # issue 7: one page in each of 40 batches
    monkeypatch.setattr(listings, "PAGES_PER_READ", 16)
    monkeypatch.setattr(listings, "FIRST_PAGES", 16)
    issue = issue_stream(f"{7:032x}")
    calls = queries(store)
    first = store.walk("p1", issue)
    assert [next(first).record_id for _ in range(5)] == [f"r{i:08d}" for i in (397, 387, 377, 367, 357)]
    capped = store.walk("p1", issue, max_reads=1)
    found = list(capped)
    assert capped.reads == 1 and not capped.complete and capped.cursor is not None
    assert len(calls) == 2
    assert len(found) == 16  # one Query: 16 pages
    rest = store.walk("p1", issue, cursor=capped.cursor)
    assert [s.record_id for s in found + list(rest)] == [f"r{i:08d}" for i in range(397, 0, -10)]
    assert rest.complete and rest.cursor is None


def test_a_capped_walk_over_overlapping_pages_loses_nothing_and_keeps_the_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parallel stream shards write pages that overlap in time: each call still yields newest
    first, and following the cursor call after call yields every entry exactly once."""
    rng = random.Random(7)
    shards: list[list[RecordSummary]] = [[], [], []]
    for i in range(1_500):
        ms = T0_MS + rng.randrange(0, 600_000)
        entry = {"k": "error", "g": "a" * 32, "m": f"boom {i}" + "y" * 150}
        shards[i % 3].append(RecordSummary(f"s{i:08d}", ms, [entry]))
    for shard in shards:
        for start in range(0, len(shard), 50):
            store.put_listing("p1", shard[start : start + 50])
    monkeypatch.setattr(listings, "PAGES_PER_READ", 4)
    seen: list[str] = []
    cursor: listings.Cursor | None = None
    calls = 0
    while True:
        walk = store.walk("p1", max_reads=1, cursor=cursor)  # 4 pages a Query (above)
        page = [(s.received_ms, s.record_id) for s in walk]
        assert page == sorted(page, reverse=True)
        seen.extend(r for _, r in page)
        calls += 1
        if walk.complete:
            break
        assert walk.cursor is not None
        cursor = listings.Cursor.decode(walk.cursor.encode(), None)
    assert calls > 5
    assert sorted(seen) == sorted(f"s{i:08d}" for i in range(1_500))  # each exactly once


def test_a_cursor_names_only_a_page_of_its_own_listing() -> None:
    assert listings.Cursor.decode("17.LST#1700000000000#abcdefabcdef", None).before_ms == 17
    for bad in ("", "x.LST#1", "17.LSF#kp#1#a", "17.GRP#abc", "1" * 14 + ".LST#1", "17.LST#" + "9" * 60):
        with pytest.raises(ValueError):
            listings.Cursor.decode(bad, None)
    with pytest.raises(ValueError):
        listings.Cursor.decode("17.LST#1700000000000#abcdefabcdef", PERFORMANCE)


def test_performance_samples_have_their_own_listing(store: Store) -> None:
    records = [
        RecordSummary(f"k{i:08d}", T0_MS + i, [{"k": "performance" if i % 10 == 0 else "error", "a": "A#b"}])
        for i in range(100)
    ]
    store.put_listing("p1", records)
    store.put_filtered_listings("p1", records)
    assert [s.record_id for s in store.walk("p1", PERFORMANCE)] == [f"k{i:08d}" for i in range(90, -1, -10)]
    assert len(list(store.walk("p1"))) == 100


def test_a_count_adds_whole_pages_from_their_tallies_and_decodes_only_the_edges(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lodge.queries import occurrences
    from lodge.queries.occurrences import OccurrenceFilter

    records = [
        RecordSummary(f"n{i:08d}", T0_MS + i * 1_000, [{"k": "performance" if i % 4 == 0 else "error", "a": "A#b"}])
        for i in range(400)
    ]
    for start in range(0, 400, 20):  # 20 pages of 20 records
        store.put_listing("p1", records[start : start + 20])
        store.put_filtered_listings("p1", records[start : start + 20])
    decoded: list[int] = []
    original = listings._page_summaries
    monkeypatch.setattr(listings, "_page_summaries", lambda page: decoded.append(1) or original(page))
    for kind in ("all", "errors", "performance"):
        for since, before in ((None, None), (T0_MS + 30_500, T0_MS + 370_000), (T0_MS + 5_000, T0_MS + 6_000)):
            decoded.clear()
            where = OccurrenceFilter(kind=kind, since_ms=since, before_ms=before)  # type: ignore[arg-type]
            expected = sum(
                1
                for r in records
                if (since is None or r.received_ms >= since)
                and (before is None or r.received_ms < before)
                and (kind == "all" or (r.index[0]["k"] == "performance") == (kind == "performance"))
            )
            assert occurrences.count(store, "p1", where) == (expected, None)
            if since is not None and before is not None and before - since > 100_000:
                assert len(decoded) <= 4  # the two edge pages (and their neighbours' spans), not all 17
