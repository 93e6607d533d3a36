"""Floods of one issue contained (docs/storage.md "Floods"; issue 15 point 8).

Beyond a per-issue limit (per project, default 600 occurrences per issue per minute) Lodge stops
storing detail but still answers 200 — so the client does not back off and lose other issues'
reports — and counts what it did not store: the issue shows "N occurrences, M stored".

- The digest (`observe`) knows each issue's rate from its batches. When an issue passes the limit
  in a minute it records the issue in the project's flood state with a 1-in-S sample, S chosen so
  that about `limit` occurrences a minute are still stored.
- The request path (`Gate`, one per container) reads the flood state with the limit on the
  project's settings read (lodge.project_settings: one GetItem with the scrubbing settings, cached;
  amortized ~0 round trips). It reads every VIEW_SECONDS while the state can matter — this container
  stored at least BUSY_SHARE of the limit of the project this minute or the last, or one of its
  issues is in flood — and at the settings' cadence (60 s) otherwise. An occurrence of an issue in flood
  (this minute or the one after the digest saw it) is stored only when its id falls in the sample;
  otherwise no PutItem: it is added to an in-container pending count, flushed with one
  `ADD dr :n` per issue at most once per FLUSH_SECONDS per container, synchronously, in the request
  that crosses the interval or the minute. A container also stops storing an issue by itself once
  it alone stored `limit` of it this minute (a flood the digest has not seen yet); only records it
  actually wrote count (not a duplicate, not a failed write).

The edge, honestly: counts pending in a container that dies are lost (at most FLUSH_SECONDS of
that container's flood), and a client's retry of an occurrence that was not stored is counted
again unless it reaches the same container (which remembers RECENT_DROPPED ids, dropped or stored).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lodge import project_settings
from lodge.storage.errors import StorageError

if TYPE_CHECKING:
    from lodge.occurrence import Occurrence
    from lodge.storage import IssueCount, Store
    from lodge.storage.floods import FloodView

VIEW_SECONDS = project_settings.REFRESH_SECONDS
BUSY_SHARE = 10
"""Busy with a project: this container stored >= limit / BUSY_SHARE of it in the minute (or the last)."""
FLUSH_SECONDS = 1.0
RECENT_DROPPED = 10_000
logger = logging.getLogger(__name__)


def minute_of(epoch_seconds: float) -> int:
    return int(epoch_seconds // 60)


def in_sample(occurrence_id: str, sample: int) -> bool:
    """Deterministic per occurrence id, so a client's retry of a stored one is a duplicate again."""
    if sample <= 1:
        return True
    digest = hashlib.sha256(occurrence_id.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % sample == 0


@dataclass
class Gate:
    """One container's view of its projects' floods, and its pending counts."""

    settings: project_settings.SettingsCache = field(default_factory=project_settings.SettingsCache)
    """The project settings read (flood state with the scrubbing policy), cached per container."""
    stored: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    """(project, issue) -> (minute, occurrences this container stored that minute)."""
    pending: dict[tuple[str, str], int] = field(default_factory=dict)
    recent: OrderedDict[tuple[str, str], None] = field(default_factory=OrderedDict)
    last_flush: float = 0.0
    busy: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    """project -> (minute, occurrences of issues this container stored that minute, and the minute before)."""

    def view(self, store: Store, project_id: str, now: float) -> FloodView:
        """The flood state: read every VIEW_SECONDS while it can matter here, else with the settings."""
        return self.settings.read(store, project_id, now, self._max_age(project_id, now)).flood

    def _max_age(self, project_id: str, now: float) -> float | None:
        current = self.settings.cached(project_id)
        if current is None or current.flood.limit <= 0:
            return None
        minute = minute_of(now)
        if any(entry[0] >= minute - 1 for entry in current.flood.flooding.values()):
            return VIEW_SECONDS  # a flood is on: follow its sample and its end
        seen, count, before = self.busy.get(project_id, (minute, 0, 0))
        recent = max(count, before) if seen == minute else count if seen == minute - 1 else 0
        return VIEW_SECONDS if recent * BUSY_SHARE >= current.flood.limit else None

    def _flooded(self, view: FloodView, project_id: str, occurrence: Occurrence, issue_id: str, minute: int) -> bool:
        entry = view.flooding.get(issue_id)
        in_flood = entry is not None and minute in (entry[0], entry[0] + 1)
        if in_flood and entry is not None and not in_sample(occurrence.occurrence_id, entry[1]):
            return True
        seen_minute, count = self.stored.get((project_id, issue_id), (minute, 0))
        return seen_minute == minute and count >= view.limit

    def admit(
        self,
        store: Store,
        project_id: str,
        occurrences: Sequence[Occurrence],
        issue_ids: Sequence[str | None],
        received_at: float,
    ) -> bool:
        """True: store the request. False: every occurrence is of an issue in flood; they are counted
        (pending), not stored. A request mixing issues is stored whole."""
        view = self.view(store, project_id, received_at)
        minute = minute_of(received_at)
        admitted = True
        if view.limit > 0 and all(issue_ids):
            admitted = not all(
                self._flooded(view, project_id, o, str(g), minute) for o, g in zip(occurrences, issue_ids, strict=True)
            )
        if not admitted:
            for occurrence, issue_id in zip(occurrences, issue_ids, strict=True):
                seen = (project_id, occurrence.occurrence_id)
                if seen in self.recent:
                    continue  # a retry of one this container already counted or stored
                self._remember(seen)
                key = (project_id, str(issue_id))
                self.pending[key] = self.pending.get(key, 0) + 1
        self.flush(store, received_at)
        return admitted

    def stored_record(
        self, project_id: str, occurrences: Sequence[Occurrence], issue_ids: Sequence[str | None], received_at: float
    ) -> None:
        """A record of these occurrences was written (not a duplicate): the container's own count. Their
        ids are remembered with the dropped ones, so a retry of one, refused by the cap, is not counted."""
        minute = minute_of(received_at)
        of_issues = sum(1 for issue_id in issue_ids if issue_id is not None)  # only those can flood
        seen, count, before = self.busy.get(project_id, (minute, 0, 0))
        if seen == minute:
            self.busy[project_id] = (minute, count + of_issues, before)
        else:
            self.busy[project_id] = (minute, of_issues, count if seen == minute - 1 else 0)
        for occurrence, issue_id in zip(occurrences, issue_ids, strict=True):
            self._remember((project_id, occurrence.occurrence_id))
            if issue_id is not None:
                key = (project_id, issue_id)
                seen_minute, count = self.stored.get(key, (minute, 0))
                self.stored[key] = (minute, count + 1 if seen_minute == minute else 1)

    def _remember(self, seen: tuple[str, str]) -> None:
        self.recent[seen] = None
        if len(self.recent) > RECENT_DROPPED:
            self.recent.popitem(last=False)

    def flush(self, store: Store, now: float, force: bool = False) -> int:
        """Write the pending counts when FLUSH_SECONDS passed or a minute ended; returns how many
        issues were written. A failed write keeps its count pending (the next flush retries)."""
        if not self.pending:
            return 0
        due = now - self.last_flush >= FLUSH_SECONDS or minute_of(now) != minute_of(self.last_flush)
        if not (due or force):
            return 0
        self.last_flush = now
        written = 0
        for key, count in list(self.pending.items()):
            try:
                store.add_dropped(key[0], key[1], count)
            except StorageError:
                logger.warning("flood count not written yet; kept for the next flush", extra={"issue": key[1]})
                continue
            self.pending[key] -= count
            if not self.pending[key]:
                del self.pending[key]
            written += 1
        return written


GATE = Gate(settings=project_settings.CACHE)
"""The container's gate (module state lives as long as the warm container); its settings cache is
the one the scrubbing step reads, so a request reads the project's settings item once."""


# ---- the digest's side ------------------------------------------------------------------------

LIMIT_SECONDS = 60.0
_limits: dict[str, tuple[float, int]] = {}
_marked: set[tuple[str, str, int]] = set()


def _limit(store: Store, project_id: str) -> int:
    now = time.monotonic()
    cached = _limits.get(project_id)
    if cached and cached[0] > now:
        return cached[1]
    limit = store.flood_limit(project_id)
    _limits[project_id] = (now + LIMIT_SECONDS, limit)
    return limit


def clear_cache() -> None:
    _limits.clear()
    _marked.clear()
    GATE.settings.clear()
    GATE.stored.clear()
    GATE.pending.clear()
    GATE.recent.clear()
    GATE.busy.clear()
    GATE.last_flush = 0.0


def observe(store: Store, project_id: str, count: IssueCount, newest_ms: int, in_minute: int) -> bool:
    """After a count: is the issue over its limit this minute? Then record the flood (once per
    issue and minute per container). `newest_ms`: the newest receive time among the batch's
    occurrences of the issue; `in_minute`: how many of them fall in that minute. True: marked.

    The rate window (`Issue.rate_window`) starts lazily: only when the issue's total since the
    window began reaches the limit, so an ordinary issue costs no write here."""
    issue = count.issue
    if not count.applied or issue is None:
        return False
    limit = _limit(store, project_id)
    if limit <= 0:
        return False
    minute = minute_of(newest_ms / 1000)
    total = issue.total_occurrences
    window_minute, window_start = issue.rate_window or (None, 0)
    if total - window_start < limit:
        return False
    if window_minute is None or minute > window_minute:
        window_start = total - in_minute
        if not store.move_rate_window(project_id, issue.id, minute, window_start, window_minute):
            return False  # another digest moved it: it decides for this minute
    elif minute < window_minute:
        return False  # late records of an earlier minute
    this_minute = total - window_start
    if this_minute < limit or (project_id, issue.id, minute) in _marked:
        return False
    # Project this minute's rate from how far into it the newest occurrence is, and sample so
    # that about `limit` a minute are still stored.
    elapsed = max(1.0, (newest_ms / 1000) % 60)
    projected = this_minute * 60 / elapsed
    sample = max(2, math.ceil(projected / limit))
    store.mark_flooding(project_id, issue.id, minute, sample)
    _marked.add((project_id, issue.id, minute))
    if len(_marked) > 10_000:
        _marked.clear()
    return True
