"""Markers: one shape for deploys, custom markers and announces."""

from __future__ import annotations

from typing import NamedTuple

MARKER_KINDS = ("deploy", "custom", "announce")


class Marker(NamedTuple):
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


class MarkerChanges(NamedTuple):
    """A later update of a marker (Rollbar's PATCH of a deploy)."""

    status: str | None = None
    comment: str | None = None
    finished: float | None = None
