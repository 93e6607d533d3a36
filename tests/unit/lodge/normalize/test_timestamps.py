"""The one client-time parser: every adapter's times, one set of bounds."""

from __future__ import annotations

from typing import Any

import pytest

from lodge.normalize.timestamps import MAX_SECONDS, MIN_SECONDS, parse_time


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1349339476, 1349339476.0),
        ("1349339476.5", 1349339476.5),
        (1349339476123, 1349339476.123),  # milliseconds
        ("2012-10-04T08:31:16Z", 1349339476.0),
        ("2012-10-04 10:31:16 +0200", 1349339476.0),  # Ruby Time#to_s
        ("2012-10-04 08:31:16 UTC", 1349339476.0),
        ("2012-10-04 08:31:16", 1349339476.0),  # no zone: UTC
        ("Thu, 04 Oct 2012 08:31:16 GMT", 1349339476.0),
        (MIN_SECONDS, MIN_SECONDS),
        (0, None),
        (MAX_SECONDS * 1000, None),
        (float("nan"), None),
        (10**400, None),
        ("1e400", None),
        ("soon", None),
        (True, None),
        ([1], None),
    ],
)
def test_parse_time(value: Any, expected: float | None) -> None:
    assert parse_time(value) == expected
