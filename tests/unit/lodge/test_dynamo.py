"""Attribute-value (de)serialization, checked both in isolation and through moto's DynamoDB."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest

from lodge.dynamo import from_attr, from_item, to_attr, to_item
from lodge.storage import Store


@pytest.mark.parametrize(
    ("value", "attr"),
    [
        ("text", {"S": "text"}),
        ("", {"S": ""}),
        (7, {"N": "7"}),
        (-12345678901234567890, {"N": "-12345678901234567890"}),
        (1.5, {"N": "1.5"}),
        (Decimal("29.99"), {"N": "29.99"}),
        (True, {"BOOL": True}),
        (False, {"BOOL": False}),
        (None, {"NULL": True}),
        (b"\x00\xff", {"B": b"\x00\xff"}),
        (bytearray(b"ab"), {"B": b"ab"}),
        ({"b", "a"}, {"SS": ["a", "b"]}),
        ({"k": [1, "x", None]}, {"M": {"k": {"L": [{"N": "1"}, {"S": "x"}, {"NULL": True}]}}}),
        ((1, 2), {"L": [{"N": "1"}, {"N": "2"}]}),
    ],
)
def test_to_attr(value: Any, attr: dict[str, Any]) -> None:
    assert to_attr(value) == attr


def test_bool_is_not_stored_as_a_number() -> None:
    assert to_attr(True) != to_attr(1)


@pytest.mark.parametrize(
    "value",
    [
        "s",
        0,
        -3,
        10**20,
        2.5,
        -0.125,
        1e-7,
        True,
        False,
        None,
        b"bin",
        {"a", "b"},
        [1, [2, [3]]],
        {"m": {"n": {"o": []}}},
    ],
)
def test_round_trip(value: Any) -> None:
    assert from_attr(to_attr(value)) == value


def test_from_attr_number_sets_and_binary_sets() -> None:
    assert from_attr({"NS": ["1", "2.5"]}) == {1, 2.5}
    assert from_attr({"BS": [b"a", b"b"]}) == {b"a", b"b"}
    with pytest.raises(TypeError):
        from_attr({"XX": 1})


def test_to_item_omits_none_only_at_the_top_level() -> None:
    item = to_item({"a": None, "b": 0, "c": "", "d": False, "e": {"inner": None}})
    assert item == {"b": {"N": "0"}, "c": {"S": ""}, "d": {"BOOL": False}, "e": {"M": {"inner": {"NULL": True}}}}
    assert from_item(item) == {"b": 0, "c": "", "d": False, "e": {"inner": None}}


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_are_stored_as_zero(value: float) -> None:
    # DynamoDB has no NaN or infinity: storing one would fail the whole write (a 503, forever retried).
    assert to_attr(value) == {"N": "0"}


def test_lone_surrogates_become_storable_text() -> None:
    # DynamoDB strings are UTF-8; a lone surrogate (a truncated emoji) is not encodable as such.
    attr = to_attr("cut \ud83d")
    assert attr == {"S": "cut ?"}
    attr["S"].encode("utf-8")


def test_unsupported_types_raise() -> None:
    with pytest.raises(TypeError):
        to_attr(object())


def test_round_trip_through_dynamodb(store: Store) -> None:
    """Everything comes back equal (real DynamoDB also turns 2.0 into 2; moto keeps "2.0")."""
    values = {
        "pk": "T#1",
        "sk": "X",
        "s": "naïve 👨‍👩‍👧",
        "i": 42,
        "f": 0.1,
        "whole": 2.0,
        "big": 10**30,
        "b": b"\x00\x01",
        "t": True,
        "nul": {"x": None},
        "ss": {"a", "b"},
        "nested": {"list": [1, {"deep": ["x", 1.25]}], "empty": {}, "none_list": []},
        "gone": None,
    }
    store.ddb.put_item(TableName=store.table, Item=to_item(values))
    raw = store.ddb.get_item(TableName=store.table, Key=to_item({"pk": "T#1", "sk": "X"}))["Item"]
    back = from_item(raw)
    expected = {k: v for k, v in values.items() if v is not None}
    assert back == expected
    assert isinstance(back["f"], float)
    assert "gone" not in back


@pytest.mark.parametrize(
    "value",
    [1e200, -1e200, 10**400, 1e-200, Decimal("1e300"), float("inf")],
    ids=["1e200", "-1e200", "10**400", "1e-200", "Decimal 1e300", "inf"],
)
def test_numbers_dynamodb_cannot_hold_are_stored_as_zero(value: Any) -> None:
    """Beyond 1e126 (or 38 digits) DynamoDB rejects the whole write: a 503 on every retry."""
    assert to_attr(value) == {"N": "0"}


def test_numbers_within_range_keep_their_value() -> None:
    assert to_attr(10**37) == {"N": str(10**37)}
    assert to_attr(-(10**37)) == {"N": str(-(10**37))}
    assert to_attr(9.5e125) == {"N": "9.5e+125"}
    assert from_attr(to_attr(1795324863.123)) == 1795324863.123
    assert to_attr(Decimal("1.25")) == {"N": "1.25"}
    # 41 digits: more precision than DynamoDB keeps, so stored as the nearest float
    assert float(to_attr(12345678901234567890123456789012345678901)["N"]) == pytest.approx(1.2345678901234568e40)
