"""Filtered listings: the digest's pages of one filter's matches, so a filter reads only its own.

The project's listing (`Records.put_listing`) holds every record; a filter that rarely matches
would walk all of it. So, in the same batch, the digest also writes, per filter value present in
the batch, pages holding only the matching occurrences (docs/storage.md, "Listings"):

- `ke` / `kp`: errors (everything not a performance sample) / performance samples;
- `g<issue id>`: an issue's occurrences (Rollbar instances, the console's issue page);
- `a<hash>`: an action (AppSignal `action`), by a hash of its clipped name;
- `x<hash>`: an exception class (AppSignal `exception`), likewise.

A page is one item in the project partition (`keys.filtered_listing_sk`), up to 64 KB and 60 s
like the project listing, holding for each record only its matching entries and their positions.
Its key derives from its records, so a retried batch rewrites the same pages.

Reads are capped: at most `MAX_READS` Queries of up to ~1 MB each per listing call; a caller that
needs more pages on with its API's own continuation (`before`, `page`, a cursor).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from lodge.dynamo import from_item, to_attr, to_item
from lodge.models.occurrences import OccurrenceSummary
from lodge.storage.errors import failing_as, iterate_failing_as
from lodge.storage.keys import filtered_listing_bounds, filtered_listing_sk, occurrence_ref, project_pk
from lodge.storage.records import INDEX_TEXT_LIMIT, LISTING_SPAN_MS, RecordSummary, listing_pages, summary
from lodge.storage.table import Table

MAX_READS = 5
"""Queries per listing call: the documented cap (docs/storage.md)."""
UNCAPPED = 1 << 30
"""`max_reads` for a reader that pages with its own cap (the console's record cap)."""
PAGES_PER_READ = 16
"""A Query returns at most 1 MB: about 16 pages of 64 KB (the emulation has no such limit)."""
ERRORS = "ke"
PERFORMANCE = "kp"


def _hashed(prefix: str, text: str) -> str:
    clipped = text[:INDEX_TEXT_LIMIT]
    return prefix + hashlib.sha256(clipped.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def issue_stream(issue_id: str) -> str:
    return "g" + issue_id


def action_stream(action: str) -> str:
    return _hashed("a", action)


def exception_stream(exception_class: str) -> str:
    return _hashed("x", exception_class)


def streams_of(entry: dict[str, Any]) -> list[str]:
    """Every filtered listing an index entry belongs to."""
    found = [PERFORMANCE if entry.get("k") == "performance" else ERRORS]
    if entry.get("g"):
        found.append(issue_stream(str(entry["g"])))
    if entry.get("a"):
        found.append(action_stream(str(entry["a"])))
    if entry.get("x"):
        found.append(exception_stream(str(entry["x"])))
    return found


@dataclass
class Capped:
    """What a capped read returned, and where the next call resumes (None: nothing older)."""

    summaries: list[OccurrenceSummary]
    reads: int
    next_before_ms: int | None


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
                matched.setdefault(stream, []).append((position, entry))
        for stream, members in matched.items():
            by_stream.setdefault(stream, []).append(
                RecordSummary(record.record_id, record.received_ms, [e for _, e in members])
            )
            positions[(stream, record.record_id)] = [p for p, _ in members]
    items = []
    for stream, pending in sorted(by_stream.items()):
        for page in listing_pages(pending):
            items.append(
                {
                    "pk": project_pk(project_id),
                    "sk": filtered_listing_sk(stream, max(r.received_ms for r in page), page_tag(page)),
                    "n": sum(len(r.index) for r in page),
                    "rs": [
                        {
                            "r": r.record_id,
                            "t": r.received_ms,
                            "z": sizes[r.record_id],
                            "p": positions[(stream, r.record_id)],
                            "ix": r.index,
                        }
                        for r in page
                    ],
                }
            )
    return items


class Listings(Table):
    def put_filtered_listings(self, project_id: str, records: Sequence[RecordSummary]) -> int:
        """Write the batch's filtered pages (the digest does, after `put_listing`); returns the
        number of items written: one per filter value present, more only past 64 KB or 60 s."""
        items = filtered_listing_items(project_id, records)
        with failing_as("could not write the listing"):
            for item in items:
                self.ddb.put_item(TableName=self.table, Item=to_item(item))
        return len(items)

    def filtered_summaries(
        self,
        project_id: str,
        stream: str,
        *,
        since_ms: int | None = None,
        before_ms: int | None = None,
        max_reads: int = MAX_READS,
    ) -> Iterator[OccurrenceSummary]:
        """A filter's occurrences received in [since_ms, before_ms), newest first, reading at most
        `max_reads` Queries (the iterator then simply ends: `read_filtered` says where to resume)."""
        return iterate_failing_as(
            "could not read occurrences", self._filtered(project_id, stream, since_ms, before_ms, max_reads, None)
        )

    def read_filtered(
        self,
        project_id: str,
        stream: str,
        *,
        limit: int,
        since_ms: int | None = None,
        before_ms: int | None = None,
        max_reads: int = MAX_READS,
    ) -> Capped:
        """Up to `limit` occurrences of a filter, newest first, in at most `max_reads` Queries."""
        state: dict[str, Any] = {"reads": 0, "oldest": None, "more": False}
        found: list[OccurrenceSummary] = []
        with failing_as("could not read occurrences"):
            for item in self._filtered(project_id, stream, since_ms, before_ms, max_reads, state):
                found.append(item)
                if len(found) >= limit:
                    state["more"] = True
                    break
        resume = found[-1].received_ms if state["more"] else state["oldest"]
        return Capped(found, state["reads"], resume)

    def _filtered(
        self,
        project_id: str,
        stream: str,
        since_ms: int | None,
        before_ms: int | None,
        max_reads: int,
        state: dict[str, Any] | None,
    ) -> Iterator[OccurrenceSummary]:
        if since_ms is not None and before_ms is not None and since_ms >= before_ms:
            return
        low, high = filtered_listing_bounds(
            stream, since_ms, before_ms + LISTING_SPAN_MS if before_ms is not None else None
        )
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": {
                ":pk": to_attr(project_pk(project_id)),
                ":low": to_attr(low),
                ":high": to_attr(high),
            },
            "ScanIndexForward": False,
            "Limit": PAGES_PER_READ,
        }
        seen: set[str] = set()
        for read in range(max_reads):
            response = self.ddb.query(**request)
            if state is not None:
                state["reads"] = read + 1
            found: list[OccurrenceSummary] = []
            oldest_page: int | None = None
            for raw in response.get("Items", []):
                page = from_item(raw)
                for entry in page.get("rs", []):
                    received_ms = int(entry["t"])
                    oldest_page = received_ms if oldest_page is None else min(oldest_page, received_ms)
                    if before_ms is not None and received_ms >= before_ms:
                        continue
                    if since_ms is not None and received_ms < since_ms:
                        continue
                    size = int(entry.get("z", 1))
                    for position, index in zip(entry.get("p", []), entry.get("ix", []), strict=False):
                        ref = occurrence_ref(entry["r"], int(position), size)
                        found.append(summary(ref, entry["r"], int(position), received_ms, index))
            # Pages of parallel stream shards may overlap in time: order what one read returned.
            found.sort(key=lambda s: (s.received_ms, s.record_id, s.position), reverse=True)
            for occurrence in found:
                if occurrence.id not in seen:
                    seen.add(occurrence.id)
                    yield occurrence
            if "LastEvaluatedKey" not in response:
                if state is not None:
                    state["oldest"] = None  # read to the end
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            if state is not None and oldest_page is not None:
                # Capped: everything newer than the oldest page read so far has been seen.
                state["oldest"] = oldest_page

    def issues_by_id(self, project_id: str, issue_ids: Sequence[str]) -> dict[str, Any]:
        """The issues of a listing page (their triage state), in one BatchGetItem per 100 ids."""
        from lodge.storage.issues import to_issue
        from lodge.storage.keys import issue_sk

        wanted = sorted(set(issue_ids))
        found: dict[str, Any] = {}
        with failing_as("could not read issues"):
            for start in range(0, len(wanted), 100):
                keys = [to_item({"pk": project_pk(project_id), "sk": issue_sk(i)}) for i in wanted[start : start + 100]]
                request: dict[str, Any] = {self.table: {"Keys": keys}}
                while request:
                    response = self.ddb.batch_get_item(RequestItems=request)
                    for raw in response.get("Responses", {}).get(self.table, []):
                        item = from_item(raw)
                        item["id"] = item["sk"][len("GRP#") :]
                        found[item["id"]] = to_issue(project_id, item)
                    request = response.get("UnprocessedKeys") or {}
        return found
