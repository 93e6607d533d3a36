"""Read models: what storage gives back to queries and renderers (issues, listings, markers, projects,
credentials). The detail of one occurrence is the `lodge.occurrence.Occurrence` model's JSON form.

Plain dataclasses with slots, not pydantic: the read functions import these at cold start and must
stay cheap. Field names are the model's own words; the abbreviations storage uses for them live only
in `lodge.storage`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ISSUE_STATUSES = ("active", "resolved", "muted", "archived")


@dataclass(slots=True, frozen=True)
class Issue:
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


@dataclass(slots=True, frozen=True)
class OccurrenceSummary:
    """One occurrence as listings see it: the few fields kept on the time index, no detail read."""

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


MARKER_KINDS = ("deploy", "custom", "announce")


@dataclass(slots=True)
class Marker:
    """One shape for every marker: Rollbar deploys, AppSignal deploy and custom markers, CrashLog announces.

    `kind` is deploy, custom or announce; `source` says which API reported it (rollbar, appsignal, api,
    crashlog). Times are Unix seconds.
    """

    kind: str
    source: str | None = None
    id: int | None = None
    created: float | None = None
    """When the marked event happened (as the client says, else when Lodge received it)."""
    received: float | None = None
    finished: float | None = None
    environment: str | None = None
    revision: str | None = None
    repository: str | None = None
    user: str | None = None
    rollbar_username: str | None = None
    local_username: str | None = None
    comment: str | None = None
    status: str | None = None
    hostname: str | None = None
    stage: str | None = None
    notifier: dict[str, str] | str | None = None
    gem_version: str | None = None
    app_name: str | None = None
    icon: str | None = None
    message: str | None = None

    @property
    def who(self) -> str | None:
        """Who deployed, in every renderer the same: the reported user, else a Rollbar username."""
        return self.user or self.local_username or self.rollbar_username


@dataclass(slots=True, frozen=True)
class MarkerChanges:
    """A later update of a marker (Rollbar's PATCH of a deploy)."""

    status: str | None = None
    comment: str | None = None
    finished: float | None = None


@dataclass(slots=True, frozen=True)
class Project:
    id: str
    name: str
    created: int | None = None


@dataclass(slots=True, frozen=True)
class Credential:
    """A stored token: only its hash is kept (the CrashLog secret excepted, HMAC needs it)."""

    token_hash: str
    project_id: str
    kind: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    label: str = ""
    created: int | None = None
    secret: str | None = None
    rate_limit: int | None = None


JSON = dict[str, Any]
"""An occurrence's detail: the JSON form of `lodge.occurrence.Occurrence`."""
