"""DynamoDB item sizes and capacity units by the published rules, so the bench does not depend on
an emulator's idea of ConsumedCapacity (moto reports none that is accurate).

Rules (DynamoDB developer guide, "Item sizes and formats" and "Read/write operations"):
- an item's size is the sum of its attribute names' UTF-8 lengths plus their values' sizes;
  String: UTF-8 bytes; Binary: raw bytes; Number: 1 byte per two significant digits + 1;
  Boolean/Null: 1 byte; List/Map: 3 bytes + 1 byte per element + the elements (map keys count);
  sets: the sum of their elements;
- a write costs 1 WRU per started KB of the larger of the old and the new item; a conditional
  write whose condition fails still costs the existing item's size (at least 1 WRU);
- a GSI entry is written (keys + projected attributes) when an item gains, loses or changes it;
- an eventually consistent read costs 0.5 RRU per started 4 KB (a miss costs 0.5).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

KB = 1024


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").split("e")[0].split("E")[0].strip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def value_size(attr: Mapping[str, Any]) -> int:
    """Size of one low-level attribute value ({"S": ...}, {"M": {...}}, ...)."""
    ((kind, value),) = attr.items()
    if kind == "S":
        return len(str(value).encode("utf-8"))
    if kind == "N":
        return _number_size(str(value))
    if kind == "B":
        return len(value)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode("utf-8")) for v in value)
    if kind == "NS":
        return sum(_number_size(v) for v in value)
    if kind == "BS":
        return sum(len(v) for v in value)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + value_size(v) for k, v in value.items())
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in value)
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Mapping[str, Mapping[str, Any]] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / KB))


def read_units(size: int, consistent: bool = False) -> float:
    units = max(1, math.ceil(size / (4 * KB)))
    return float(units) if consistent else units / 2


class Index:
    """A GSI as the template declares it: its key attributes and what it projects."""

    def __init__(
        self, name: str, table_keys: Iterable[str], keys: Iterable[str], projected: Iterable[str] | None
    ) -> None:
        self.name = name
        self.keys = tuple(keys)
        self.table_keys = tuple(table_keys)
        self.projected = None if projected is None else tuple(projected)

    def entry(self, item: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The index entry an item has (None when it lacks an index key: sparse index)."""
        if not item or any(k not in item for k in self.keys):
            return None
        names = set(self.table_keys) | set(self.keys)
        names |= set(item) if self.projected is None else set(self.projected)
        return {k: v for k, v in item.items() if k in names}

    def write_units(self, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> int:
        before, after = self.entry(old), self.entry(new)
        if before == after:
            return 0
        if before is None:
            return write_units(item_size(after))
        if after is None:
            return write_units(item_size(before))
        if any(before[k] != after[k] for k in self.keys):
            return write_units(item_size(before)) + write_units(item_size(after))
        return write_units(max(item_size(before), item_size(after)))
