"""What the request path obeys of its project — the scrubbing policy, the per-issue flood limit and
which issues are in flood — read from the project's settings item with one GetItem, cached per
container and project (docs/storage.md "Floods of one issue").

One read for all of it keeps a warm request at one sequential AWS round trip (the record's PutItem):
the read is amortized over the time it is cached, `TOKEN_CACHE_SECONDS` (60 s, like tokens) by
default. The flood gate asks for REFRESH_SECONDS while the state can matter to the container (it is
busy with the project, or a flood of it is on: lodge.flood.Gate.view).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from lodge import scrub
from lodge.config import settings
from lodge.storage.errors import StorageError
from lodge.storage.floods import FloodView

if TYPE_CHECKING:
    from lodge.storage import Store

REFRESH_SECONDS = 5.0
MAX_PROJECTS = 10_000


@dataclass(frozen=True)
class Current:
    policy: scrub.Policy
    flood: FloodView


class SettingsCache:
    """One container's cached settings per project. `now` is the request's clock (its receive time)."""

    def __init__(self) -> None:
        self.entries: dict[str, tuple[float, Current]] = {}

    def read(self, store: Store, project_id: str, now: float, max_age: float | None = None) -> Current:
        """The project's settings, read again when older than `max_age` seconds (None: TOKEN_CACHE_SECONDS)."""
        cached = self.entries.get(project_id)
        age = settings().token_cache_seconds if max_age is None else max_age
        if cached and cached[0] <= now < cached[0] + age:
            return cached[1]
        try:
            found = store.project_settings(project_id)
        except StorageError:
            if cached is None:
                raise  # no policy known: the request is answered 503 (nothing stored unscrubbed)
            return cached[1]  # the last read stands; the next request reads again
        current = Current(scrub.policy_from_config(found.scrub), found.flood)
        if len(self.entries) >= MAX_PROJECTS:
            self.entries.clear()
        self.entries[project_id] = (now, current)
        return current

    def cached(self, project_id: str) -> Current | None:
        entry = self.entries.get(project_id)
        return entry[1] if entry else None

    def clear(self) -> None:
        self.entries.clear()


CACHE = SettingsCache()
"""The container's cache (module state lives as long as the warm container)."""
