"""CrashLog payloads (Ruby gem 1.0.7 / 1.1.0.pre1, Node, Java, the API document) -> Occurrence."""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from typing import Any

import pytest

from lodge.http import HttpError
from lodge.normalize import normalize, read_frames
from lodge.normalize.backtraces import parse_ruby_line
from lodge.normalize.timestamps import parse_http_date, parse_time
from lodge.occurrence import Frame, Occurrence, occurrence_id_for
from lodge.protocols.crashlog import announce, locate, mapping
from lodge.protocols.crashlog.payload import payload_of
from lodge.storage.markers import marker_item
from tests.fixtures.crashlog.signer import fixture

RECEIVED = 1_700_000_000.0


def _occurrence(name_or_payload: str | dict[str, Any]) -> Occurrence:
    payload = payload_of(fixture(name_or_payload)) if isinstance(name_or_payload, str) else name_or_payload
    mapped = mapping.to_occurrence("p1", payload, str(uuid.uuid4()), RECEIVED)
    normalize(mapped)  # the pass every occurrence goes through after its mapping
    return mapped


def _frames(backtrace: list[Any]) -> list[Frame]:
    """Frames of a backtrace as mapped and then read by the normalization pass (Ruby lines)."""
    frames = mapping.frames_of(backtrace)
    read_frames(frames, "ruby")
    return frames


def test_ruby_107_payload() -> None:
    occ = _occurrence("ruby_1.0.7.json")
    assert occ.protocol == "crashlog" and occ.kind == "error" and occ.level == "error"
    assert occ.timestamp == 1349339476
    (exc,) = occ.exceptions
    assert exc.type == "NoMethodError"
    assert exc.message == "undefined method `name' for nil:NilClass"
    # Ruby sends most recent first; Lodge keeps most recent last.
    assert [f.method for f in exc.frames] == ["process_action", "send_action", "show"]
    top = exc.frames[-1]
    assert top.filename == "[PROJECT_ROOT]/app/controllers/users_controller.rb"
    assert top.lineno == 12
    assert top.code == "    @name = @user.name"
    assert top.context_pre == [
        "require \\'user_presenter\\'",
        "class UsersController < ApplicationController",
        "  def show",
        "    @user = User.find_by_id(params[:id])",
    ]
    assert top.context_post == ["    respond_with @user", "  end", "end"]
    assert occ.environment == "production"
    assert occ.context == "users#show"
    assert occ.hostname == "app01.example.com"
    assert occ.server is not None and occ.server.host == "app01.example.com" and occ.server.root == "/srv/app"
    assert occ.platform == "x86_64-linux" and occ.language == "ruby" and occ.framework == "rails"
    assert occ.notifier is not None and occ.notifier.name == "crashlog" and occ.notifier.version == "1.0.7"
    assert occ.person is not None and occ.person.id == "42" and occ.person.email == "jane@example.com"
    assert occ.request is not None and occ.request.url == "http://app.example.com/users/42"
    assert occ.request.params == {"controller": "users", "action": "show", "id": "42"}
    assert occ.custom is not None and occ.custom["session_data"] == {"session_id": "8f1c2e"}
    assert occ.extra is not None
    assert occ.extra["context"]["current_user"] == {"id": 42, "email": "jane@example.com"}
    assert occ.extra["environment"]["system"]["environment"]["AWS_KEY"] == "[FILTERED]"
    assert occ.default_title() == "NoMethodError: undefined method `name' for nil:NilClass"


def test_ruby_110_vector_body() -> None:
    occ = _occurrence("ruby_1.1.0.pre1_vector_d4.json")
    assert occ.exceptions[0].type == "RuntimeError" and occ.exceptions[0].frames == []
    assert occ.custom is None  # `data: {}`
    assert occ.context is None and occ.environment == "production"


def test_node_payload() -> None:
    occ = _occurrence("node_winston.json")
    assert occ.timestamp == 1351495625  # "Mon, 29 Oct 2012 07:27:05 GMT"
    frames = occ.exceptions[0].frames
    assert [f.filename for f in frames][-1].endswith("winston-crashlog_test.js")
    assert frames[-1].method is None and frames[-1].lineno == 17
    assert frames[0].method == "startup"
    assert occ.platform == "v0.8.8"
    assert occ.notifier is not None and occ.notifier.name == "nodejsapp"


def test_java_payload() -> None:
    occ = _occurrence("java_log4j.json")
    assert occ.timestamp == 1350266407  # epoch seconds as a string
    assert occ.exceptions[0].type == "org.apache.log4j.spi.LocationInfo"
    assert [f.method for f in occ.exceptions[0].frames] == ["com.example.App.main", "com.example.Widget.render"]


def test_api_document_example() -> None:
    occ = _occurrence("api_document_example.json")
    assert occ.timestamp == 1343961259  # 2012-08-03T12:34:19+10:00
    assert occ.context == "usersController#index"
    assert occ.hostname == "app01.myhostname.com"
    assert occ.platform == "Node.js 0.6.x"
    assert occ.exceptions[0].frames[-1].method == "raiseTheRoof"
    assert occ.exceptions[0].frames[-1].context_pre == [
        "line -1 before affected line",
        "line -2 before affected line",
        "line ...",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1349339476, 1349339476.0),
        (1349339476.5, 1349339476.5),
        ("1349339476", 1349339476.0),
        (" 1349339476 ", 1349339476.0),
        (1349339476123, 1349339476.123),
        ("Thu, 04 Oct 2012 08:31:16 GMT", 1349339476.0),
        ("2012-10-04T08:31:16Z", 1349339476.0),
        ("2012-10-04T18:31:16+10:00", 1349339476.0),
        ("2012-10-04 08:31:16", 1349339476.0),
        ("soon", None),
        ("", None),
        (None, None),
        (True, None),
        (-5, None),
        ("nan", None),
        ("1e400", None),
        ({"t": 1}, None),
        pytest.param(10**400, None, id="10**400"),  # a valid JSON integer that float() cannot hold
        pytest.param(-(10**400), None, id="-10**400"),
        ("Mon, 01 Jan 99999999999999999999 00:00:00 GMT", None),
    ],
)
def test_parse_timestamp(value: Any, expected: float | None) -> None:
    assert parse_time(value) == expected


def test_parse_http_date_refuses_years_datetime_cannot_hold() -> None:
    assert parse_http_date("Mon, 01 Jan 99999999999999999999 00:00:00 GMT") is None
    assert parse_http_date("Mon, 01 Jan 2000 99999999999999999999:00:00 GMT") is None
    assert parse_http_date("Thu, 04 Oct 2012 08:31:16 GMT") == 1349339476.0


# The pattern the line parser replaced; the parser must agree with it wherever it finishes.
_OLD_RUBY_LINE = re.compile(r"^(?P<file>.*?):(?P<line>\d+)(?::in [`'](?P<method>.*)')?$")


def _old_parse(line: str) -> tuple[str, int | None, str | None] | None:
    match = _OLD_RUBY_LINE.match(line)
    if not match:
        return None
    return match["file"], int(match["line"]) if len(match["line"]) <= 9 else None, match["method"]


@pytest.mark.parametrize(
    "line",
    [
        "app/models/user.rb:12:in `name'",
        "app/models/user.rb:12:in 'User#name'",  # Ruby 3.4 quotes
        "/gems/rack-2.2.3/lib/rack.rb:7:in `block (2 levels) in call'",
        "C:/app/x.rb:3:in `<main>'",
        "lib/tasks.rake:40",
        "x.rb:1:in `a:2:in `b''",
        "x.rb:1:in `'",
        "x.rb:1:in '",
        "x.rb:1:in `m'\n",
        "x.rb:1:in `m'\nmore",
        "x.rb:1\n",
        "x.rb:a:1",
        "x.rb:12345678901",
        "x.rb",
        ":1",
        "",
        "x.rb:\u0661\u0662:in `m'",  # \\d matches any Unicode digit, as before
    ],
)
def test_ruby_line_parser_matches_the_old_pattern(line: str) -> None:
    assert parse_ruby_line(line) == _old_parse(line)


def test_ruby_line_parser_agrees_with_the_old_pattern_on_random_lines() -> None:
    rng = random.Random(7)
    pieces = [":", "1", "23", ":in ", "`", "'", "a", "\n", " "]
    for _ in range(5000):
        line = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))
        assert parse_ruby_line(line) == _old_parse(line), line


@pytest.mark.parametrize(
    "unit",
    [":1:in `'", ":1:in `", "a:1", ":1:in `'x:"],
)
def test_ruby_line_parser_is_fast_on_pathological_lines(unit: str) -> None:
    """The old pattern backtracked quadratically: 0.8 s on 32 KB, minutes on 1 MB (a lost event)."""
    for size in (32 * 1024, 1024 * 1024):
        line = unit * (size // len(unit)) + "z"
        started = time.process_time()
        frames = _frames([line, line + "'"])
        elapsed = time.process_time() - started
        assert elapsed < 0.5, f"{size} bytes took {elapsed:.2f} s"
        assert len(frames) == 2


def test_ruby_line_with_an_overlong_line_number_keeps_the_frame() -> None:
    """int() refuses more than 4300 digits (a 500); such a number is no line number anyway."""
    (frame,) = _frames(["x.rb:" + "1" * 5000 + ":in `m'"])
    assert frame.filename == "x.rb" and frame.lineno is None and frame.method == "m"


def test_stage_falls_back_to_system_then_production() -> None:
    base = {"notifier": {"name": "x"}, "event": {"type": "E", "message": "m"}}
    assert _occurrence({**base, "environment": {"system": {"stage": "staging"}}}).environment == "staging"
    both = {**base, "environment": {"system": {"stage": "staging"}}, "context": {"stage": "qa"}}
    assert _occurrence(both).environment == "qa"
    assert _occurrence(base).environment == "production"


def test_minimal_and_null_parts() -> None:
    occ = _occurrence({"event": {"message": "hello"}, "backtrace": None, "environment": None, "data": None})
    assert occ.kind == "message" and occ.message == "hello" and occ.exceptions == []
    assert occ.timestamp is None and occ.extra is None and occ.notifier is None


def test_hash_event_keeps_its_extra_keys() -> None:
    """`CrashLog.notify({...})` with a Hash: the event is that hash (plus timestamp), no backtrace."""
    occ = _occurrence({"event": {"message": "custom", "order_id": 7, "timestamp": "garbage"}})
    assert occ.extra == {"event": {"order_id": 7, "timestamp": "garbage"}}


def test_action_only_context() -> None:
    occ = _occurrence({"event": {"type": "E"}, "context": {"stage": "production", "action": "rake#crashlog:test"}})
    assert occ.context == "rake#crashlog:test"


def test_hostile_shapes_never_fail_validation() -> None:
    payload = {
        "notifier": {"name": ["x"], "version": 3, "language": None, "filename": "clash"},
        "event": {"type": {"x": 1}, "message": 12, "timestamp": [1]},
        "backtrace": [
            {"file": 1, "number": "12a", "method": ["m"], "pre_context": "no", "locals": "clash", "code": 5},
            "app/models/user.rb:10:in `save'",
            "plain string",
            7,
        ],
        "environment": "prod",
        "context": ["a"],
        "data": "scalar",
        "surprise": True,
    }
    occ = _occurrence(payload)
    frames = occ.exceptions[0].frames
    assert occ.exceptions[0].type == "Error" and occ.exceptions[0].message == "12"
    assert frames[-1].filename == "1" and frames[-1].lineno is None
    assert frames[-1].model_extra == {"crashlog_locals": "clash", "crashlog_code": 5, "crashlog_number": "12a"}
    assert frames[-2].filename == "app/models/user.rb" and frames[-2].lineno == 10 and frames[-2].method == "save"
    assert frames[-3].filename == "plain string"
    assert frames[0].model_extra == {"crashlog_frame": 7}
    assert occ.custom == {"data": "scalar"}
    assert occ.extra is not None and occ.extra["surprise"] is True and occ.extra["environment"] == "prod"
    json.dumps(occ.to_detail())


@pytest.mark.parametrize(
    "body",
    [b"", b"   ", b"[]", b'{"payload": []}', b'{"event": {}}', b"not json", b'{"payload": {"event": "x"}}'],
)
def test_malformed_bodies_are_400(body: bytes) -> None:
    with pytest.raises(HttpError) as caught:
        _occurrence(payload_of(body))
    assert caught.value.status == 400


def test_announce_marker() -> None:
    marker = marker_item(announce.announce_marker(payload_of(fixture("announce_ruby.json")), RECEIVED))
    assert marker == {
        "kind": "announce",
        "source": "crashlog",
        "hostname": "app01.example.com",
        "stage": "production",
        "environment": "production",
        "notifier": {"name": "crashlog", "version": "1.0.7", "language": "Ruby"},
        "created": 1349339476.0,
        "received": RECEIVED,
    }
    assert marker_item(announce.announce_marker({}, RECEIVED)) == {
        "kind": "announce",
        "source": "crashlog",
        "created": RECEIVED,
        "received": RECEIVED,
    }


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = {"v": value}
    return value


def test_announce_marker_keeps_only_clipped_notifier_strings() -> None:
    """The notifier was stored verbatim: 1e300 or 40-deep nesting made every PutItem fail (503 forever)."""
    payload = {
        "hostname": "h" * 10_000,
        "stage": ["not", "a", "string"],
        "notifier": {"name": 1e300, "version": _nested(100), "language": "R" * 10_000, "extra": {"x": 1}},
    }
    marker = marker_item(announce.announce_marker(payload, RECEIVED))
    notifier = marker["notifier"]
    assert set(notifier) == {"name", "language"}
    assert notifier["name"] == "1e+300"
    assert all(isinstance(v, str) and 0 < len(v) <= announce.MAX_MARKER_TEXT for v in notifier.values())
    assert len(marker["hostname"]) == announce.MAX_MARKER_TEXT and "stage" not in marker
    assert (
        marker_item(announce.announce_marker({"notifier": "n" * 10_000}, RECEIVED))["notifier"]
        == "n" * announce.MAX_MARKER_TEXT
    )
    for useless in ({}, {"version": {"a": 1}}, [1, 2], None):
        assert "notifier" not in marker_item(announce.announce_marker({"notifier": useless}, RECEIVED))


def test_location_record_id_is_the_occurrence_id() -> None:
    for _ in range(20):
        location = locate.new_location_id()
        assert locate.location_record_id(location) == occurrence_id_for("crashlog", location)


def test_location_ids() -> None:
    location = locate.new_location_id()
    assert locate.is_location_id(location)
    assert uuid.UUID(location).version == 4
    assert not locate.is_location_id("not-a-uuid")
    assert not locate.is_location_id(location + "0")
    assert locate.sample_path("p1", location).startswith("/api/p1/samples/")
