"""Issue status decisions: pure functions, no storage, so the request-path counter update and a
future stream digest make the same decision (docs/triage.md).

Statuses: active, resolved (optionally in a version), muted (forever, until a time, or until N
more occurrences), archived. A new occurrence can only ever move an issue back to `active`:

- resolved → active and *regressed*, unless the issue was resolved in a version and the
  occurrence comes from an older one (`reopens_resolved`);
- muted → active once the mute's condition has ended (time passed, or more than N occurrences);
- archived stays archived (it keeps counting; archiving means "never show this again").
"""

from __future__ import annotations

import re
from typing import NamedTuple

ACTIVE, RESOLVED, MUTED, ARCHIVED = "active", "resolved", "muted", "archived"
STATUSES = (ACTIVE, RESOLVED, MUTED, ARCHIVED)
HISTORY_LIMIT = 5
"""Status changes kept on the issue (the newest last): enough to explain "why is it active again",
small enough that the issue item stays well below 1 KB, i.e. its counter update stays 1 write unit."""
MAX_VERSION_LENGTH = 40
"""Rollbar's `code_version` limit; a resolved-in version is one of those."""

_INTEGER = re.compile(r"^[0-9]{1,18}$")
_SEMVER = re.compile(r"^v?([0-9]{1,9})(?:\.([0-9]{1,9}))?(?:\.([0-9]{1,9}))?(?:[.+-].*)?$")


class TriageState(NamedTuple):
    """The status fields of an issue right after an occurrence was counted into it."""

    status: str
    total: int
    """Occurrences counted, this request's included."""
    resolved_in_version: str | None = None
    resolved_seen_version: str | None = None
    """The code version last seen when it was resolved: an occurrence from it is old code still running."""
    muted_until: float | None = None
    muted_until_total: int | None = None
    """Stays muted while `total` is at most this (the total at mute time plus N)."""


class Transition(NamedTuple):
    """What a new occurrence does to an issue's status (None from `after_occurrence`: nothing)."""

    previous: str
    regressed: bool
    reason: str


def _version_key(version: str) -> tuple[str, tuple[int, ...]] | None:
    """An orderable key: ("int", n) or ("semver", (major, minor, patch)); None for a git sha etc.

    Rollbar reads at most three semver parts and ignores the rest ("1.2.3.4" is 1.2.3).
    """
    if _INTEGER.match(version):
        return ("int", (int(version),))
    match = _SEMVER.match(version)
    if match and "." in version:
        return ("semver", tuple(int(part or 0) for part in match.groups()))
    return None


def reopens_resolved(resolved_in: str | None, seen_at_resolve: str | None, occurrence_version: str | None) -> bool:
    """Does an occurrence from `occurrence_version` reopen an issue resolved in `resolved_in`?

    Without a resolved-in version, or without the occurrence's version, every occurrence does (an
    error that is back must not stay hidden). Integers and semver compare in order: that version
    or later reopens, an older one is old code still running. Anything else (a git sha) cannot be
    ordered: the resolved version itself reopens, the version that was live when it was resolved
    does not, and any other version does.
    """
    if not resolved_in or not occurrence_version:
        return True
    fixed, seen = _version_key(resolved_in), _version_key(occurrence_version)
    if fixed is not None and seen is not None and fixed[0] == seen[0]:
        return seen[1] >= fixed[1]
    if occurrence_version == resolved_in:
        return True
    return occurrence_version != seen_at_resolve


def after_occurrence(state: TriageState, occurrence_version: str | None, now: float) -> Transition | None:
    """The status change a new occurrence causes, or None (the common case: stays as it is)."""
    if state.status == RESOLVED:
        if reopens_resolved(state.resolved_in_version, state.resolved_seen_version, occurrence_version):
            return Transition(RESOLVED, True, "occurrence after resolve")
        return None
    if state.status == MUTED:
        if state.muted_until is not None and now >= state.muted_until:
            return Transition(MUTED, False, "mute expired")
        if state.muted_until_total is not None and state.total > state.muted_until_total:
            return Transition(MUTED, False, "mute count reached")
    return None


def valid_version(value: object) -> str | None:
    """A resolved-in version as Rollbar takes it: a non-empty string (or integer) of ≤ 40 characters."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_VERSION_LENGTH:
        return None
    return value.strip()
