"""Issues: groups of occurrences, as counted at ingest."""

from __future__ import annotations

from typing import NamedTuple

ISSUE_STATUSES = ("active", "resolved", "muted", "archived")


class Issue(NamedTuple):
    """A group of occurrences within one project and environment, as counted at ingest."""

    id: str
    project_id: str
    environment: str | None
    fingerprint: str | None
    title: str | None
    kind: str | None
    """error, message (performance samples make no issues)."""
    level: str | None
    """Level of the first occurrence."""
    last_level: str | None
    status: str
    status_changed_at: float | None
    total_occurrences: int
    first_seen: float | None
    first_occurrence_id: str | None
    last_seen: float | None
    last_occurrence_id: str | None
    grouping_version: int | None
    grouping_reason: str | None
    exception_class: str | None = None
    platform: str | None = None
    framework: str | None = None
    protocol: str | None = None
