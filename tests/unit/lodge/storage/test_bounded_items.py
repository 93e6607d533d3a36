"""Every item that can grow has a cap under DynamoDB's 400 KB item limit (docs/storage.md, "Item
sizes"): one issue driven through 100,000 distinct, maximally long environment names still stores,
and its item does not grow with them."""

from __future__ import annotations

from typing import Any

from lodge import grouping
from lodge.dynamo import to_item
from lodge.normalize.limits import LABEL_LIMIT
from lodge.storage import GroupDelta, Store
from tests.unit.lodge.occurrences import error

DYNAMODB_ITEM_LIMIT = 400 * 1024
ENVIRONMENTS = 100_000
PER_REQUEST = 1_000
"""Environments per storage call (the batch): a request's occurrences reach the issue as one delta."""


def item_bytes(item: dict[str, Any]) -> int:
    """DynamoDB's measure: attribute names plus values, as UTF-8."""
    return sum(len(name.encode()) + len(repr(value).encode()) for name, value in to_item(item).items())


def environment(index: int) -> str:
    return f"{index:06d}-" + "é" * 450_000  # 900 KB of UTF-8, clipped to LABEL_LIMIT characters by the model


def test_one_issue_through_100000_environments_still_stores(store: Store) -> None:
    head = error(message="boom", frames=[("a.py", "f")], environment=environment(0))
    group = grouping.compute(head)
    assert group is not None
    sizes = []
    for start in range(0, ENVIRONMENTS, PER_REQUEST):
        first = error(message="boom", environment=environment(start), timestamp=1_700_000_000.0 + start)
        last_name = environment(start + PER_REQUEST - 1)
        last = error(message="boom", environment=last_name, timestamp=1_700_000_001.0 + start)
        assert len(first.environment) == LABEL_LIMIT
        store.bump_group("p1", GroupDelta(group, first, last, first.client_id, last.client_id, PER_REQUEST))
        if start in (0, ENVIRONMENTS - PER_REQUEST):
            item = store.get_group("p1", group.group_id)
            assert item is not None
            sizes.append(item_bytes(item))
    item = store.get_group("p1", group.group_id)
    assert item is not None and int(item["cnt"]) == ENVIRONMENTS
    assert sizes[-1] < DYNAMODB_ITEM_LIMIT // 10, sizes
    assert sizes[-1] - sizes[0] < 16, sizes  # only the counter's and times' digits grow
