"""The pure decision function, rule matching and webhook signatures."""

from __future__ import annotations

import pytest

from lodge.alerts import signing
from lodge.alerts.decide import CountedWrite, alerts_due, crossed_power_of_ten
from lodge.alerts.model import Alert, IssueSummary, OccurrenceSummary, Rule


def write(before: int, after: int, *, created: bool = False, regressed: bool = False, ref: str = "o1") -> CountedWrite:
    issue = IssueSummary("g1", "ValueError: boom", "error", "production", after, 100.0, 200.0)
    occurrence = OccurrenceSummary(ref, "production", "error", "ValueError: boom", 200.0, ["app.py:3 in f"])
    return CountedWrite("p1", issue, occurrence, before, created, regressed)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [(0, 1, None), (8, 9, None), (9, 10, 10), (10, 11, None), (99, 100, 100), (5, 150, 100), (999, 1000, 1000)],
)
def test_powers_of_ten(before: int, after: int, expected: int | None) -> None:
    assert crossed_power_of_ten(before, after) == expected


def test_new_issue_is_one_alert_with_an_id_per_issue() -> None:
    (alert,) = alerts_due(write(0, 1, created=True))
    assert alert.kind == "new_issue"
    (again,) = alerts_due(write(0, 1, created=True, ref="o2"))
    assert again.id == alert.id, "one id per issue: a redelivery or a racing write is recognisable"


def test_nothing_is_due_for_an_ordinary_occurrence() -> None:
    assert alerts_due(write(3, 4)) == []


def test_tenth_and_hundredth_occurrences() -> None:
    (tenth,) = alerts_due(write(9, 10))
    (hundredth,) = alerts_due(write(99, 100))
    assert (tenth.kind, tenth.threshold) == ("threshold", 10)
    assert (hundredth.kind, hundredth.threshold) == ("threshold", 100)
    assert tenth.id != hundredth.id
    assert alerts_due(write(9, 10))[0].id == tenth.id


def test_regression_path() -> None:
    """Not end to end yet: the store reopens resolved issues with issue 10."""
    (alert,) = alerts_due(write(4, 5, regressed=True, ref="o9"))
    assert alert.kind == "regression" and alert.occurrence and alert.occurrence.id == "o9"
    (other,) = alerts_due(write(5, 6, regressed=True, ref="o10"))
    assert other.id != alert.id, "each reopening is its own alert (the hourly gate throttles them)"


def test_message_round_trip() -> None:
    (alert,) = alerts_due(write(9, 10))
    assert Alert.from_message(alert.to_message()) == alert


def test_rule_filters_by_kind_environment_and_level() -> None:
    (alert,) = alerts_due(write(0, 1, created=True))
    base = Rule("r", "p1", "x", "slack", url="http://127.0.0.1/")
    assert base.matches(alert)
    assert not Rule("r", "p1", "x", "slack", kinds=frozenset({"deploy"})).matches(alert)
    assert not Rule("r", "p1", "x", "slack", environments=frozenset({"staging"})).matches(alert)
    assert Rule("r", "p1", "x", "slack", environments=frozenset({"production"})).matches(alert)
    assert not Rule("r", "p1", "x", "slack", min_level="critical").matches(alert)
    assert Rule("r", "p1", "x", "slack", min_level="warning").matches(alert)


def test_signature_verifies_and_refuses_tampering_and_replays() -> None:
    body = b'{"id":"a1"}'
    header = signing.sign("s3cret", body, 1_700_000_000)
    assert signing.verify("s3cret", body, header, now=1_700_000_100) == 1_700_000_000
    with pytest.raises(signing.SignatureError):
        signing.verify("s3cret", body + b" ", header, now=1_700_000_100)
    with pytest.raises(signing.SignatureError):
        signing.verify("other", body, header, now=1_700_000_100)
    with pytest.raises(signing.SignatureError):
        signing.verify("s3cret", body, header, now=1_700_000_000 + 301)
    with pytest.raises(signing.SignatureError):
        signing.verify("s3cret", body, None)
    with pytest.raises(signing.SignatureError):
        signing.verify("s3cret", body, "v1=abc")
