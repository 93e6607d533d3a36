"""Markers of a project: deploys, custom markers, announces; filtered by kind and time."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lodge.models.markers import Marker

if TYPE_CHECKING:
    from lodge.storage import Store


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
