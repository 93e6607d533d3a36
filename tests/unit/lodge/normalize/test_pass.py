"""lodge.normalize.normalize: the one pass every mapped occurrence of every protocol goes through."""

from __future__ import annotations

import inspect

import pytest

from lodge import ingest
from lodge.normalize import normalize
from lodge.normalize.timestamps import MAX_SECONDS
from lodge.occurrence import Notifier, PerformanceEvent
from tests.unit.lodge.occurrences import make


def _appsignal(gem_version: str) -> dict[str, object]:
    return {
        "protocol": "appsignal",
        "kind": "performance",
        "notifier": Notifier(name="appsignal-ruby", version=gem_version),
        "extra": {"view_runtime": "950.759", "format": ":html", "nested": {"status": "200"}, "app_name": "123"},
        "events": [PerformanceEvent(name="sql.active_record", payload={"connection_id": "70151130", "x": "nil"})],
    }


def test_ruby_inspect_strings_of_gem_0_2_are_typed() -> None:
    occurrence = make(**_appsignal("0.2.5"))
    normalize(occurrence)
    assert occurrence.extra == {"view_runtime": 950.759, "format": "html", "nested": {"status": 200}, "app_name": "123"}
    assert occurrence.events and occurrence.events[0].payload == {"connection_id": 70151130, "x": None}


@pytest.mark.parametrize("gem_version", ["0.11.18", "0.5.0", None])
def test_newer_gems_values_are_kept_as_sent(gem_version: str | None) -> None:
    occurrence = make(**_appsignal(gem_version or ""))
    before = occurrence.model_dump()
    normalize(occurrence)
    assert occurrence.model_dump() == before


def test_other_clients_strings_are_never_coerced() -> None:
    occurrence = make(notifier=Notifier(name="pyrollbar", version="0.2.0"), extra={"n": "200", "s": ":html"})
    normalize(occurrence)
    assert occurrence.extra == {"n": "200", "s": ":html"}


@pytest.mark.parametrize("seconds", [0.0, -5.0, MAX_SECONDS, 1e300, float("inf"), float("nan")])
def test_times_outside_the_bounds_are_no_times(seconds: float) -> None:
    occurrence = make(timestamp=seconds, events=[PerformanceEvent(time=seconds, end=seconds)])
    normalize(occurrence)
    assert occurrence.timestamp is None
    assert occurrence.events and occurrence.events[0].time is None and occurrence.events[0].end is None


def test_times_inside_the_bounds_are_unchanged() -> None:
    occurrence = make(timestamp=1_700_000_000.25, events=[PerformanceEvent(time=1.0, end=2.5)])
    normalize(occurrence)
    assert occurrence.timestamp == 1_700_000_000.25
    assert occurrence.events and (occurrence.events[0].time, occurrence.events[0].end) == (1.0, 2.5)


def test_ingest_runs_the_pass_once_before_scrubbing() -> None:
    source = inspect.getsource(ingest.ingest)
    assert source.count("normalize(") == 1
    assert source.index("normalize(") < source.index("scrub_occurrence(")
