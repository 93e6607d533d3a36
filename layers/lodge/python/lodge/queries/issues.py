"""Issues of a project: filter, sort (most recently seen first), paginate — in a bounded number of reads.

Listings read the sparse index of issues by last-seen minute (lodge.storage.issues.scan_issues),
never every issue of the project; docs/storage.md, "Issue listings", has the caps and their cost.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, NamedTuple

from lodge.models.issues import Issue

if TYPE_CHECKING:
    from lodge.storage import Store
    from lodge.storage.issues import IssueScan, ListedIssue

BATCH_GET_KEYS = 100
"""At most this many `ids` are fetched directly (one BatchGetItem)."""
_ISSUE_ID = re.compile(r"[0-9a-f]{1,64}")


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
    capped: bool = False
    """The read stopped at SCAN_CALLS: `total` and `pages` are lower bounds, older issues unlisted."""


SCAN_CALLS = 2
SCAN_PAGE = 2000
"""Queries of the listing index per listing, entries per Query (lodge.storage.issues.INDEX_PAGE_ENTRIES):
the newest SCAN_CALLS x SCAN_PAGE (4,000) issues by last seen are examined, whatever the project
holds (docs/storage.md, "Issue listings")."""
FETCH_CAP = 200
"""Whole issues fetched (BatchGetItem, 100 a call) for one page: the page and, to order it exactly,
the rest of the minutes it starts and ends in. A page in a minute holding more falls back to id order."""


def scan(store: Store, project_id: str, fields: Sequence[str] | None = None) -> IssueScan:
    """The newest issues by last-seen minute, from the listing index (bounded: SCAN_CALLS Queries);
    `fields`: only these Issue fields are read from it (default: all it holds)."""
    return store.scan_issues(project_id, SCAN_CALLS, SCAN_PAGE, fields)


def filter_fields(where: IssueFilter) -> list[str]:
    """The Issue fields `where.matches` reads (the id is always there)."""
    used = {
        "environment": where.environments,
        "level": where.levels,
        "status": where.statuses,
        "framework": where.frameworks,
        "title": where.title_contains,
    }
    return ["kind", *(name for name, value in used.items() if value)]


def newest_first(listed: list[ListedIssue]) -> list[ListedIssue]:
    """Index entries by last-seen minute, newest first; within a minute by id (made exact by `window`)."""
    return sorted(listed, key=lambda entry: (entry.minute, entry.issue.id), reverse=True)


def window(store: Store, project_id: str, ordered: list[ListedIssue], offset: int, size: int) -> list[Issue]:
    """Issues offset..offset+size of `ordered` (newest_first), whole and ordered by exact last seen.

    The index knows only the minute: the page's first and last minutes are fetched whole (up to
    FETCH_CAP issues) so ties within a minute are ordered by the exact last seen, then id, exactly
    as a sort of all issues would; past FETCH_CAP they stay in id order.
    """
    if offset >= len(ordered) or size <= 0:
        return []
    end = min(len(ordered), offset + size)
    first, last = offset, end
    while first > 0 and ordered[first - 1].minute == ordered[offset].minute:
        first -= 1
    while last < len(ordered) and ordered[last].minute == ordered[end - 1].minute:
        last += 1
    if last - first > FETCH_CAP:
        first, last = offset, end
    chosen = ordered[first:last]
    found = store.issues_by_id(project_id, [entry.issue.id for entry in chosen])
    whole = [(entry.minute, found[entry.issue.id]) for entry in chosen if entry.issue.id in found]
    whole.sort(key=lambda pair: (pair[0], pair[1].last_seen or 0.0, pair[1].id), reverse=True)
    return [issue for _, issue in whole[offset - first : offset - first + size]]


def list_issues(store: Store, project_id: str, where: IssueFilter, page: int = 1, page_size: int = 100) -> IssuePage:
    """One page of matching issues, last seen newest first (ties by id, so pages are stable).

    Bounded: a listing by `ids` (at most 100) fetches them; any other reads the listing index
    (SCAN_CALLS Queries) and one or two BatchGetItems. A project with more issues than one scan
    holds is listed from its newest ones and the page says `capped`.
    """
    start = (page - 1) * page_size
    if where.ids and len(where.ids) <= BATCH_GET_KEYS:
        # Only an id's shape can be a key (a client's 2 KB string would be a ValidationException, a 503).
        wanted = sorted(i for i in where.ids if _ISSUE_ID.fullmatch(i))
        found = [i for i in store.issues_by_id(project_id, wanted).values() if where.matches(i)]
        found.sort(key=lambda i: (i.last_seen or 0.0, i.id), reverse=True)
        return IssuePage(page, max(1, math.ceil(len(found) / page_size)), len(found), found[start : start + page_size])
    listed, complete = scan(store, project_id, filter_fields(where))
    ordered = newest_first([entry for entry in listed if where.matches(entry.issue)])
    return IssuePage(
        page=page,
        pages=max(1, math.ceil(len(ordered) / page_size)),
        total=len(ordered),
        issues=window(store, project_id, ordered, start, page_size),
        capped=not complete,
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
