"""Issues: groups of occurrences, as counted at ingest."""

from __future__ import annotations

from typing import NamedTuple

ISSUE_STATUSES = ("active", "resolved", "muted", "archived")


class StatusChange(NamedTuple):
    """One change of an issue's status: who (the token's label, or "lodge" for a regression), when, from what."""

    status: str
    previous: str
    at: float
    by: str
    resolved_in_version: str | None = None
    reason: str | None = None


class Regression(NamedTuple):
    """A resolved issue that came back: when, by which occurrence, from which code version."""

    at: float
    occurrence_id: str | None
    code_version: str | None


class IssueChange(NamedTuple):
    """What a triage request changes (None: leave as it is)."""

    by: str
    status: str | None = None
    resolved_in_version: str | None = None
    muted_until: float | None = None
    """Mute until this Unix time."""
    mute_occurrences: int | None = None
    """Mute until this many more occurrences have come (the next one reopens it)."""
    level: str | None = None
    title: str | None = None


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
    counter: int | None = None
    """Per-project number, 1, 2, 3... in the order issues were first listed (Rollbar's item counter)."""
    resolved_in_version: str | None = None
    muted_until: float | None = None
    muted_until_total: int | None = None
    status_changed_by: str | None = None
    previous_status: str | None = None
    regression: Regression | None = None
    """Set when a resolved issue came back (kept until it is resolved again)."""
    history: tuple[StatusChange, ...] = ()
    last_code_version: str | None = None
    # ---- floods of one issue (issue 15 point 8; lodge.flood) ----
    dropped_occurrences: int = 0
    """Occurrences counted in `total_occurrences` whose detail was not stored (over the flood limit)."""
    rate_window: tuple[int, int] | None = None
    """The digest's flood detection: (minute its rate window began, the issue's total then)."""

    @property
    def stored_occurrences(self) -> int:
        """Occurrences stored in full ("N occurrences, M stored": N is total_occurrences)."""
        return self.total_occurrences - self.dropped_occurrences
