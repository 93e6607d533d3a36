"""Occurrences as listings see them."""

from __future__ import annotations

from typing import NamedTuple


class OccurrenceSummary(NamedTuple):
    """One occurrence as listings see it: the few fields of its record's index entry, no detail read."""

    id: str
    """The public id: the record id, plus `-<position>` inside a batch."""
    record_id: str
    position: int
    received_ms: int
    kind: str | None
    level: str | None
    environment: str | None
    issue_id: str | None
    title: str | None
    exception_class: str | None
    action: str | None
    path: str | None
    duration: float | None
    status: int | None
    occurred_at: float | None
    client_id: str | None
    protocol: str | None

    @property
    def received_at(self) -> float:
        return self.received_ms / 1000

    @property
    def is_performance(self) -> bool:
        return self.kind == "performance"
