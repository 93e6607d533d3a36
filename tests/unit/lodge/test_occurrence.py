"""The Occurrence model: unknown keys survive, titles, levels, the stored detail form."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lodge.occurrence import ExceptionInfo, Frame, Occurrence, Person, normalize_level, occurrence_id_for
from tests.unit.lodge.occurrences import error, make, pyrollbar_e1


def test_unknown_frame_keys_are_kept_in_extra() -> None:
    frame = Frame(**{"filename": "a.js", "runtimePosition": {"line": 3, "column": 7}, "argspec": ["x"]})
    assert frame.filename == "a.js"
    assert frame.model_extra == {"runtimePosition": {"line": 3, "column": 7}, "argspec": ["x"]}
    assert frame.model_dump(exclude_none=True) == {
        "filename": "a.js",
        "runtimePosition": {"line": 3, "column": 7},
        "argspec": ["x"],
    }


def test_unknown_keys_survive_the_stored_detail() -> None:
    occurrence = make(
        exceptions=[ExceptionInfo(type="E", frames=[Frame(method="m", inlined=True)], cause_id=7)],
        person=Person(id="42", plan="gold"),
    )
    detail = occurrence.to_detail()
    assert detail["exceptions"][0]["cause_id"] == 7
    assert detail["exceptions"][0]["frames"][0] == {"method": "m", "inlined": True}
    assert detail["person"] == {"id": "42", "plan": "gold"}
    assert Occurrence(**detail) == occurrence


def test_top_level_unknown_keys_are_rejected_so_adapters_use_extra() -> None:
    with pytest.raises(ValidationError):
        make(surprise=1)


def test_to_detail_excludes_none() -> None:
    detail = make(message="hi").to_detail()
    assert detail["message"] == "hi"
    assert "title" not in detail and "request" not in detail and "timestamp" not in detail
    assert None not in detail.values()


@pytest.mark.parametrize(
    ("occurrence", "title"),
    [
        (make(title="Given title", message="ignored"), "Given title"),
        (make(title="x" * 300), "x" * 255),
        (error("KeyError", "'missing'"), "KeyError: 'missing'"),
        (error("KeyError", None), "KeyError"),
        (error("ValueError", "first line\nsecond line"), "ValueError: first line"),
        (make(message="  hello\nworld  "), "hello"),
        (make(kind="performance", action="OrdersController#show"), "OrdersController#show"),
        (make(), "(no message)"),
    ],
)
def test_default_title(occurrence: Occurrence, title: str) -> None:
    assert occurrence.default_title() == title


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("warn", "warning"),
        ("WARNING", "warning"),
        (" fatal ", "critical"),
        ("err", "error"),
        ("information", "info"),
        ("log", "debug"),
        ("debug", "debug"),
        ("critical", "critical"),
        ("nonsense", "info"),
        (None, "info"),
        (3, "info"),
    ],
)
def test_normalize_level(value: object, expected: str) -> None:
    assert normalize_level(value, "info") == expected


def test_occurrence_id_is_deterministic_per_protocol_and_client_id() -> None:
    a = make(client_id="abc")
    assert a.occurrence_id == occurrence_id_for("rollbar", "abc")
    assert a.occurrence_id == make(client_id="abc", message="other").occurrence_id
    assert a.occurrence_id != make(client_id="abc", protocol="crashlog").occurrence_id
    assert len(a.occurrence_id) == 24 and a.occurrence_id.isalnum()


def test_effective_time_prefers_the_client_timestamp() -> None:
    assert make(received_at=10.0).effective_time == 10.0
    assert make(received_at=10.0, timestamp=5.5).effective_time == 5.5


def test_e1_fixture_maps_with_every_unknown_frame_key_kept() -> None:
    occurrence = pyrollbar_e1()
    last = occurrence.exceptions[0].frames[-1]
    assert (last.method, last.lineno) == ("inner", 11)
    assert last.model_extra == {"argspec": ["x"]}
    assert occurrence.exception_class == "ZeroDivisionError"
    assert occurrence.default_title() == "ZeroDivisionError: division by zero"


def _nested(depth: int) -> dict[str, object]:
    root: dict[str, object] = {}
    current = root
    for _ in range(depth):
        child: dict[str, object] = {}
        current["a"] = child
        current = child
    return root


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@pytest.mark.parametrize("depth", [300, 900])
def test_deeply_nested_client_data_is_cut_so_the_detail_serializes(depth: int) -> None:
    """pydantic refuses to serialize ~250 levels: a valid JSON report must not become a 500."""
    deep = _nested(depth)
    occurrence = make(
        custom=deep,
        extra={"x": deep},
        exceptions=[{"type": "E", "frames": [{"locals": deep, "runtimePosition": deep}]}],
    )
    detail = occurrence.to_detail()
    assert _depth(detail["custom"]) <= 33 and "[nested too deep]" in str(detail["custom"])
    assert _depth(detail["extra"]) <= 34
    frame = detail["exceptions"][0]["frames"][0]
    assert _depth(frame["locals"]) <= 33 and _depth(frame["runtimePosition"]) <= 33


def test_shallow_client_data_is_kept_exactly() -> None:
    data = {"a": [1, {"b": {"c": [None, "x"]}}], "n": 2}
    assert make(custom=data).to_detail()["custom"] == data


def test_ids_accept_lone_surrogates() -> None:
    """A JSON "\\ud800" is legal in a request_id; hashing it must not raise (it was a 500)."""
    assert occurrence_id_for("appsignal", "\ud800x") != occurrence_id_for("appsignal", "\ud801x")
