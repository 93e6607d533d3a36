"""What SDKs report they dropped (`client_report` items), kept per project and UTC day.

One UpdateItem per client report adds each `reason:category` quantity to the day's counter item
(`PRJ#<project>` / `SENTRY_DISCARDS#<yyyy-mm-dd>`), expiring with the retention period. SDKs send a
report every few seconds of activity at most, so this write is rare next to the events themselves.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from lodge.dynamo import from_item, to_attr, to_item
from lodge.store import project_pk

if TYPE_CHECKING:
    from lodge.store import Store

SK_PREFIX = "SENTRY_DISCARDS#"
MAX_PAIRS = 50
"""Distinct reason:category pairs taken from one report (Sentry defines about twenty of each)."""
MAX_NAME = 64
_LISTS = ("discarded_events", "rate_limited_events", "filtered_events", "filtered_sampling_events")


def discards(report: Any) -> Counter[str]:
    """`{"discarded_events": [{"reason", "category", "quantity"}]}` -> Counter of "reason:category"."""
    counts: Counter[str] = Counter()
    if not isinstance(report, dict):
        return counts
    for list_name in _LISTS:
        entries = report.get(list_name)
        if not isinstance(entries, list):
            continue
        default_reason = "" if list_name == "discarded_events" else list_name.removesuffix("_events")
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            quantity = entry.get("quantity")
            if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity < 2**53:
                continue
            reason = str(entry.get("reason") or default_reason or "unknown")[:MAX_NAME]
            category = str(entry.get("category") or "unknown")[:MAX_NAME]
            key = f"{reason}:{category}"
            if key in counts or len(counts) < MAX_PAIRS:
                counts[key] += quantity
    return counts


def record(store: Store, project_id: str, counts: Counter[str], now: float | None = None) -> None:
    if not counts:
        return
    now = time.time() if now is None else now
    day = time.strftime("%Y-%m-%d", time.gmtime(now))
    names = {f"#n{i}": f"d:{key}" for i, key in enumerate(counts)}
    values: dict[str, Any] = {f":v{i}": to_attr(quantity) for i, quantity in enumerate(counts.values())}
    values[":ttl"] = to_attr(int(now) + store.config.retention_seconds)
    store.ddb.update_item(
        TableName=store.table,
        Key=to_item({"pk": project_pk(project_id), "sk": SK_PREFIX + day}),
        UpdateExpression="ADD " + ", ".join(f"#n{i} :v{i}" for i in range(len(counts))) + " SET #ttl = :ttl",
        ExpressionAttributeNames={**names, "#ttl": "ttl"},
        ExpressionAttributeValues=values,
    )


def read(store: Store, project_id: str) -> dict[str, dict[str, int]]:
    """Per UTC day, each `reason:category` with the quantity SDKs reported discarding."""
    response = store.ddb.query(
        TableName=store.table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": to_attr(project_pk(project_id)), ":prefix": to_attr(SK_PREFIX)},
    )
    days: dict[str, dict[str, int]] = {}
    for raw in response.get("Items", []):
        item = from_item(raw)
        day = str(item["sk"])[len(SK_PREFIX) :]
        days[day] = {k[2:]: int(v) for k, v in item.items() if k.startswith("d:")}
    return days
