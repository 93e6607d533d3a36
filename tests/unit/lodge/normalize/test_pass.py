"""lodge.normalize.normalize: the one pass every mapped occurrence of every protocol goes through."""

from __future__ import annotations

import inspect

import pytest

from lodge import ingest
from lodge.normalize import normalize
from lodge.normalize.limits import MAX_DEPTH, TOO_DEEP
from lodge.normalize.timestamps import MAX_SECONDS
from lodge.occurrence import ExceptionInfo, Frame, Notifier, PerformanceEvent, SentTime
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


# ---- times as sent -------------------------------------------------------------------------------


def test_the_first_sent_time_that_is_a_time_wins() -> None:
    occurrence = make().with_sent_times(SentTime(("timestamp",), (None, "2012-10-04T08:31:16Z", 5.0)))
    normalize(occurrence)
    assert occurrence.timestamp == 1349339476.0 and occurrence.extra is None


def test_a_sent_time_that_is_no_time_is_kept_where_the_mapping_says() -> None:
    sent = SentTime(("timestamp",), ("soon", 1_700_000_001), keep_at=("extra", "event", "timestamp"))
    occurrence = make(extra={"event": {"order_id": 7}}).with_sent_times(sent)
    normalize(occurrence)
    assert occurrence.timestamp == 1_700_000_001  # the next place the client put a time
    assert occurrence.extra == {"event": {"order_id": 7, "timestamp": "soon"}}
    normalize(occurrence)  # idempotent: the sent times are read once
    assert occurrence.extra == {"event": {"order_id": 7, "timestamp": "soon"}}


def test_a_kept_time_is_cut_to_the_depth_left_where_it_lands() -> None:
    deep: object = "x"
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    occurrence = make().with_sent_times(SentTime(("timestamp",), (deep,), keep_at=("extra", "timestamp")))
    normalize(occurrence)
    assert occurrence.extra is not None
    depth, value = 1, occurrence.extra  # `extra` itself is the first level, as the model's cut counts
    while isinstance(value, (dict, list)):
        value = value["timestamp"] if isinstance(value, dict) else value[0]
        depth += 1
    assert value == TOO_DEEP and depth == MAX_DEPTH + 1


def test_a_time_inside_extra_is_read_in_place_or_kept_as_sent() -> None:
    sent = [
        SentTime(("extra", key), (value,), keep_at=("extra", key)) for key, value in (("a", "1389783600"), ("b", "x"))
    ]
    occurrence = make(extra={"a": "1389783600", "b": "x"}).with_sent_times(*sent)
    normalize(occurrence)
    assert occurrence.extra == {"a": 1389783600.0, "b": "x"}


def test_event_times_are_read_by_their_index_and_unusable_ones_dropped() -> None:
    events = [PerformanceEvent(name="a"), PerformanceEvent(name="b")]
    occurrence = make(events=events).with_sent_times(
        SentTime(("events", 1, "time"), ("1389783600.5",)), SentTime(("events", 0, "end"), ("never",))
    )
    normalize(occurrence)
    assert occurrence.events is not None
    assert [(e.time, e.end) for e in occurrence.events] == [(None, None), (1389783600.5, None)]
    assert occurrence.extra is None


def test_a_path_through_something_that_is_no_container_changes_nothing() -> None:
    occurrence = make(extra={"event": "text"}).with_sent_times(
        SentTime(("timestamp",), ("no",), keep_at=("extra", "event", "timestamp")),
        SentTime(("events", 3, "time"), (5.0,)),
    )
    normalize(occurrence)
    assert occurrence.extra == {"event": "text"} and occurrence.events is None


# ---- backtrace lines as sent ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "line", "expected"),
    [
        ("ruby", "app/models/user.rb:12:in `name'", ("app/models/user.rb", 12, "name")),
        (None, "lib/tasks.rake:40", ("lib/tasks.rake", 40, None)),
        ("javascript", "    at handler (/srv/app/index.js:10:15)", ("/srv/app/index.js", 10, "handler")),
        ("ruby", "(eval)", ("(eval)", None, None)),
        ("ruby", ":12", (":12", None, None)),  # a line names a file: `:12` is text, for every protocol
    ],
)
def test_frames_sent_as_lines_are_read_by_the_occurrences_language(
    language: str | None, line: str, expected: tuple[str, int | None, str | None]
) -> None:
    occurrence = make(language=language, exceptions=[ExceptionInfo(type="E", frames=[Frame.from_line(line)])])
    assert occurrence.exceptions[0].frames[0].filename == line  # mapped: the line, whole
    normalize(occurrence)
    frame = occurrence.exceptions[0].frames[0]
    assert (frame.filename, frame.lineno, frame.method) == expected and frame.sent_line is None


def test_a_client_key_never_makes_a_frame_a_line_to_read() -> None:
    frame = Frame.model_validate({"filename": "a.rb:1:in `x'", "_sent_line": "b.rb:2", "sent_line": "c.rb:3"})
    assert frame.sent_line is None
    occurrence = make(exceptions=[ExceptionInfo(type="E", frames=[frame])])
    normalize(occurrence)
    assert (occurrence.exceptions[0].frames[0].filename, occurrence.exceptions[0].frames[0].lineno) == (
        "a.rb:1:in `x'",
        None,
    )


def test_appsignal_and_crashlog_lines_are_read_by_one_rule() -> None:
    """The same Ruby lines from both gems give the same frames (CrashLog once read `:1` as line 1 of no file)."""
    from lodge.protocols.appsignal import mapping as appsignal
    from lodge.protocols.crashlog import mapping as crashlog

    lines = [":1", "x.rb:3:in `m'", "x.rb:1:in `m'\n", "(eval)", "a:1:2"]
    from_appsignal = make(
        language="ruby", exceptions=[ExceptionInfo(type="E", frames=appsignal.parse_backtrace(lines))]
    )
    from_crashlog = make(language="ruby", exceptions=[ExceptionInfo(type="E", frames=crashlog.frames_of(lines))])
    normalize(from_appsignal)
    normalize(from_crashlog)
    assert from_appsignal.exceptions[0].frames == from_crashlog.exceptions[0].frames
    assert [f.filename for f in from_crashlog.exceptions[0].frames] == ["a:1", "(eval)", "x.rb", "x.rb", ":1"]
