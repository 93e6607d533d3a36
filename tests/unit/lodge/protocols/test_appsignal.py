"""lodge.protocols.appsignal: every gem generation's batch shape -> Occurrences, JSON repair, markers."""

from __future__ import annotations

import json
import random
import re
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

from lodge.http import HttpError, decompress
from lodge.normalize import normalize, read_frames
from lodge.normalize.limits import MAX_DEPTH
from lodge.normalize.timestamps import parse_time
from lodge.occurrence import Frame
from lodge.protocols.appsignal import mapping, markers, push, wire
from lodge.protocols.appsignal.query import format_backtrace
from lodge.storage.markers import marker_item

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "appsignal"
QUERY = {
    "api_key": "k",
    "name": "MyBlog",
    "environment": "production",
    "hostname": "app1.local",
    "gem_version": "0.11.18",
}


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def batch(body: bytes | str, query: dict[str, str] | None = None) -> list[Any]:
    raw = body.encode() if isinstance(body, str) else body
    occurrences = push.parse_batch(raw, project_id="p1", query=QUERY if query is None else query, received_at=1.5e9)
    for occurrence in occurrences:
        normalize(occurrence)  # the pass every occurrence goes through after its mapping
    return occurrences


def backtrace(lines: Any) -> list[Frame]:
    """Frames of a gem's backtrace as mapped and then read by the normalization pass."""
    frames = mapping.parse_backtrace(lines)
    read_frames(frames, "ruby")
    return frames


# ---- gem generations ----------------------------------------------------------------------------


def test_gem_0_11_zlib_batch_maps_every_entry() -> None:
    raw = zlib.compress(fixture_text("gem_0_11_18_batch.json").encode(), 1)
    assert raw[:2] == b"\x78\x01"
    occurrences = batch(decompress(raw, 1 << 20, "gzip"))
    assert [o.kind for o in occurrences] == ["performance", "performance", "error"]
    fast, slow, failed = occurrences
    assert fast.client_id == "6f1e0f3c-2d7e-4a39-9a0e-2b8f5f7c1d10"
    assert fast.path is None and fast.action == "BlogPostsController#index" and fast.level == "info"
    assert fast.duration == 41.2 and fast.timestamp == 1389783600.0
    assert slow.status == 200 and slow.queue_duration == 40.0 and slow.code_version == "fe00101"
    assert (
        slow.request is not None
        and slow.request.method == "GET"
        and slow.request.params
        == {
            "controller": "blog_posts",
            "action": "show",
            "id": "1",
        }
    )
    assert slow.events and slow.events[0].name == "sql.active_record" and slow.events[0].payload
    assert slow.extra and slow.extra["kind"] == "http_request" and slow.extra["view_runtime"] == 150.1
    assert slow.extra["format"] == "html"
    assert failed.level == "error" and failed.exception_class == "ArgumentError" and failed.message == "oh no"
    assert failed.tags == {"user_id": 123}
    frame = failed.exceptions[0].frames[0]
    assert (frame.filename, frame.lineno, frame.method) == ("app/controllers/blog_posts_controller.rb", 6, "show")
    for occurrence in occurrences:
        assert occurrence.environment == "production" and occurrence.hostname == "app1.local"
        assert occurrence.notifier and occurrence.notifier.version == "0.11.18"
        assert occurrence.extra and occurrence.extra["app_name"] == "MyBlog"


def test_gem_0_5_raw_json_keeps_http_method_and_user_ip() -> None:
    ok, failed = batch(fixture_text("gem_0_5_batch.json"), {"api_key": "k"})
    assert ok.environment == "production" and ok.hostname is None  # 0.5 sends neither
    assert ok.request and ok.request.method == "GET" and ok.request.user_ip == "10.0.0.7"
    assert ok.request.session == {"user_id": 7}
    assert failed.exception_class == "ActiveRecord::RecordNotFound"
    # Ruby lists the most recent call first; Lodge stores it last.
    assert [f.method for f in failed.exceptions[0].frames] == ["process_action", "show", "find_one"]


def test_gem_0_2_form_body_with_iso_times_and_top_level_action() -> None:
    form = "api_key=k&gem_version=0.2.5&log_entries=" + __import__("urllib.parse").parse.quote(
        fixture_text("gem_0_2_batch.json")
    )
    ok, failed = batch(form, {})
    assert ok.action == "HomeController#index" and ok.extra and ok.extra["log_entry_action"] == "index"
    assert ok.timestamp == 1350727200.0  # 2012-10-20T12:00:00+02:00
    assert ok.hostname == "web1" and ok.status == 200
    assert failed.kind == "error" and failed.exception_class == "RuntimeError" and failed.message == "boom"
    assert failed.extra and failed.extra["log_entry_exception"] == ["RuntimeError", "boom"]
    assert [f.method for f in failed.exceptions[0].frames] == ["<main>", "crash"]
    assert wire.form_fields(form.encode())["gem_version"] == "0.2.5"


def test_gem_0_1_name_environment_string_and_ruby_time() -> None:
    (occurrence,) = batch(fixture_text("gem_0_1_batch.json"), {})
    assert occurrence.path == "/about" and occurrence.environment == "staging"
    assert occurrence.hostname == "app-staging-1"
    assert occurrence.timestamp == 1349076600.0  # 2012-10-01 09:30:00 +0200
    assert occurrence.kind == "performance" and occurrence.exceptions == []


def test_legacy_two_element_exception_array_alone_makes_an_error() -> None:
    entry = {"request_id": "r1", "log_entry": {"action": "A#b", "exception": ["RuntimeError", "msg"]}}
    (occurrence,) = batch(json.dumps([entry]))
    assert occurrence.kind == "error" and occurrence.exception_class == "RuntimeError"
    assert occurrence.message == "msg"


def test_failed_without_exception_details_is_still_an_error() -> None:
    (occurrence,) = batch(json.dumps([{"request_id": "r", "failed": True, "log_entry": {"action": "A#b"}}]))
    assert occurrence.kind == "error" and occurrence.default_title() == "A#b"


def test_entry_without_request_id_gets_a_content_derived_id() -> None:
    entry = {"log_entry": {"action": "A#b", "time": 1.4e9}}
    first = batch(json.dumps([entry]))[0].client_id
    again = batch(json.dumps([entry]))[0].client_id
    other = batch(json.dumps([{"log_entry": {"action": "A#c", "time": 1.4e9}}]))[0].client_id
    assert first == again != other and first.startswith("sha256:")


def test_non_finite_and_junk_values_are_dropped_not_stored() -> None:
    text = '[{"request_id":"r","log_entry":{"duration":NaN,"status":"abc","time":1e400,"queue_duration":"12.5"}}]'
    (occurrence,) = batch(text)
    assert occurrence.duration is None and occurrence.status is None and occurrence.timestamp is None
    assert occurrence.queue_duration == 12.5


# ---- invalid JSON: the documented repair ---------------------------------------------------------


def test_seed_example_with_trailing_comma_and_stray_brace_is_repaired_and_flagged() -> None:
    (occurrence,) = batch(fixture_text("seed_docs_performance.txt"))
    assert occurrence.action == "BlogPostsController#show" and occurrence.duration == 981.6270000000001
    assert occurrence.environment == "production"  # the query's environment wins
    assert occurrence.extra and occurrence.extra["lodge_json_repaired"] is True
    assert occurrence.extra["log_entry_environment"] == "development"
    assert occurrence.events and [e.name for e in occurrence.events] == [
        "start_processing.action_controller",
        "render_partial.action_view",
    ]


def test_seed_exception_example_is_valid_json_and_not_flagged() -> None:
    (occurrence,) = batch(fixture_text("seed_docs_exception.txt"), {})
    assert occurrence.extra and "lodge_json_repaired" not in occurrence.extra
    assert occurrence.exception_class == "RuntimeError" and occurrence.environment == "development"
    assert [f.method for f in occurrence.exceptions[0].frames] == ["<main>", "require", "index"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[{"a":1,},]', '[{"a":1}]'),
        ('[{"a":"x,]"} ,\n ]', '[{"a":"x,]"} \n ]'),
        ('[{"a":{"b":1}}}]', '[{"a":{"b":1}}]'),
        ('[{"a":1}]}', '[{"a":1}]'),
    ],
)
def test_repair_is_limited_to_trailing_commas_and_one_unmatched_closer(text: str, expected: str) -> None:
    assert wire.repair_json(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        '[{"a":1}',  # unclosed: nothing is ever added
        '[{"a":1}}}]',  # two unmatched closers
        '[{"a":1 "b":2}]',  # missing comma
        "[{'a':1}]",  # single quotes
        '[{"a":1}]',  # valid already: no repair
    ],
)
def test_repair_refuses_anything_else(text: str) -> None:
    assert wire.repair_json(text) is None


@pytest.mark.parametrize(
    "body",
    ['[{"a":1}', "not json at all", '{"a":1', "[1, 2]", "[]", '"just a string"', "   ", "log_entries_missing=1"],
)
def test_malformed_batches_are_400(body: str) -> None:
    with pytest.raises(HttpError) as caught:
        batch(body)
    assert caught.value.status == 400


def test_deeply_nested_json_is_400_not_a_crash() -> None:
    with pytest.raises(HttpError) as caught:
        batch("[" * 100_000 + "]" * 100_000)
    assert caught.value.status == 400


def test_too_many_entries_is_413() -> None:
    with pytest.raises(HttpError) as caught:
        batch(json.dumps([{}] * (push.MAX_ENTRIES + 1)))
    assert caught.value.status == 413


# ---- helpers ------------------------------------------------------------------------------------


def test_backtrace_round_trip_and_odd_lines() -> None:
    lines = ["a.rb:1:in `x'", "b.rb:2:in 'Foo#bar'", "c.rb:3", "(eval)"]
    frames = backtrace(lines)
    assert [(f.filename, f.lineno, f.method) for f in frames] == [
        ("(eval)", None, None),
        ("c.rb", 3, None),
        ("b.rb", 2, "Foo#bar"),
        ("a.rb", 1, "x"),
    ]
    assert format_backtrace([f.model_dump() for f in frames]) == [
        "a.rb:1:in `x'",
        "b.rb:2:in `Foo#bar'",
        "c.rb:3",
        "(eval)",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1389783600.5, 1389783600.5),
        ("1389783600", 1389783600.0),
        ("2012-08-22T15:29:17+02:00", 1345642157.0),
        ("2012-08-22 15:29:17 +0200", 1345642157.0),
        ("2012-08-22 13:29:17 UTC", 1345642157.0),
        ("yesterday", None),
        (-5, None),
        (True, None),
        ({"t": 1}, None),
    ],
)
def test_parse_time(value: Any, expected: float | None) -> None:
    assert parse_time(value) == expected


def test_chunks_are_deterministic_and_bounded() -> None:
    occurrences = batch(json.dumps([{"request_id": str(i)} for i in range(push.MAX_RECORD_ENTRIES + 3)]))
    parts = push.chunks(occurrences)
    assert [len(p) for p in parts] == [push.MAX_RECORD_ENTRIES, 3]


def test_marker_from_form_and_json() -> None:
    form = (
        b"api_key=k&gem_version=0.1.6&marker_data="
        + json.dumps({"revision": "abc", "repository": "git@x:y.git", "user": "bob", "rails_env": "staging"}).encode()
    )
    marker = marker_item(markers.parse_marker(form, {}, 1.5e9))
    assert marker == {
        "kind": "deploy",
        "revision": "abc",
        "repository": "git@x:y.git",
        "user": "bob",
        "environment": "staging",
        "created": 1.5e9,
        "source": "appsignal",
    }
    marker = marker_item(markers.parse_marker(fixture_text("marker_0_11.json").encode(), QUERY, 1.5e9))
    assert marker["environment"] == "production" and marker["hostname"] == "app1.local"
    assert marker["gem_version"] == "0.11.18" and marker["user"] == "deploy" and "repository" not in marker
    with pytest.raises(HttpError):
        markers.parse_marker(b"[1]", {}, 1.5e9)


def test_deeply_nested_values_are_cut_so_they_can_be_stored() -> None:
    from lodge import codec

    nested: dict[str, Any] = {}
    cursor = nested
    for _ in range(900):  # valid JSON that the parser accepts, but deeper than serialization allows
        cursor["a"] = {}
        cursor = cursor["a"]
    (occurrence,) = batch(json.dumps([{"request_id": "r", "log_entry": {"params": nested}}]))
    assert codec.decode(codec.encode([occurrence.to_detail()]))  # storable
    text = json.dumps(occurrence.to_detail())
    assert "[nested too deep]" in text and text.count('"a"') < MAX_DEPTH


def test_absurd_numbers_are_dropped_and_odd_shapes_kept_in_extra() -> None:
    entry = {"request_id": "r", "log_entry": {"duration": 1e300, "status": 1e20}, "exception": "boom", "events": "x"}
    (occurrence,) = batch(json.dumps([entry]))
    assert occurrence.duration is None and occurrence.status is None
    assert occurrence.extra and occurrence.extra["exception"] == "boom" and occurrence.extra["events"] == "x"


# ---- review findings: pathological input ---------------------------------------------------------

# The backtrace-line regex before the linear parser: the reference for what a line means.
_OLD_BACKTRACE_LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+)(?::in [`'](?P<method>.*)')?\s*$")


@pytest.mark.parametrize("size", [32 * 1024, 1024 * 1024])
def test_pathological_backtrace_line_parses_in_linear_time(size: int) -> None:
    """`:1:in \\`'` repeated made the old regex backtrack quadratically (32 KB: ~1 s, 1 MB: ~15 min)."""
    unit = ":1:in `'"
    line = unit * (size // len(unit)) + "z"
    started = time.process_time()
    (frame,) = backtrace([line])
    assert time.process_time() - started < 0.5
    assert frame.filename == line and frame.lineno is None  # not a frame line: kept whole, as before
    started = time.process_time()
    (frame,) = backtrace([line[:-1] + "x.rb:7:in `m'"])  # a long line that does parse
    assert time.process_time() - started < 0.5
    assert frame.lineno == 1 and frame.method is not None and frame.method.endswith("x.rb:7:in `m")


def test_backtrace_line_parser_means_what_the_old_regex_meant() -> None:
    """Same file/line/method as the old regex on every short line over the characters that matter."""
    rng = random.Random(20240601)
    alphabet = ":1in `' \tx\n2"
    lines = ["a.rb:1:in `x'", "b.rb:2:in 'Foo#bar'", "c.rb:3", "(eval)", ":1", "a:1:in `'", "a:1:in `", "a:12:in '''"]
    lines += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 14))) for _ in range(20_000)]
    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        old = _OLD_BACKTRACE_LINE.match(stripped)
        expected = (old["file"], int(old["line"]), old["method"]) if old else (stripped, None, None)
        (frame,) = backtrace([line])
        assert (frame.filename, frame.lineno, frame.method) == expected, repr(line)


def test_overlong_line_number_is_not_a_crash() -> None:
    (frame,) = backtrace(["a.rb:" + "9" * 5000 + ":in `x'"])
    assert frame.lineno is None and frame.method == "x"


@pytest.mark.parametrize("field", ["duration", "status", "queue_duration", "time"])
def test_huge_json_integers_are_dropped_not_a_crash(field: str) -> None:
    """float(10**400) raises OverflowError (a 500 before): such a value is junk like 1e300."""
    raw = '[{"request_id":"r","log_entry":{"action":"A#b","' + field + '":' + str(10**400) + "}}]"
    (occurrence,) = batch(raw)
    assert getattr(occurrence, "timestamp" if field == "time" else field) is None
    raw = '[{"request_id":"r","events":[{"name":"e","duration":' + str(10**400) + ',"time":-' + str(10**400) + "}]}]"
    (occurrence,) = batch(raw)
    assert occurrence.events and occurrence.events[0].duration is None and occurrence.events[0].time is None


def _wide_batch(count: int = 500, prefix: str = "") -> list[Any]:
    """Entries whose index entries are as large as they get: 130-character CJK texts, 200-character ids."""
    long = "\u3042" * 130
    return batch(
        json.dumps(
            [
                {
                    "request_id": f"{prefix}{i:0200d}"[:200],
                    "exception": {"exception": long, "message": long},
                    "log_entry": {"action": long, "path": "/" + long, "environment": "\u3044" * 100, "time": 1.7e9},
                }
                for i in range(count)
            ]
        )
    )


def test_chunks_bound_the_encoded_index_size_deterministically() -> None:
    from lodge.storage import index_entry

    occurrences = _wide_batch()
    parts = push.chunks(occurrences)
    assert len(parts) > 1 and [o for part in parts for o in part] == occurrences  # order kept, nothing lost
    for part in parts:
        size = sum(len(json.dumps(index_entry(o), ensure_ascii=False).encode()) for o in part)
        assert size <= push.MAX_RECORD_INDEX_BYTES
    # A resend (parsed again, received later) splits identically, so every chunk de-duplicates.
    again = [o.model_copy(update={"received_at": 1.6e9}) for o in _wide_batch()]
    assert [[o.client_id for o in p] for p in push.chunks(again)] == [[o.client_id for o in p] for p in parts]
