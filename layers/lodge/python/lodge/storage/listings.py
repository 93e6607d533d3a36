"""Listings read in a bounded number of Queries: the project's listing and the filtered ones.

The project's listing (`Records.put_listing`, `LST#…`) holds every occurrence. A filter that
rarely matches would walk all of it, so in the same batch the digest also writes, per filter value
present in the batch, pages holding only the matching occurrences (docs/storage.md, "Listings"):

- `kp`: performance samples (errors, the commonest kind, read the project's listing);
- `g<bucket>`: the occurrences of the issues whose id hashes to one of ISSUE_BUCKETS (Rollbar
  instances, the console's issue page);
- `a<bucket>`: the actions (AppSignal `action`) whose clipped name hashes to one of VALUE_BUCKETS;
- `x<bucket>`: likewise the exception classes (AppSignal `exception`).

Why buckets and not one listing per value: a page costs at least one write unit, so a batch over
3,000 distinct issues (a project with 50,000) would pay ~3,000 for its issue pages alone, about
one per event; in 256 buckets it pays at most 256, for the same bytes. A reader of one value
reads its bucket (1/256 or 1/64 of the listing: at a million occurrences ~4,000 or ~16,000
entries, one Query) and keeps the matches.

A filtered page is one item in the project partition (`keys.filtered_listing_sk`), with the same
caps as the project listing's (192 KB of entries before compression, 60 s) and compressed the
same way (`records.pack_page`); it holds for each record only its matching entries and their
positions. Its key derives from its records, so a retried batch rewrites the same pages.

Reads are capped (`walk`): at most `MAX_READS` Queries of up to ~1 MB each per listing call. A
walk yields occurrences newest first and, when the cap stopped it, returns a `Cursor` (a time and
the last page key read) from which the next call yields every remaining entry exactly once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from lodge.dynamo import from_item, to_attr
from lodge.models.occurrences import OccurrenceSummary
from lodge.storage.errors import failing_as, iterate_failing_as
from lodge.storage.keys import (
    FILTERED_LISTING,
    LISTING,
    filtered_listing_sk,
    occurrence_ref,
    page_bounds,
    project_pk,
)
from lodge.storage.records import (
    COUNT_ATTR,
    INDEX_TEXT_LIMIT,
    LISTING_SPAN_MS,
    OLDEST_ATTR,
    PAGE_ATTR,
    TALLY,
    RecordSummary,
    listing_pages,
    pack_page,
    page_entries,
    page_sk_of,
    summary,
    tally_item,
)
from lodge.storage.table import Table

MAX_READS = 5
"""Queries per listing call: the documented cap (docs/storage.md "Listings")."""
UNCAPPED = 1 << 30
"""`max_reads` for a reader that pages with a cap of its own (the console's record cap)."""
FIRST_PAGES = 4
"""Pages asked for by a walk's first Query (then twice as many each time, up to PAGES_PER_READ):
a page of 10 samples should not fetch and decode a megabyte."""
PAGES_PER_READ = 100
"""Pages asked for per Query. DynamoDB cuts a Query at 1 MB (~20 of the project listing's pages, or
hundreds of an issue's small ones); the emulation does not, so a walk also counts what it read in
megabytes (`READ_BYTES`) and a call that returned 3 MB counts as 3 reads, as it would on DynamoDB."""
READ_BYTES = 1024 * 1024
PERFORMANCE = "kp"
ISSUE_BUCKETS = 256
VALUE_BUCKETS = 64


def _bucketed(prefix: str, text: str, buckets: int = VALUE_BUCKETS) -> str:
    clipped = text[:INDEX_TEXT_LIMIT]
    digest = hashlib.sha256(clipped.encode("utf-8", "surrogatepass")).digest()
    return f"{prefix}{int.from_bytes(digest[:4], 'big') % buckets:02x}"


def issue_stream(issue_id: str) -> str:
    return _bucketed("g", issue_id, ISSUE_BUCKETS)


def action_stream(action: str) -> str:
    return _bucketed("a", action)


def exception_stream(exception_class: str) -> str:
    return _bucketed("x", exception_class)


def streams_of(entry: dict[str, Any]) -> list[str]:
    """Every filtered listing an index entry belongs to."""
    found = [PERFORMANCE] if entry.get("k") == "performance" else []
    if entry.get("g"):
        found.append(issue_stream(str(entry["g"])))
    if entry.get("a"):
        found.append(action_stream(str(entry["a"])))
    if entry.get("x"):
        found.append(exception_stream(str(entry["x"])))
    return found


FILTERED_OMITS = ("c", "ts")
"""Fields a filtered page leaves out: no reader of a filtered listing shows the client's id or the
time the client claims (the console's trends read the project's listing), and these two are the
entry's least compressible ~20 bytes."""


def filtered_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """An index entry as a filtered listing holds it."""
    return {k: v for k, v in entry.items() if k not in FILTERED_OMITS}


def page_tag(records: Sequence[RecordSummary]) -> str:
    return hashlib.sha256("\x00".join(r.record_id for r in records).encode()).hexdigest()[:12]


def filtered_listing_items(project_id: str, records: Sequence[RecordSummary]) -> list[dict[str, Any]]:
    """The filtered pages of a batch of records (what `put_filtered_listings` writes)."""
    by_stream: dict[str, list[RecordSummary]] = {}
    positions: dict[tuple[str, str], list[int]] = {}
    sizes: dict[str, int] = {}
    for record in records:
        sizes[record.record_id] = len(record.index)
        matched: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for position, entry in enumerate(record.index):
            for stream in streams_of(entry):
                matched.setdefault(stream, []).append((position, filtered_entry(entry)))
        for stream, members in matched.items():
            by_stream.setdefault(stream, []).append(
                RecordSummary(record.record_id, record.received_ms, [e for _, e in members])
            )
            positions[(stream, record.record_id)] = [p for p, _ in members]
    items = []
    for stream, pending in sorted(by_stream.items()):
        for page in listing_pages(pending):
            entries = [
                {"r": r.record_id, "t": r.received_ms, "z": sizes[r.record_id], "p": positions[(stream, r.record_id)]}
                | {"ix": r.index}
                for r in page
            ]
            sk = filtered_listing_sk(stream, max(r.received_ms for r in page), page_tag(page))
            items.append({"pk": project_pk(project_id), "sk": sk, PAGE_ATTR: pack_page(entries)})
            if stream == PERFORMANCE:  # counted by kind alone (count_only of performance samples)
                items.append(tally_item(project_id, sk, page))
    return items


def _page_summaries(page: dict[str, Any]) -> list[OccurrenceSummary]:
    """The occurrences of one listing page (the project's: all positions; a filtered one: its `p`)."""
    found = []
    for entry in page_entries(page):
        record_id = str(entry["r"])
        received_ms = int(entry["t"])
        index = entry.get("ix", [])
        size = int(entry.get("z", len(index)))
        for position, fields in zip(entry.get("p", range(len(index))), index, strict=False):
            ref = occurrence_ref(record_id, int(position), size)
            found.append(summary(ref, record_id, int(position), received_ms, fields))
    return found


def _item_bytes(raw: dict[str, Any]) -> int:
    """About what DynamoDB counts of a listing page (its keys and its packed entries)."""
    return sum(len(name) + len(next(iter(value.values()))) for name, value in raw.items())


def _newest_of(sk: str) -> int:
    """A page's newest receive time: the 13 digits before its tag."""
    return int(sk.rsplit("#", 2)[-2])


class Cursor(NamedTuple):
    """Where a capped walk goes on: below `before_ms` (exclusive), after the page `after_sk`."""

    before_ms: int
    after_sk: str

    def encode(self) -> str:
        return f"{self.before_ms}.{self.after_sk}"

    @classmethod
    def decode(cls, text: str, stream: str | None, *, counting: bool = False) -> Cursor:
        """ValueError unless `text` is a cursor of this listing (it only ever names a page key, or
        with `counting` a tally key)."""
        millis, _, after_sk = text.partition(".")
        if counting:
            prefix = TALLY + (f"{stream}#" if stream else "")
        else:
            prefix = LISTING if stream is None else f"{FILTERED_LISTING}{stream}#"
        if not (millis.isascii() and millis.isdigit() and len(millis) <= 13 and after_sk.isascii()):
            raise ValueError("not a cursor")
        if not after_sk.startswith(prefix) or len(after_sk) > len(prefix) + 40:
            raise ValueError("not a cursor of this listing")
        return cls(int(millis), after_sk)


class Walk(Iterator[OccurrenceSummary]):
    """One listing read newest first in at most `max_reads` Queries.

    Ordered: pages are read by their newest time, so after reading down to a page whose newest
    entry is at B, every entry newer than B has been read; entries at or before B wait until the
    next read (or the end) releases them. A walk the cap stops releases what waits (the answer's
    tail may then be older than the next call's head) and sets `cursor`: the next call, from after
    the last page read and below B, yields every remaining entry exactly once. `complete`: the walk
    reached the listing's end."""

    def __init__(
        self,
        table: Table,
        project_id: str,
        stream: str | None,
        since_ms: int | None,
        before_ms: int | None,
        max_reads: int,
        cursor: Cursor | None = None,
    ) -> None:
        self.reads = 0
        self.complete = False
        self.cursor: Cursor | None = None
        if cursor is not None:
            before_ms = cursor.before_ms if before_ms is None else min(before_ms, cursor.before_ms)
        self._iterator = iterate_failing_as(
            "could not read occurrences",
            self._walk(table, project_id, stream, since_ms, before_ms, max_reads, cursor),
        )

    def __next__(self) -> OccurrenceSummary:
        return next(self._iterator)

    @property
    def resume_before_ms(self) -> int | None:
        """Where a capped walk stopped (exclusive); None when it reached the end."""
        return self.cursor.before_ms if self.cursor is not None else None

    def _walk(
        self,
        table: Table,
        project_id: str,
        stream: str | None,
        since_ms: int | None,
        before_ms: int | None,
        max_reads: int,
        cursor: Cursor | None,
    ) -> Iterator[OccurrenceSummary]:
        if since_ms is not None and before_ms is not None and since_ms >= before_ms:
            self.complete = True
            return
        prefix = LISTING if stream is None else f"{FILTERED_LISTING}{stream}#"
        request = _newest_pages(table, project_id, prefix, since_ms, before_ms, cursor)
        if request is None:
            self.complete = True
            return
        waiting: list[OccurrenceSummary] = []  # read, not yet released, newest first
        seen: set[str] = set()
        calls = read_bytes = 0
        # The project's and the performance listing's pages are large (~50 KB); the buckets' small.
        big_pages = stream is None or stream == PERFORMANCE
        request["Limit"] = min(FIRST_PAGES if big_pages else PAGES_PER_READ, PAGES_PER_READ)
        while True:
            response = table.ddb.query(**request)
            calls += 1
            request["Limit"] = min(PAGES_PER_READ, request["Limit"] * 2)  # a long walk asks for more
            boundary: int | None = None
            last_sk: str | None = None
            for raw in response.get("Items", []):
                read_bytes += _item_bytes(raw)
                page = from_item(raw)
                last_sk = str(page["sk"])
                boundary = _newest_of(last_sk)
                for found in _page_summaries(page):
                    if before_ms is not None and found.received_ms >= before_ms:
                        continue
                    if since_ms is not None and found.received_ms < since_ms:
                        continue
                    if found.id in seen:  # a bisected retry's page may repeat an entry
                        continue
                    seen.add(found.id)
                    waiting.append(found)
                # Pages come newest first by their newest entry: once this page is read, nothing
                # unread is newer than `boundary`, so what is newer goes out now (a reader that
                # wants 10 entries decodes a page or two, not the whole Query).
                _order(waiting)
                released = next((i for i, s in enumerate(waiting) if s.received_ms <= boundary), len(waiting))
                yield from waiting[:released]
                del waiting[:released]
            self.reads = max(calls, -(-read_bytes // READ_BYTES))
            if "LastEvaluatedKey" not in response:
                yield from waiting
                self.complete = True
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            if self.reads >= max_reads:
                if last_sk is None:  # an empty read (DynamoDB may return one): go on after its key
                    last_sk = str(response["LastEvaluatedKey"]["sk"]["S"])
                self.cursor = Cursor((boundary if boundary is not None else _newest_of(last_sk)) + 1, last_sk)
                yield from waiting
                return


def _newest_pages(
    table: Table, project_id: str, prefix: str, since_ms: int | None, before_ms: int | None, cursor: Cursor | None
) -> dict[str, Any] | None:
    """The descending Query of the pages (or tallies) under `prefix` that can hold [since, before),
    from after `cursor`'s page; None when the cursor lies outside that range (nothing is left).

    A page's key is its newest time and a page spans at most LISTING_SPAN_MS, so those pages have
    their newest time in [since, before + span)."""
    high_ms = before_ms + LISTING_SPAN_MS if before_ms is not None else None
    low, high = page_bounds(prefix, since_ms, high_ms)
    request: dict[str, Any] = {
        "TableName": table.table,
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
        "ExpressionAttributeValues": {
            ":pk": to_attr(project_pk(project_id)),
            ":low": to_attr(low),
            ":high": to_attr(high),
        },
        "ScanIndexForward": False,
        "Limit": PAGES_PER_READ,
    }
    if cursor is not None:
        if not low <= cursor.after_sk <= high:
            return None
        request["ExclusiveStartKey"] = {"pk": to_attr(project_pk(project_id)), "sk": to_attr(cursor.after_sk)}
    return request


def _order(summaries: list[OccurrenceSummary]) -> None:
    """The project listing's order: newest record first, a batch's occurrences in position order."""
    summaries.sort(key=lambda s: s.position)
    summaries.sort(key=lambda s: (s.received_ms, s.record_id), reverse=True)


class Listings(Table):
    def put_filtered_listings(self, project_id: str, records: Sequence[RecordSummary]) -> int:
        """Write the batch's filtered pages (the digest does, after `put_listing`); returns the
        number of items written: one per filter value present, more only past the page caps."""
        return self._put_all(filtered_listing_items(project_id, records), "the listing")

    def walk(
        self,
        project_id: str,
        stream: str | None = None,
        *,
        since_ms: int | None = None,
        before_ms: int | None = None,
        max_reads: int = MAX_READS,
        cursor: Cursor | None = None,
    ) -> Walk:
        """A listing's occurrences received in [since_ms, before_ms), newest first, in at most
        `max_reads` Queries: the project's listing (`stream` None) or a filtered one; `cursor`
        continues a capped walk of the same listing."""
        return Walk(self, project_id, stream, since_ms, before_ms, max_reads, cursor)

    def count(
        self,
        project_id: str,
        stream: str | None,
        *,
        errors_only: bool,
        since_ms: int | None = None,
        before_ms: int | None = None,
        max_reads: int = MAX_READS,
        cursor: Cursor | None = None,
    ) -> tuple[int, Cursor | None]:
        """Occurrences received in [since_ms, before_ms) in the project's listing (`stream` None) or
        the performance listing, from the pages' tallies: a page wholly inside the window adds its
        tally, one the window's edge cuts is read (one BatchGetItem) and its entries counted. At
        most `max_reads` Queries of tallies (~10,000 pages each); past them, a cursor."""
        return self._count(project_id, stream, errors_only, since_ms, before_ms, max_reads, cursor)

    def _count(
        self,
        project_id: str,
        stream: str | None,
        errors_only: bool,
        since_ms: int | None,
        before_ms: int | None,
        max_reads: int,
        cursor: Cursor | None,
    ) -> tuple[int, Cursor | None]:
        prefix = TALLY + (f"{stream}#" if stream else "")
        if cursor is not None:
            before_ms = cursor.before_ms if before_ms is None else min(before_ms, cursor.before_ms)
        if since_ms is not None and before_ms is not None and since_ms >= before_ms:
            return 0, None
        request = _newest_pages(self, project_id, prefix, since_ms, before_ms, cursor)
        if request is None:
            return 0, None
        del request["Limit"]  # tallies are small: a Query reads up to DynamoDB's 1 MB of them
        total = 0
        edges: list[str] = []
        with failing_as("could not count occurrences"):
            for _ in range(max_reads):
                response = self.ddb.query(**request)
                last_sk: str | None = None
                for raw in response.get("Items", []):
                    tally = from_item(raw)
                    last_sk = str(tally["sk"])
                    newest, oldest = _newest_of(last_sk), int(tally.get(OLDEST_ATTR, 0))
                    if (before_ms is not None and oldest >= before_ms) or (since_ms is not None and newest < since_ms):
                        continue  # wholly outside
                    inside = (since_ms is None or oldest >= since_ms) and (before_ms is None or newest < before_ms)
                    if inside:
                        occurrences, errors = tally.get(COUNT_ATTR, [0, 0])
                        total += int(errors if errors_only else occurrences)
                    else:
                        edges.append(page_sk_of(last_sk))
                if "LastEvaluatedKey" not in response:
                    total += self._count_edges(project_id, edges, errors_only, since_ms, before_ms)
                    return total, None
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            total += self._count_edges(project_id, edges, errors_only, since_ms, before_ms)
            if last_sk is None:
                return total, None
            # Capped: every page at or after the last tally read is counted; the rest is below it.
            return total, Cursor(_newest_of(last_sk) + 1 if before_ms is None else before_ms, last_sk)

    def _count_edges(
        self, project_id: str, page_sks: list[str], errors_only: bool, since_ms: int | None, before_ms: int | None
    ) -> int:
        """The matching entries of the pages the window's edges cut (one BatchGetItem per 100)."""
        total = 0
        for page in self._batch_get([{"pk": project_pk(project_id), "sk": sk} for sk in page_sks], "occurrences"):
            for found in _page_summaries(page):
                if before_ms is not None and found.received_ms >= before_ms:
                    continue
                if since_ms is not None and found.received_ms < since_ms:
                    continue
                if not errors_only or not found.is_performance:
                    total += 1
        return total
