"""The pure decision: what the counting write knows in, the alerts due out. No I/O."""

from __future__ import annotations

from dataclasses import dataclass

from lodge.alerts.model import Alert, DeploySummary, IssueSummary, OccurrenceSummary, alert_id


@dataclass
class CountedWrite:
    """What one issue-counting write learned."""

    project_id: str
    issue: IssueSummary
    """The issue after the write (count is the new total)."""
    occurrence: OccurrenceSummary
    count_before: int
    created: bool
    regressed: bool = False
    """A resolved issue reopened by this write (issue 10 sets it)."""


def crossed_power_of_ten(before: int, after: int) -> int | None:
    """The largest 10ⁿ (n ≥ 1) with before < 10ⁿ ≤ after: 10, 100, 1000... One alert per write,
    even when a batch jumps past two powers at once."""
    crossed = None
    power = 10
    while power <= after:
        if power > before:
            crossed = power
        power *= 10
    return crossed


def alerts_due(write: CountedWrite) -> list[Alert]:
    """New issue, regression and 10ⁿ alerts for this write (rules are matched at delivery)."""
    project, issue, occurrence = write.project_id, write.issue, write.occurrence
    due: list[Alert] = []
    if write.created:
        # One id per issue, ever: the delivery claim on it makes "new issue" at most once.
        due.append(
            Alert(alert_id(project, "new_issue", issue.id), "new_issue", project, occurrence.at, issue, occurrence)
        )
    elif write.regressed:
        due.append(
            Alert(
                alert_id(project, "regression", issue.id, occurrence.id),
                "regression",
                project,
                occurrence.at,
                issue,
                occurrence,
            )
        )
    threshold = crossed_power_of_ten(write.count_before, issue.count)
    if threshold is not None:
        due.append(
            Alert(
                alert_id(project, "threshold", issue.id, str(threshold)),
                "threshold",
                project,
                occurrence.at,
                issue,
                occurrence,
                threshold=threshold,
            )
        )
    return due


def deploy_alert(project_id: str, deploy: DeploySummary) -> Alert:
    return Alert(alert_id(project_id, "deploy", deploy.id), "deploy", project_id, deploy.at, deploy=deploy)
