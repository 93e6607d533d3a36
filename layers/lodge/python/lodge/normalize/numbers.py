"""Lenient numbers from client-sent values: real clients send numbers as strings and vice versa."""

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
