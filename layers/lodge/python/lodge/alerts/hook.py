"""Where the write path meets alerts: two calls that never raise and do no I/O unless an alert is due.

`counted` runs after the issue-counting write (today lodge.ingest after Store.bump_groups; the
stream digest later), `marker_stored` after a deploy/announce marker is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lodge.alerts.decide import CountedWrite, alerts_due, deploy_alert
from lodge.alerts.handoff import hand_off
from lodge.alerts.model import TOP_FRAMES, Alert, DeploySummary, IssueSummary, OccurrenceSummary

if TYPE_CHECKING:
    from lodge.occurrence import Occurrence
    from lodge.store import GroupDelta

log = logging.getLogger(__name__)


def top_frames(occurrence: Occurrence) -> list[str]:
    """The reported exception's innermost frames first (clients list them outermost first)."""
    if not occurrence.exceptions:
        return []
    frames = occurrence.exceptions[0].frames[-TOP_FRAMES:][::-1]
    return [f"{f.filename or '?'}:{f.lineno if f.lineno is not None else '?'} in {f.method or '?'}" for f in frames]


def occurrence_summary(occurrence: Occurrence, ref: str) -> OccurrenceSummary:
    return OccurrenceSummary(
        id=ref,
        environment=occurrence.environment,
        level=occurrence.level,
        title=occurrence.default_title(),
        at=round(occurrence.effective_time, 3),
        frames=top_frames(occurrence),
    )


def counted_write(project_id: str, delta: GroupDelta, before: dict[str, Any]) -> CountedWrite:
    """What one group write knows: the delta, and the group's attributes before it (empty: created)."""
    created = "cnt" not in before
    first, last = delta.first, delta.last
    count_before = int(before.get("cnt", 0))
    issue = IssueSummary(
        id=delta.grouping.group_id,
        title=str(before.get("title") or delta.grouping.title),
        level=str(before.get("lvl") or first.level),
        environment=str(before.get("env") or first.environment),
        count=count_before + delta.count,
        first_seen=float(before.get("fs") or round(first.effective_time, 3)),
        last_seen=round(last.effective_time, 3),
        status=str(before.get("st") or "active"),
    )
    # Regressions (a resolved issue reopened by this write) come with issue 10's status change.
    return CountedWrite(project_id, issue, occurrence_summary(last, delta.last_ref), count_before, created)


def counted(project_id: str, deltas: Sequence[GroupDelta], befores: Sequence[dict[str, Any]]) -> int:
    """Decide and hand off the alerts of one request's group writes; returns how many were queued."""
    try:
        due: list[Alert] = []
        for delta, before in zip(deltas, befores, strict=False):
            due.extend(alerts_due(counted_write(project_id, delta, before)))
        return hand_off(due) if due else 0
    except Exception:
        log.exception("alert decision failed for project %s", project_id)
        return 0


def marker_stored(project_id: str, marker_id: int, marker: dict[str, Any]) -> int:
    try:
        deploy = DeploySummary(
            id=str(marker_id),
            environment=str(marker.get("environment") or marker.get("env") or ""),
            revision=str(marker.get("revision") or marker.get("version") or ""),
            user=str(marker.get("user") or marker.get("local_username") or ""),
            comment=str(marker.get("comment") or "")[:1000],
            at=float(marker.get("created") or 0),
        )
        return hand_off([deploy_alert(project_id, deploy)])
    except Exception:
        log.exception("deploy alert failed for project %s", project_id)
        return 0
