"""Issues.bump_group: the status decision rides on the counter update; a 2nd write only on a transition."""

from __future__ import annotations

from typing import Any

import pytest

from lodge.grouping import compute
from lodge.models.issues import IssueChange
from lodge.occurrence import ExceptionInfo, Occurrence
from lodge.storage import GroupDelta, Store


def delta(n: int, version: str | None = None) -> GroupDelta:
    occurrence = Occurrence(
        project_id="p1",
        received_at=1_800_000_000.0 + n,
        protocol="rollbar",
        client_id=f"c{n}",
        kind="error",
        level="error",
        environment="production",
        code_version=version,
        exceptions=[ExceptionInfo(type="KeyError", message="x")],
    )
    grouping = compute(occurrence)
    assert grouping is not None
    return GroupDelta(grouping, occurrence, occurrence, f"ref{n}", f"ref{n}", 1)


@pytest.fixture
def calls(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    original = store.ddb.update_item

    def counting(**kwargs: Any) -> Any:
        seen.append(kwargs["UpdateExpression"].split()[0] + (" if" if "ConditionExpression" in kwargs else ""))
        return original(**kwargs)

    monkeypatch.setattr(store.ddb, "update_item", counting)
    return seen


def test_one_write_unless_the_status_changes(store: Store, calls: list[str]) -> None:
    assert store.bump_group("p1", delta(0)) is True
    group_id = delta(0).grouping.group_id
    assert store.bump_group("p1", delta(1)) is False
    assert len(calls) == 2  # one UpdateItem per occurrence while active
    store.change_issue("p1", group_id, IssueChange(by="t", status="resolved", resolved_in_version="2.0.0"))
    calls.clear()
    store.bump_group("p1", delta(2, "1.0.0"))
    assert len(calls) == 1  # older version: stays resolved, still one write
    store.bump_group("p1", delta(3, "2.0.0"))
    assert calls == ["SET", "SET", "SET if"]  # the transition: one conditional fix-up after its count
    issue = store.issue("p1", group_id)
    assert issue is not None and issue.status == "active" and issue.total_occurrences == 4
    assert issue.regression is not None and issue.regression.occurrence_id == "ref3"
    assert issue.regression.code_version == "2.0.0"
    assert [(c.previous, c.status, c.by) for c in issue.history] == [
        ("active", "resolved", "t"),
        ("resolved", "active", "lodge"),
    ]


def test_a_concurrent_change_wins_over_the_fix_up(store: Store) -> None:
    group_id = delta(0).grouping.group_id
    store.bump_group("p1", delta(0))
    store.change_issue("p1", group_id, IssueChange(by="t", status="resolved"))
    item = store.get_group("p1", group_id)
    assert item is not None
    from lodge.storage.issues import reactivation

    fixup = reactivation("p1", group_id, {**item, "cnt": 2}, delta(1), 1_800_000_100.0)
    assert fixup is not None
    store.change_issue("p1", group_id, IssueChange(by="t", status="archived"))  # someone else, in between
    with pytest.raises(store.ddb.exceptions.ConditionalCheckFailedException):
        store.ddb.update_item(TableName=store.table, **fixup)
    assert store.issue("p1", group_id).status == "archived"  # type: ignore[union-attr]


def test_history_is_bounded(store: Store) -> None:
    group_id = delta(0).grouping.group_id
    store.bump_group("p1", delta(0))
    for n in range(12):
        store.change_issue("p1", group_id, IssueChange(by=f"u{n}", status="resolved" if n % 2 else "muted"))
    issue = store.issue("p1", group_id)
    assert issue is not None and len(issue.history) == 5 and issue.history[-1].by == "u11"


def test_the_count_says_when_it_reopened_a_resolved_issue(store: Store) -> None:
    """Alerts read `regressed` off the count (a regression alert is due); an unmute is no regression."""
    first = store.count_into("p1", delta(0))
    assert first.created and not first.regressed
    group_id = delta(0).grouping.group_id
    store.change_issue("p1", group_id, IssueChange(by="t", status="resolved"))
    reopened = store.count_into("p1", delta(1))
    assert reopened.regressed and not reopened.created and reopened.new_count == 2
    assert not store.count_into("p1", delta(2)).regressed  # active again: nothing more to reopen
    store.change_issue("p1", group_id, IssueChange(by="t", status="muted", mute_occurrences=1))
    assert not store.count_into("p1", delta(3)).regressed  # still muted: one more allowed
    unmuted = store.count_into("p1", delta(4))  # the mute ends: the issue reopens, not a regression
    assert not unmuted.regressed
    reopened_issue = store.issue("p1", group_id)
    assert reopened_issue is not None and reopened_issue.status == "active"
