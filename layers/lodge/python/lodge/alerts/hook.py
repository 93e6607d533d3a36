"""Where the write path meets alerts: two calls that never raise and do no I/O unless an alert is due.

`counted` runs after the issue-counting write (today lodge.ingest after Store.count_issues; the
stream digest later, with the same IssueCounts), `marker_stored` after a deploy marker is stored
(lodge.queries.markers.add_marker, the one place markers are created).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from lodge.alerts.decide import CountedWrite, alerts_due, deploy_alert
from lodge.alerts.handoff import hand_off
from lodge.alerts.model import TOP_FRAMES, Alert, DeploySummary, IssueSummary, OccurrenceSummary

if TYPE_CHECKING:
    from lodge.models.markers import Marker
    from lodge.occurrence import Occurrence
    from lodge.storage import GroupDelta, IssueCount

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


def counted_write(project_id: str, delta: GroupDelta, count: IssueCount) -> CountedWrite:
    """What one issue-counting write knows: the delta, and what the count did to the issue."""
    first, last, stored = delta.first, delta.last, count.issue
    issue = IssueSummary(
        id=count.issue_id,
        title=str((stored and stored.title) or delta.grouping.title),
        level=str((stored and stored.level) or first.level),
        environment=str((stored and stored.environment) or first.environment),
        count=count.new_count,
        first_seen=float((stored and stored.first_seen) or round(first.effective_time, 3)),
        last_seen=round(last.effective_time, 3),
        status=(stored and stored.status) or "active",
    )
    occurrence = occurrence_summary(last, delta.last_ref)
    return CountedWrite(project_id, issue, occurrence, count.old_count, count.created, regressed=count.regressed)


def counted(project_id: str, deltas: Sequence[GroupDelta], counts: Sequence[IssueCount]) -> int:
    """Decide and hand off the alerts of one request's issue counts; returns how many were queued."""
    try:
        due: list[Alert] = []
        for delta, count in zip(deltas, counts, strict=True):
            due.extend(alerts_due(counted_write(project_id, delta, count)))
        return hand_off(due) if due else 0
    except Exception:
        log.exception("alert decision failed for project %s", project_id)
        return 0


def marker_stored(project_id: str, marker: Marker) -> int:
    """A deploy alert for a stored deploy marker (custom markers and announces alert nobody)."""
    if marker.kind != "deploy":
        return 0
    try:
        deploy = DeploySummary(
            id=str(marker.id),
            environment=marker.environment or "",
            revision=marker.revision or "",
            user=marker.who or "",
            comment=(marker.comment or "")[:1000],
            at=float(marker.created or 0),
        )
        return hand_off([deploy_alert(project_id, deploy)])
    except Exception:
        log.exception("deploy alert failed for project %s", project_id)
        return 0
