"""The one client-time parser, with one set of bounds.

Accepted: Unix seconds as a number or a numeric string (milliseconds too: anything above
`MAX_SECONDS` is read as ms, as JavaScript clients naturally send), ISO 8601 / RFC 3339, Ruby's
`Time#to_s` (`2012-08-22 15:29:17 +0200`, `... UTC`) and RFC 1123 (`Thu, 04 Oct 2012 08:31:16 GMT`).
A time without a zone is UTC; a time is kept to the microsecond. Anything else, and anything
outside [MIN_SECONDS, MAX_SECONDS) after the ms rule, is no time: None, never an exception
(10**400 is valid JSON).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any

MIN_SECONDS = 1.0
"""Below one second after the epoch is no clock's reading (and 1e-320 is beyond DynamoDB)."""
MAX_SECONDS = 1e11
"""Year 5138: beyond it no clock, and 1e126+ is more than DynamoDB can hold."""

_RUBY_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)\s*(Z|UTC|[+-]\d{2}:?\d{2})?$")


def parse_time(value: Any) -> float | None:
    """Unix seconds from whatever a client sent as a time, or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:
            return None
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            parsed = _parse_text(text)
            if parsed is None:
                return None
            number = parsed
    else:
        return None
    if math.isfinite(number) and number >= MAX_SECONDS:
        number /= 1000.0
    seconds = bounded(number)
    return round(seconds, 6) if seconds is not None else None


def bounded(seconds: float | None) -> float | None:
    """`seconds` if it lies within [MIN_SECONDS, MAX_SECONDS), else None: the one set of bounds for
    every time an occurrence carries (`parse_time`, and `lodge.normalize.normalize`, the one pass)."""
    if seconds is None or not math.isfinite(seconds):
        return None
    return seconds if MIN_SECONDS <= seconds < MAX_SECONDS else None


def _parse_text(text: str) -> float | None:
    match = _RUBY_TIME.match(text)
    if match:
        date, clock, zone = match.groups()
        zone = "+00:00" if zone in (None, "Z", "UTC") else zone
        text = f"{date}T{clock}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return parse_http_date(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def parse_http_date(value: str) -> float | None:
    """RFC 1123 and its loose relatives (the Java appender does not zero-pad the day) -> epoch seconds."""
    from email.utils import parsedate_to_datetime

    try:
        parsed = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):  # a year beyond a C long overflows
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
