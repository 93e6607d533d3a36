"""Issue listings bounded by design (issue 16 point 3): on a small project the bounded path (the
listing index, then the page's issues) answers exactly what a walk of every issue answers."""

from __future__ import annotations

import math
from typing import Any

import pytest

from lodge.console import data
from lodge.grouping import compute
from lodge.models.issues import Issue, IssueChange
from lodge.occurrence import ExceptionInfo, Occurrence
from lodge.queries import issues as queries
from lodge.storage import GroupDelta, Store

PROJECT = "p1"
BASE = 1_800_000_000.0
ENVIRONMENTS = ("production", "staging")
LEVELS = ("error", "warning", "critical")


def occurrence(n: int, at: float, kind: str = "error") -> Occurrence:
    return Occurrence(
        project_id=PROJECT,
        received_at=at,
        protocol="rollbar",
        client_id=f"c{n}-{at}",
        kind=kind,
        level=LEVELS[n % 3],
        environment=ENVIRONMENTS[n % 2],
        framework="django" if n % 4 == 0 else None,
        exceptions=[ExceptionInfo(type=f"Error{n}", message="KeyError here" if n % 5 == 0 else "boom")],
    )


def count(store: Store, n: int, at: float, times: int = 1, kind: str = "error") -> str:
    first = occurrence(n, at, kind)
    grouping = compute(occurrence(n, at))  # a performance sample groups into nothing: forced here
    assert grouping is not None
    store.count_into(PROJECT, GroupDelta(grouping, first, first, f"r{n}", f"r{n}", times))
    return grouping.group_id


@pytest.fixture
def seeded(store: Store) -> list[str]:
    """30 issues over 4 minutes: several last seen in the same minute (and two at the same
    instant, so ties by id count), counts 1-5, some triaged, two performance issues."""
    ids = []
    for n in range(30):
        at = BASE + (n % 4) * 60 + (n % 7) * 3.5 + (0 if n in (10, 11) else n / 100)
        ids.append(count(store, n, at, times=1 + n % 5, kind="performance" if n in (3, 20) else "error"))
    for n in range(0, 30, 6):
        count(store, n, BASE + 400 + n)  # seen again later: its entry moves to a newer minute
    for n, status in ((1, "resolved"), (2, "muted"), (7, "archived"), (8, "resolved"), (13, "resolved")):
        store.change_issue(PROJECT, ids[n], IssueChange(by="t", status=status))
    return ids


def walked(store: Store, where: queries.IssueFilter, page: int, size: int) -> queries.IssuePage:
    """The listing before issue 16: every issue of the project, filtered, sorted, paginated."""
    found = [issue for issue in store.issues(PROJECT) if where.matches(issue)]
    found.sort(key=lambda i: (i.last_seen or 0.0, i.id), reverse=True)
    start = (page - 1) * size
    return queries.IssuePage(page, max(1, math.ceil(len(found) / size)), len(found), found[start : start + size])


def filters(ids: list[str]) -> list[queries.IssueFilter]:
    return [
        queries.IssueFilter(),
        queries.IssueFilter(statuses={"active"}),
        queries.IssueFilter(statuses={"resolved", "muted"}),
        queries.IssueFilter(levels={"warning"}),
        queries.IssueFilter(environments={"staging"}),
        queries.IssueFilter(frameworks={"django"}),
        queries.IssueFilter(frameworks={"unknown"}, levels={"error"}),
        queries.IssueFilter(title_contains="keyerror"),
        queries.IssueFilter(ids=set(ids[::3])),
        queries.IssueFilter(ids={ids[3], "0" * 20}),
        queries.IssueFilter(ids={ids[4], "x" * 2000, "GRP#", "é"}),  # not an id's shape: matches nothing
    ]


def test_the_bounded_listing_answers_what_a_walk_answers(store: Store, seeded: list[str]) -> None:
    for where, size in ((where, size) for size in (7, 100) for where in filters(seeded)):
        expected_pages = walked(store, where, 1, size).pages
        for page in range(1, expected_pages + 2):
            bounded = queries.list_issues(store, PROJECT, where, page, size)
            expected = walked(store, where, page, size)
            assert not bounded.capped
            assert (bounded.page, bounded.pages, bounded.total) == (expected.page, expected.pages, expected.total)
            assert [i.id for i in bounded.issues] == [i.id for i in expected.issues], (where, page)
            assert bounded.issues == expected.issues  # whole issues, as the walk read them


def test_a_scan_past_its_cap_lists_the_newest_and_says_so(
    store: Store, seeded: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries, "SCAN_CALLS", 2)
    monkeypatch.setattr(queries, "SCAN_PAGE", 10)
    bounded = queries.list_issues(store, PROJECT, queries.IssueFilter(), 1, 5)
    assert bounded.capped and bounded.total <= 20
    expected = walked(store, queries.IssueFilter(), 1, 5)
    assert [i.id for i in bounded.issues] == [i.id for i in expected.issues]  # the newest are right


def test_a_page_costs_a_bounded_number_of_reads(store: Store, seeded: list[str]) -> None:
    reads: list[str] = []
    original = store.ddb._make_api_call

    def counting(operation: str, params: dict[str, Any]) -> Any:
        reads.append(operation)
        return original(operation, params)

    store.ddb._make_api_call = counting
    try:
        queries.list_issues(store, PROJECT, queries.IssueFilter(), 2, 7)
        assert reads == ["Query", "BatchGetItem"]
        reads.clear()
        data.list_issues(data.Viewer(PROJECT, "h"), sort="count", store=store)
        assert reads.count("Query") <= 2 + 1 and reads.count("BatchGetItem") == 1  # index, trends; the page
        assert "Scan" not in reads
    finally:
        del store.ddb._make_api_call


def console_walked(store: Store, status: str, environment: str, level: str, search: str, sort: str) -> Any:
    """The console's issue list before issue 16 (without the trends)."""
    rows = [data._issue_row(i) for i in store.issues(PROJECT) if queries.IssueFilter().matches(i)]
    counts = {s: sum(1 for r in rows if r.status == s) for s in data.STATUSES}
    environments = sorted({r.environment for r in rows if r.environment})
    chosen = [r for r in rows if r.status == status]
    chosen = [r for r in chosen if not environment or r.environment == environment]
    chosen = [r for r in chosen if not level or r.level == level]
    chosen = [r for r in chosen if search.casefold() in r.title.casefold()]
    chosen.sort(key=lambda r: (getattr(r, sort), r.id), reverse=True)
    return chosen, counts, environments


@pytest.mark.parametrize("sort", ["last_seen", "first_seen", "count"])
@pytest.mark.parametrize(
    ("status", "environment", "level", "search"),
    [("active", "", "", ""), ("active", "staging", "warning", "err")],
)
def test_the_console_list_answers_what_a_walk_answers(
    store: Store, seeded: list[str], sort: str, status: str, environment: str, level: str, search: str
) -> None:
    viewer = data.Viewer(PROJECT, "h")
    chosen, counts, environments = console_walked(store, status, environment, level, search, sort)
    per_page = 4
    pages = max(1, -(-len(chosen) // per_page))
    for page in range(1, pages + 1):
        listing = data.list_issues(
            viewer,
            status=status,
            environment=environment,
            level=level,
            search=search,
            sort=sort,
            page=page,
            per_page=per_page,
            store=store,
        )
        assert not listing.capped
        assert (listing.total, listing.pages, listing.page) == (len(chosen), pages, page)
        assert listing.counts_by_status == counts and listing.environments == environments
        expected = chosen[(page - 1) * per_page : page * per_page]
        assert [data._with_trend(r, None) for r in listing.rows] == expected


def test_item_counters_are_found_by_their_own_item(store: Store, seeded: list[str]) -> None:
    listed = queries.with_counters(store, PROJECT, queries.list_issues(store, PROJECT, queries.IssueFilter()).issues)
    numbers = {issue.counter: issue.id for issue in listed}
    assert sorted(numbers) == list(range(1, len(listed) + 1))
    for number, issue_id in numbers.items():
        found = store.issue_by_counter(PROJECT, number)
        assert isinstance(found, Issue) and found.id == issue_id
    assert store.issue_by_counter(PROJECT, len(listed) + 1) is None


def test_issues_written_before_the_index_are_reindexed(store: Store, seeded: list[str]) -> None:
    table = store.table
    for item in store.list_groups(PROJECT):
        store.ddb.update_item(
            TableName=table,
            Key={"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}},
            UpdateExpression="REMOVE ils",
        )
    assert queries.list_issues(store, PROJECT, queries.IssueFilter()).total == 0
    assert store.reindex_issues(PROJECT) == len(seeded)
    assert queries.list_issues(store, PROJECT, queries.IssueFilter()).total == len(seeded) - 2  # no performance


def test_snapshots_from_before_the_index_are_upgraded_on_restore() -> None:
    from lodge.dynamo import to_item
    from lodge.storage.issues import upgraded_items

    old = to_item({"pk": "PRJ#p1", "sk": "GRP#abc", "ls": 1_800_000_030.5, "ctr": 7, "title": "t"})
    issue, counter = upgraded_items(old)
    assert issue == {**old, "ils": {"N": str(1_800_000_030 // 60)}}
    assert counter == to_item({"pk": "PRJ#p1", "sk": "CTR#000000000007", "g": "abc"})
    record = to_item({"pk": "PRJ#p1#a", "sk": "REC#x", "t": 1})
    assert upgraded_items(record) == [record]
