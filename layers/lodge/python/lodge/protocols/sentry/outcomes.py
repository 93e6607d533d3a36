"""What SDKs report they dropped (`client_report` items), kept per project and UTC day.

Each client report adds its `reason:category` quantities to the project's counters of the day
(`lodge.storage.client_reports`, one write per report; SDKs send them rarely next to events).
"""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lodge.storage import Store

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
    """Add one report's counts to the day's tally (StorageError when storage fails)."""
    store.add_discards(project_id, counts, time.time() if now is None else now)


def read(store: Store, project_id: str) -> dict[str, dict[str, int]]:
    """Per UTC day, each `reason:category` with the quantity SDKs reported discarding."""
    return {daily.day: daily.counts for daily in store.discards(project_id)}
