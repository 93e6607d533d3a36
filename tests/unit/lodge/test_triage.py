"""lodge.triage: which occurrence reopens a resolved or muted issue."""

from __future__ import annotations

import pytest

from lodge.triage import TriageState, after_occurrence, reopens_resolved, valid_version


@pytest.mark.parametrize(
    ("resolved_in", "seen_at_resolve", "version", "reopens"),
    [
        (None, None, "1.0.0", True),  # plain resolve: every occurrence reopens
        ("2.0.0", None, None, True),  # occurrence without a version: cannot tell, reopen
        ("2.0.0", None, "1.9.0", False),
        ("2.0.0", None, "2.0.0", True),  # the fixed version itself failing again
        ("2.0.0", None, "2.0.1", True),
        ("2.0.0", None, "10.0.0", True),  # numeric, not text order
        ("2.0", None, "1.10", False),
        ("1.2.3", None, "1.2.3.9", True),  # a 4th part is ignored: 1.2.3 >= 1.2.3
        ("v2.0.0", None, "1.9.9", False),
        ("24", None, "23", False),
        ("24", None, "300", True),
        ("abc123", "old999", "old999", False),  # the sha live at resolve time: old code still running
        ("abc123", "old999", "abc123", True),
        ("abc123", "old999", "def456", True),  # any other sha: cannot order, reopen
        ("abc123", None, "def456", True),
    ],
)
def test_reopens_resolved(
    resolved_in: str | None, seen_at_resolve: str | None, version: str | None, reopens: bool
) -> None:
    assert reopens_resolved(resolved_in, seen_at_resolve, version) is reopens


def test_active_and_archived_stay() -> None:
    assert after_occurrence(TriageState("active", 5), "1", 0.0) is None
    assert after_occurrence(TriageState("archived", 5), "1", 0.0) is None


def test_resolved_regresses() -> None:
    transition = after_occurrence(TriageState("resolved", 2), None, 0.0)
    assert transition is not None and transition.regressed and transition.previous == "resolved"


def test_mute_until_count_reopens_on_the_next_one() -> None:
    muted = TriageState("muted", 13, muted_until_total=13)  # muted at 10 for 3 more
    assert after_occurrence(muted, None, 0.0) is None
    transition = after_occurrence(muted._replace(total=14), None, 0.0)
    assert transition is not None and not transition.regressed and transition.previous == "muted"


def test_mute_until_time() -> None:
    muted = TriageState("muted", 3, muted_until=100.0)
    assert after_occurrence(muted, None, 99.9) is None
    assert after_occurrence(muted, None, 100.0) is not None
    assert after_occurrence(TriageState("muted", 10**6), None, 10**12) is None  # muted forever


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("2.0.0", "2.0.0"), (7, "7"), (" v1 ", "v1"), ("", None), ("x" * 41, None), (True, None), (1.5, None)],
)
def test_valid_version(raw: object, expected: str | None) -> None:
    assert valid_version(raw) == expected
