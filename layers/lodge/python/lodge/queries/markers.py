"""Markers of a project: deploys, custom markers, announces; filtered by kind and time.

`add_marker` is the one place a marker is created (every protocol's deploy, marker and announce
endpoint calls it), so what follows a new marker (the deploy alert) happens once, here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lodge.models.markers import Marker

if TYPE_CHECKING:
    from lodge.storage import Store


def add_marker(store: Store, project_id: str, marker: Marker) -> Marker:
    """Store a new marker and hand off its deploy alert (never fails the request); returns it as stored."""
    from lodge.alerts import hook

    stored = store.add_marker(project_id, marker)
    hook.marker_stored(project_id, stored)
    return stored


def list_markers(
    store: Store,
    project_id: str,
    *,
    kind: Callable[[Marker], bool] | None = None,
    since: float | None = None,
    until: float | None = None,
) -> list[Marker]:
    """Matching markers, newest first (by time, then id); `since`/`until` are inclusive."""
    matching = [
        m
        for m in store.markers(project_id)
        if (kind is None or kind(m))
        and (since is None or (m.created or 0.0) >= since)
        and (until is None or (m.created or 0.0) <= until)
    ]
    matching.sort(key=lambda m: (m.created or 0.0, m.id or 0), reverse=True)
    return matching


def marker(store: Store, project_id: str, marker_id: int) -> Marker | None:
    return store.marker(project_id, marker_id)
