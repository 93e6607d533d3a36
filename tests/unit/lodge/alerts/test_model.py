"""lodge.alerts.model: summaries read back from a queue message - types coerced, missing keys
defaulted (a level reads as error, an issue as active), frames cut to the top few."""

from __future__ import annotations

from lodge.alerts.model import TOP_FRAMES, Alert, DeploySummary, IssueSummary, OccurrenceSummary


def test_summaries_coerce_their_fields_and_default_missing_ones() -> None:
    assert IssueSummary.from_dict({"id": 7, "count": "12", "first_seen": "1.5", "last_seen": 2}) == IssueSummary(
        "7", "", "error", "", 12, 1.5, 2.0, "active"
    )
    frames = [f"app.py:{n} in f" for n in range(TOP_FRAMES + 3)]
    occurrence = OccurrenceSummary.from_dict({"id": "o", "level": "warning", "at": "3", "frames": frames})
    assert occurrence == OccurrenceSummary("o", "", "warning", "", 3.0, frames[:TOP_FRAMES])
    assert OccurrenceSummary.from_dict({}) == OccurrenceSummary("", "", "error", "", 0.0, [])
    assert DeploySummary.from_dict({"revision": "abc", "at": 5}) == DeploySummary("", "", "abc", "", "", 5.0)


def test_an_alert_message_round_trips() -> None:
    issue = IssueSummary("i", "T", "error", "production", 10, 1.0, 2.0)
    occurrence = OccurrenceSummary("o", "production", "error", "T", 2.0, ["a.py:1 in f"])
    deploy = DeploySummary("d", "production", "r1", "ann", "ship it", 3.0)
    alert = Alert("x", "threshold", "p", 2.0, issue, occurrence, 10, deploy)
    assert Alert.from_message(alert.to_message()) == alert
