"""Occurrences: recent ones (by time received, newest first), those of an issue, and one by id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from lodge.models.occurrences import OccurrenceSummary
from lodge.storage.records import clip_index_text

if TYPE_CHECKING:
    from lodge.storage import Store

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


def recent(store: Store, project_id: str, where: OccurrenceFilter, page_size: int = 100) -> Iterator[OccurrenceSummary]:
    """Matching occurrences, newest received first, read lazily page by page."""
    summaries = store.occurrence_summaries(
        project_id, since_ms=where.since_ms, before_ms=where.before_ms, page_size=page_size
    )
    return (summary for summary in summaries if where.matches(summary))


def of_issue(store: Store, project_id: str, issue_id: str, limit: int = 100) -> list[OccurrenceSummary]:
    """The latest occurrences counted into an issue."""
    found: list[OccurrenceSummary] = []
    for summary in recent(store, project_id, OccurrenceFilter(issue_id=issue_id)):
        found.append(summary)
        if len(found) >= limit:
            break
    return found


def occurrence(store: Store, project_id: str, occurrence_id: str) -> dict[str, Any] | None:
    """One occurrence's detail (the Occurrence's JSON form), or None."""
    return store.get_occurrence(project_id, occurrence_id)


def is_stored(store: Store, project_id: str, record_id: str) -> bool:
    """Whether a record is stored, without reading it (a key-only lookup)."""
    return store.record_exists(project_id, record_id)
