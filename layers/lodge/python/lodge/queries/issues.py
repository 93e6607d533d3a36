"""Issues of a project: filter, sort (most recently seen first), paginate."""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import TYPE_CHECKING, NamedTuple

from lodge.models.issues import Issue

if TYPE_CHECKING:
    from lodge.storage import Store


class IssueFilter(NamedTuple):
    """Empty collections match everything."""

    environments: Collection[str] = ()
    levels: Collection[str] = ()
    statuses: Collection[str] = ()
    frameworks: Collection[str] = ()
    ids: Collection[str] = ()
    title_contains: str = ""
    """Case-insensitive substring of the title."""

    def matches(self, issue: Issue) -> bool:
        needle = self.title_contains.casefold()
        return (
            issue.kind != "performance"
            and (not self.environments or issue.environment in self.environments)
            and (not self.levels or issue.level in self.levels)
            and (not self.statuses or issue.status in self.statuses)
            and (not self.frameworks or (issue.framework or "unknown") in self.frameworks)
            and (not self.ids or issue.id in self.ids)
            and (not needle or needle in (issue.title or "").casefold())
        )


class IssuePage(NamedTuple):
    page: int
    pages: int
    total: int
    issues: list[Issue]


def matching(store: Store, project_id: str, where: IssueFilter) -> list[Issue]:
    """Every matching issue, unsorted (the console sorts and counts them its own ways)."""
    return [issue for issue in store.issues(project_id) if where.matches(issue)]


def list_issues(store: Store, project_id: str, where: IssueFilter, page: int = 1, page_size: int = 100) -> IssuePage:
    """One page of matching issues, last seen newest first (ties by id, so pages are stable)."""
    found = matching(store, project_id, where)
    found.sort(key=lambda i: (i.last_seen or 0.0, i.id), reverse=True)
    start = (page - 1) * page_size
    return IssuePage(
        page=page,
        pages=max(1, math.ceil(len(found) / page_size)),
        total=len(found),
        issues=found[start : start + page_size],
    )


def with_counters(store: Store, project_id: str, found: list[Issue]) -> list[Issue]:
    """The issues with their item counters, handing out the missing ones (docs/triage.md)."""
    assigned = store.assign_counters(project_id, found)
    return [i._replace(counter=assigned[i.id]) if i.id in assigned else i for i in found]


def issue(store: Store, project_id: str, issue_id: str) -> Issue | None:
    return store.issue(project_id, issue_id)


def issue_of_occurrence(store: Store, project_id: str, occurrence_id: str) -> Issue | None:
    """The issue an occurrence was counted into (None: unknown occurrence, or not grouped)."""
    summary = store.occurrence_summary(project_id, occurrence_id)
    if summary is None or summary.issue_id is None:
        return None
    return store.issue(project_id, summary.issue_id)
