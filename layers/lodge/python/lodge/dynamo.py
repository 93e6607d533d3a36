"""DynamoDB attribute-value (de)serialization for the low-level client.

boto3's TypeSerializer would pull in boto3 itself (~60 ms of cold start); Lodge needs only a few
types, so this is the small subset: str, int/float (as N), bytes, bool, None, dict, list, set[str].
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

AttributeValue = dict[str, Any]


# DynamoDB numbers: up to 38 significant digits, magnitude between 1e-130 and 1e126. A value it
# cannot hold would fail the whole write (a 503, retried forever), so it is stored as 0 instead.
_MAX_NUMBER = 9.9999e125
_MIN_NUMBER = 1e-130


def _number_text(value: int | float | Decimal) -> str:
    if isinstance(value, int) and abs(value) < 10**38:
        return str(value)
    if isinstance(value, Decimal) and value.is_finite() and len(value.as_tuple().digits) <= 38:
        number = float(value)
    else:
        try:
            number = float(value)
        except OverflowError:
            return "0"
    if not math.isfinite(number) or abs(number) > _MAX_NUMBER or 0 < abs(number) < _MIN_NUMBER:
        return "0"
    return str(value) if isinstance(value, Decimal) else repr(number)


def to_attr(value: Any) -> AttributeValue:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": _storable(value)}
    if isinstance(value, (int, float, Decimal)):
        return {"N": _number_text(value)}
    if isinstance(value, (bytes, bytearray)):
        return {"B": bytes(value)}
    if isinstance(value, (set, frozenset)):
        return {"SS": sorted(str(v) for v in value)}
    if isinstance(value, Mapping):
        return {"M": {str(k): to_attr(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [to_attr(v) for v in value]}
    raise TypeError(f"cannot store {type(value).__name__} in DynamoDB")


def _storable(text: str) -> str:
    """DynamoDB strings are UTF-8: a lone surrogate (a client's truncated emoji) becomes "?"."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def to_item(values: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """Serialize a mapping, leaving out None values (absent beats NULL: fewer bytes, fewer units)."""
    return {k: to_attr(v) for k, v in values.items() if v is not None}


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def from_attr(attr: AttributeValue) -> Any:
    ((kind, value),) = attr.items()
    if kind == "S":
        return value
    if kind == "N":
        return _number(value)
    if kind == "B":
        return bytes(value)
    if kind == "BOOL":
        return bool(value)
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: from_attr(v) for k, v in value.items()}
    if kind == "L":
        return [from_attr(v) for v in value]
    if kind == "SS":
        return set(value)
    if kind == "NS":
        return {_number(v) for v in value}
    if kind == "BS":
        return {bytes(v) for v in value}
    raise TypeError(f"unknown DynamoDB type {kind}")


def from_item(item: Mapping[str, AttributeValue]) -> dict[str, Any]:
    return {k: from_attr(v) for k, v in item.items()}
