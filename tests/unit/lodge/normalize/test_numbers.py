"""Lenient client-value conversions never raise, whatever a client sends."""

from __future__ import annotations

from typing import Any

import pytest

from lodge.normalize.numbers import loose_int


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12, 12), (12.0, 12), ("12", 12), (" -7 ", -7), (True, None), (1.5, None), ("1.5", None), (None, None)],
)
def test_loose_int(value: Any, expected: int | None) -> None:
    assert loose_int(value) == expected


@pytest.mark.parametrize("value", ["²", "١٢", "1" * 5000, "9" * 20, "--1", ""])
def test_loose_int_refuses_what_int_would_choke_on(value: str) -> None:
    assert loose_int(value) is None
