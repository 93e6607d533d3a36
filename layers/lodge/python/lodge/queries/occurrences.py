"""Occurrences: recent ones (by time received, newest first), those of an issue, and one by id."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from lodge.models.occurrences import OccurrenceSummary
from lodge.storage.records import clip_index_text

if TYPE_CHECKING:
    from lodge.storage import Store
    from lodge.storage.listings import Cursor

Kind = Literal["all", "errors", "performance"]
"""errors: everything that is not a performance sample (errors and messages)."""


class OccurrenceFilter(NamedTuple):
    kind: Kind = "all"
    action: str | None = None
    exception_class: str | None = None
    issue_id: str | None = None
    since_ms: int | None = None
    """Inclusive."""
    before_ms: int | None = None
    """Exclusive."""

    def matches(self, summary: OccurrenceSummary) -> bool:
        if self.kind == "errors" and summary.is_performance:
            return False
        if self.kind == "performance" and not summary.is_performance:
            return False
        if self.action is not None and summary.action != clip_index_text(self.action):
            return False
        if self.exception_class is not None and summary.exception_class != clip_index_text(self.exception_class):
            return False
        return self.issue_id is None or summary.issue_id == self.issue_id


def stream_of(where: OccurrenceFilter) -> str | None:
    """The narrowest digest-written listing that holds every match (None: the project's listing)."""
    from lodge.storage import listings

    if where.issue_id is not None:
        return listings.issue_stream(where.issue_id)
    if where.exception_class is not None:
        return listings.exception_stream(where.exception_class)
    if where.action is not None:
        return listings.action_stream(where.action)
    if where.kind == "performance":
        return listings.PERFORMANCE
    return None  # errors: the commonest kind, read from the project's listing


class Recent(Iterator[OccurrenceSummary]):
    """Matching occurrences, newest received first, from the narrowest listing, in at most
    `max_reads` Queries (docs/storage.md "Listings"). After iterating: `complete` (the listing's
    end was reached) or `resume_before_ms`, where the caller's next page starts."""

    def __init__(
        self,
        store: Store,
        project_id: str,
        where: OccurrenceFilter,
        max_reads: int | None,
        cursor: Cursor | None = None,
    ) -> None:
        from lodge.storage.listings import MAX_READS

        self._walk = store.walk(
            project_id,
            stream_of(where),
            since_ms=where.since_ms,
            before_ms=where.before_ms,
            max_reads=MAX_READS if max_reads is None else max_reads,
            cursor=cursor,
        )
        self._where = where

    def __next__(self) -> OccurrenceSummary:
        while True:
            found = next(self._walk)
            if self._where.matches(found):
                return found

    @property
    def reads(self) -> int:
        return self._walk.reads

    @property
    def complete(self) -> bool:
        return self._walk.complete

    @property
    def resume_before_ms(self) -> int | None:
        return self._walk.resume_before_ms

    @property
    def cursor(self) -> Cursor | None:
        return self._walk.cursor


def recent(
    store: Store, project_id: str, where: OccurrenceFilter, max_reads: int | None = None, cursor: Cursor | None = None
) -> Recent:
    """Matching occurrences, newest received first, read lazily (at most `max_reads` Queries)."""
    return Recent(store, project_id, where, max_reads, cursor)


def parse_cursor(where: OccurrenceFilter, text: str | None, *, counting: bool = False) -> Cursor | None:
    """A client's continuation of this filter's listing (or count); ValueError when it is not one."""
    from lodge.storage.listings import Cursor

    by_tallies = counting and where.action is None and where.exception_class is None and where.issue_id is None
    return Cursor.decode(text, stream_of(where), counting=by_tallies) if text else None


class Page(NamedTuple):
    found: list[OccurrenceSummary]
    cursor: Cursor | None
    """Set when the read cap stopped the walk: pass it back for the rest (None: nothing more)."""


def page(store: Store, project_id: str, where: OccurrenceFilter, limit: int, cursor: Cursor | None = None) -> Page:
    """Up to `limit` newest matches. When the read cap stops the walk first, the page also holds
    what the walk had read but not yet released (so it may pass `limit`), and its cursor then
    continues with every remaining match exactly once."""
    listed = recent(store, project_id, where, cursor=cursor)
    found = list(itertools.islice(listed, limit))
    if listed.cursor is not None:
        found.extend(listed)
    return Page(found, listed.cursor)


def count(
    store: Store, project_id: str, where: OccurrenceFilter, cursor: Cursor | None = None
) -> tuple[int, Cursor | None]:
    """How many match, within the read cap; the cursor (when capped) counts on from there. A filter
    of kind and time only adds the listing pages' tallies (a Query reads ~10,000 of them); any
    other filter walks its listing and counts the matches."""
    if where.action is None and where.exception_class is None and where.issue_id is None:
        return store.count(
            project_id,
            stream_of(where),
            errors_only=where.kind == "errors",
            since_ms=where.since_ms,
            before_ms=where.before_ms,
            cursor=cursor,
        )
    walk = store.walk(project_id, stream_of(where), since_ms=where.since_ms, before_ms=where.before_ms, cursor=cursor)
    return sum(1 for found in walk if where.matches(found)), walk.cursor


def of_issue(store: Store, project_id: str, issue_id: str, limit: int = 100) -> list[OccurrenceSummary]:
    """The latest occurrences counted into an issue (up to the read cap's worth)."""
    found: list[OccurrenceSummary] = []
    for summary in recent(store, project_id, OccurrenceFilter(issue_id=issue_id)):
        found.append(summary)
        if len(found) >= limit:
            break
    return found


def occurrence(store: Store, project_id: str, occurrence_id: str) -> dict[str, Any] | None:
    """One occurrence's detail (the Occurrence's JSON form), or None."""
    return store.get_occurrence(project_id, occurrence_id)


def occurrences(store: Store, project_id: str, occurrence_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Many occurrences' details by id (a listing page's), in one batched read per 100 records."""
    return store.get_occurrences(project_id, occurrence_ids)


def is_stored(store: Store, project_id: str, record_id: str) -> bool:
    """Whether a record is stored, without reading it (a key-only lookup)."""
    return store.record_exists(project_id, record_id)
