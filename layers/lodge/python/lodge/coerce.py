"""Lenient conversions of client-sent values: real clients send numbers as strings and vice versa."""

from __future__ import annotations

from typing import Any


def loose_int(value: Any) -> int | None:
    """An int from an int, a whole float or a string of digits; None for anything else (bools too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        digits = value.strip().removeprefix("-")
        # ASCII only and bounded: "²".isdigit() is True but int("²") raises, and int() refuses
        # strings of over 4300 digits; either would be a 500 on a client's odd line number.
        if digits.isascii() and digits.isdigit() and len(digits) <= 19:
            return int(value.strip())
    return None


MAX_DEPTH = 32
"""Deepest nesting kept in free-form client data. Deeper containers become a marker string: real
reports nest a few levels, and pydantic refuses to serialize ~250 (a 500 on a valid request)."""


def cut_depth(value: Any, depth: int = MAX_DEPTH) -> Any:
    """A copy of `value` whose dicts and lists below `depth` levels are replaced by a marker."""
    if isinstance(value, dict):
        if depth <= 0:
            return "[nested too deep]"
        return {k: cut_depth(v, depth - 1) for k, v in value.items()}
    if isinstance(value, list):
        if depth <= 0:
            return "[nested too deep]"
        return [cut_depth(v, depth - 1) for v in value]
    return value
