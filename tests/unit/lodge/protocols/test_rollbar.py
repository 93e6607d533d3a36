"""lodge.protocols.rollbar: the tolerant mapper, its schema checks, and the way back for the read API."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest

from lodge.http import HttpError
from lodge.normalize import normalize
from lodge.protocols.rollbar import auth, mapping, objects

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "rollbar"
ALL = [
    "e1_pyrollbar_exc_info",
    "e1b_pyrollbar_trace_chain",
    "e2_pyrollbar_message",
    "e4_pyrollbar_failsafe",
    "e5_node_message",
    "e6_node_error",
    "e7_browser_error",
]


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return payload


def occurrence(data: dict[str, Any], source_ip: str | None = "192.0.2.1") -> Any:
    """The mapped occurrence after the normalization pass every occurrence goes through."""
    mapped = mapping.to_occurrence(mapping.validate_data({"data": data}), "p1", 1_800_000_000.0, source_ip)
    normalize(mapped)
    return mapped


def round_trip(data: dict[str, Any]) -> dict[str, Any]:
    detail = json.loads(json.dumps(occurrence(data).to_detail()))
    return objects.to_rollbar_data(detail)


@pytest.mark.parametrize("name", ALL)
def test_fixtures_come_back_as_sent(name: str) -> None:
    """What the read API shows of an occurrence is the client's `data`, minus the token."""
    sent = load(name)["data"]
    back = round_trip(copy.deepcopy(sent))
    expected = copy.deepcopy(sent)
    if "uuid" not in expected:  # E4: the server made one up
        assert len(back.pop("uuid")) == 32
    if name == "e5_node_message":
        del expected["request"]["user_ip"]  # null is not kept
    if name == "e7_browser_error":
        expected["request"]["user_ip"] = "192.0.2.1"  # "$remote_ip" is replaced
        expected["timestamp"] = expected["client"]["timestamp"]  # derived from client.timestamp
        expected["code_version"] = "abc123"  # derived from client.javascript.code_version
    assert back == expected


def test_trace_chain_order_is_outermost_first() -> None:
    occ = occurrence(load("e1b_pyrollbar_trace_chain")["data"])
    assert [e.type for e in occ.exceptions] == ["ValueError", "KeyError"]
    assert occ.exception_class == "ValueError"
    assert occ.default_title() == "Custom title"


def test_defaults_for_a_minimal_message() -> None:
    occ = occurrence({"environment": "production", "body": {"message": {"body": "Hello, world!"}}})
    assert occ.kind == "message" and occ.level == "info" and occ.timestamp is None
    assert occ.message == "Hello, world!"
    assert len(occ.client_id) == 32 and int(occ.client_id, 16) >= 0


def test_all_optional_keys_are_mapped() -> None:
    data = {
        "environment": "prod",
        "body": {
            "trace": {
                "frames": [{"filename": "a.py", "lineno": "7", "colno": 2.0}],
                "exception": {"class": "E", "message": 5},
            }
        },
        "level": "critical",
        "timestamp": 1369188822000,  # milliseconds: tolerated
        "code_version": 45,
        "platform": "linux",
        "language": "python",
        "framework": "pyramid",
        "context": "project#index",
        "request": {"url": "https://x/1", "method": "GET", "user_ip": "$remote_ip_anonymize", "GET": {"a": "1"}},
        "person": {"id": 12345, "username": "brianr", "email": "b@example.com"},
        "server": {"host": "web4", "root": "/srv", "branch": "main", "sha": "abc", "pid": "77"},
        "client": {"javascript": {"browser": "UA"}},
        "custom": {"k": [1, 2]},
        "fingerprint": "fp",
        "title": "T",
        "uuid": "d4c7acef55bf4c9ea95e4fe9428a8287",
        "notifier": {"name": "n", "version": "1"},
        "something_else": {"kept": True},
    }
    occ = occurrence(data, source_ip="198.51.100.77")
    assert occ.level == "critical" and occ.timestamp == 1369188822.0
    assert occ.code_version == "45" and occ.platform == "linux" and occ.language == "python"
    assert occ.framework == "pyramid" and occ.context == "project#index"
    assert occ.request is not None and occ.request.user_ip == "198.51.100.0"
    assert occ.request.model_extra == {"GET": {"a": "1"}}
    assert occ.person is not None and occ.person.id == "12345"
    assert occ.server is not None and occ.server.pid == 77 and occ.server.model_extra == {"sha": "abc"}
    assert occ.hostname == "web4"
    assert occ.client == {"javascript": {"browser": "UA"}} and occ.custom == {"k": [1, 2]}
    assert occ.fingerprint == "fp" and occ.title == "T" and occ.client_id == data["uuid"]
    assert occ.notifier is not None and occ.notifier.name == "n"
    assert occ.extra == {"something_else": {"kept": True}}
    frame = occ.exceptions[0].frames[0]
    assert (frame.lineno, frame.colno) == (7, 2)
    assert occ.exceptions[0].message == "5"


def test_odd_types_are_kept_not_rejected() -> None:
    data = {
        "environment": "e",
        "body": {
            "trace": {
                "frames": [{"filename": 3, "lineno": "n/a", "locals": [1], "context": "x"}],
                "exception": {"class": "E", "stack": "s"},
                "extra_trace_key": 1,
            },
            "telemetry": [{"level": "log", "type": "log"}],
        },
        "context": None,
        "custom": "not an object",
        "server": {"host": ["a"]},
        "request": "a string",
        "timestamp": "soon",
    }
    occ = occurrence(data)
    assert occ.context is None and occ.timestamp is None
    assert occ.server is not None and occ.server.host is None
    back = objects.to_rollbar_data(json.loads(json.dumps(occ.to_detail())))
    assert back["custom"] == "not an object"
    assert back["server"] == {"host": ["a"]}
    assert back["request"] == "a string"
    assert back["timestamp"] == "soon"
    assert back["body"]["trace"]["frames"][0] == {"filename": "3", "lineno": "n/a", "locals": [1], "context": "x"}
    assert back["body"]["trace"]["exception"] == {"class": "E", "stack": "s"}
    assert back["body"]["trace"]["extra_trace_key"] == 1
    assert back["body"]["telemetry"] == [{"level": "log", "type": "log"}]


def test_crash_report_is_an_error_titled_from_the_raw_report() -> None:
    raw = "Incident Identifier: X\nException Type:  EXC_BAD_ACCESS (SIGSEGV)\nException Codes: KERN_INVALID_ADDRESS\n"
    occ = occurrence({"environment": "e", "platform": "ios", "body": {"crash_report": {"raw": raw}}})
    assert occ.kind == "error" and occ.level == "error"
    assert occ.exception_class == "EXC_BAD_ACCESS (SIGSEGV)"
    assert occ.exceptions[0].message == "KERN_INVALID_ADDRESS"
    assert objects.to_rollbar_data(occ.to_detail())["body"] == {"crash_report": {"raw": raw}}


def test_message_given_as_a_plain_string_is_tolerated() -> None:
    assert occurrence({"environment": "e", "body": {"message": "hi"}}).message == "hi"


def test_non_string_message_body_is_kept() -> None:
    occ = occurrence({"environment": "e", "body": {"message": {"body": {"a": 1}}}})
    assert occ.message == '{"a": 1}'
    assert objects.to_rollbar_data(occ.to_detail())["body"]["message"] == {"body": {"a": 1}}


def test_token_hint_never_reveals_a_usable_token() -> None:
    assert auth.token_hint("abcdef0123456789") == "abcd..."
    assert auth.token_hint("short") == "..."


def test_rate_limit_headers() -> None:
    headers = auth.rate_limit_headers(5000, 4997, 1602684331, now=1602684290)
    assert headers == {
        "X-Rate-Limit-Limit": "5000",
        "X-Rate-Limit-Remaining": "4997",
        "X-Rate-Limit-Remaining-Seconds": "41",
        "X-Rate-Limit-Reset": "1602684331",
    }


@pytest.mark.parametrize(
    "data, message",
    [
        ({"body": {"message": {"body": "x"}}}, "Invalid format. data.environment is missing and it is required."),
        (
            {"environment": "e" * 256, "body": {}},
            "Invalid format. data.environment must be at most 255 characters long.",
        ),
        (
            {"environment": "e", "body": {"trace": {"frames": {}, "exception": {"class": "E"}}}},
            "Invalid format. data.body.trace.frames should be array.",
        ),
        (
            {"environment": "e", "body": {"trace": {"frames": [], "exception": "E"}}},
            "Invalid format. data.body.trace.exception should be object.",
        ),
        (
            {"environment": "e", "body": {"trace": {"frames": ["x"], "exception": {"class": "E"}}}},
            "Invalid format. data.body.trace.frames[0] string value found, but an object is required.",
        ),
        ({"environment": "e", "body": {"trace_chain": {}}}, "Invalid format. data.body.trace_chain should be array."),
        (
            {"environment": "e", "title": {}, "body": {"message": {"body": "x"}}},
            "Invalid format. data.title object value found, but a string or null is required.",
        ),
    ],
)
def test_schema_errors(data: dict[str, Any], message: str) -> None:
    with pytest.raises(HttpError) as caught:
        occurrence(data)
    assert caught.value.status == 422
    assert caught.value.body == {"err": 1, "message": message}


# ---- regressions from the independent review ------------------------------------------------------

CRASH_TEXT_SHAPES = {
    "40k newlines": "\n" * 40_000,
    "40k blank lines with spaces": " \t\n" * 40_000,
    "newlines then text": "\n" * 40_000 + "x",
    "type with a long blank value": "Exception Type:" + " " * 40_000 + "\n",
    "type with spaces then text": "Exception Type:" + " " * 40_000 + "x",
    "many empty type lines": "Exception Type: \n" * 20_000,
    "many reason lines with trailing blanks": ("Exception Codes: x" + " " * 200 + "\n") * 2_000,
    "one 1 MB line of spaces": " " * 1_000_000,
    "1 MB of mixed whitespace": "\r\n\t \x0b\x0c" * 200_000,
}


@pytest.mark.parametrize("raw", list(CRASH_TEXT_SHAPES.values()), ids=list(CRASH_TEXT_SHAPES))
def test_crash_report_parsing_is_fast_on_pathological_text(raw: str) -> None:
    """Review finding 1: `^\\s*...(.+?)\\s*$` with re.M took 10 s on 40,000 newlines (a Lambda timeout)."""
    data = {"environment": "e", "platform": "ios", "body": {"crash_report": {"raw": raw}}}
    started = time.process_time()
    occ = occurrence(data)
    elapsed = time.process_time() - started
    assert elapsed < 0.5, f"{elapsed:.2f} s"
    assert occ.kind == "error"


@pytest.mark.parametrize(
    "raw, type_, reason",
    [
        ("Exception Type: EXC_CRASH (SIGABRT)\r\nTermination Reason: Namespace SIGNAL\r\n", "EXC_CRASH (SIGABRT)",
         "Namespace SIGNAL"),
        ("Exception Type:\nException Type:  SIGSEGV  \n", "SIGSEGV", None),
        ("  Exception Reason:  boom  \n", "CrashReport", "boom"),
        ("Process: x\n" * 10 + "Exception Type: late\n", "late", None),
        ("x" * 70_000 + "\nException Type: beyond the scanned head\n", "CrashReport", None),
    ],
)  # fmt: skip
def test_crash_report_fields_are_read_per_line(raw: str, type_: str, reason: str | None) -> None:
    occ = occurrence({"environment": "e", "body": {"crash_report": {"raw": raw}}})
    assert occ.exception_class == type_
    assert occ.exceptions[0].message == reason
    assert objects.to_rollbar_data(occ.to_detail())["body"] == {"crash_report": {"raw": raw}}


@pytest.mark.parametrize(
    "value",
    [1e200, 1e130, float("inf"), 10**400, -(10**400), "1e400", str(10**400), "Infinity", "-0", 0, 1e-320, 1e14 * 1000],
    ids=lambda value: repr(value)[:24],
)
def test_out_of_range_timestamps_are_not_used(value: Any) -> None:
    """Review finding 3: 1e200 was stored (DynamoDB rejects > 1e125: 503 forever), 10**400 raised (500)."""
    occ = occurrence({"environment": "e", "timestamp": value, "body": {"message": {"body": "x"}}})
    assert occ.timestamp is None
    assert occ.extra == {"timestamp": value}  # kept verbatim, as any unusable timestamp is


@pytest.mark.parametrize(
    "value, expected",
    [(1700000000, 1700000000.0), ("1700000000.5", 1700000000.5), (1369188822000, 1369188822.0), (1, 1.0)],
)
def test_valid_timestamps_are_unchanged(value: Any, expected: float) -> None:
    occ = occurrence({"environment": "e", "timestamp": value, "body": {"message": {"body": "x"}}})
    assert occ.timestamp == expected
