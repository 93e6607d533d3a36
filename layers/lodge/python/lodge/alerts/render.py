"""What each destination receives: Slack incoming-webhook JSON (also Mattermost and Discord's
`/slack` endpoint), Lodge's own JSON for signed webhooks, and a subject and text for email."""

from __future__ import annotations

import time
from typing import Any

from lodge.alerts.model import Alert

HEADLINES = {
    "new_issue": "New issue",
    "regression": "Regression",
    "threshold": "{threshold} occurrences",
    "deploy": "Deploy",
}


def issue_link(base_url: str, alert: Alert) -> str | None:
    if not base_url or alert.issue is None:
        return None
    return f"{base_url.rstrip('/')}/projects/{alert.project_id}/issues/{alert.issue.id}"


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch)) if epoch else "-"


def headline(alert: Alert) -> str:
    return HEADLINES[alert.kind].format(threshold=f"{alert.threshold:,}" if alert.threshold else "")


def title(alert: Alert) -> str:
    if alert.deploy is not None:
        deploy = alert.deploy
        return f"{deploy.environment or 'deploy'} {deploy.revision}".strip()
    return alert.issue.title if alert.issue else ""


def text_lines(alert: Alert, project_name: str, base_url: str) -> list[str]:
    """The facts every destination shows, one per line."""
    lines = [f"[{project_name}] {headline(alert)}: {title(alert)}"]
    if alert.issue is not None:
        issue = alert.issue
        lines.append(f"level {issue.level} | environment {alert.environment} | {issue.count:,} occurrences")
        lines.append(f"first seen {_when(issue.first_seen)} | last seen {_when(issue.last_seen)}")
    if alert.occurrence is not None and alert.occurrence.frames:
        lines.append("top frames:")
        lines.extend(f"  {frame}" for frame in alert.occurrence.frames)
    if alert.deploy is not None:
        deploy = alert.deploy
        lines.append(f"revision {deploy.revision} | by {deploy.user or '-'} | at {_when(deploy.at)}")
        if deploy.comment:
            lines.append(deploy.comment)
    link = issue_link(base_url, alert)
    if link:
        lines.append(link)
    return lines


def _escape_slack(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(alert: Alert, project_name: str, base_url: str) -> dict[str, Any]:
    """`text` alone is what Slack, Mattermost and Discord's Slack-compatible endpoint all render;
    the attachment adds colour and fields where supported."""
    lines = [_escape_slack(line) for line in text_lines(alert, project_name, base_url)]
    link = issue_link(base_url, alert)
    head = f"*{lines[0]}*"
    if link:
        head = f"*<{link}|{lines[0]}>*"
    fields: list[dict[str, Any]] = []
    if alert.issue is not None:
        fields = [
            {"title": "Level", "value": alert.issue.level, "short": True},
            {"title": "Environment", "value": _escape_slack(alert.environment), "short": True},
            {"title": "Occurrences", "value": f"{alert.issue.count:,}", "short": True},
        ]
    colour = {"new_issue": "#d64545", "regression": "#e8912d", "threshold": "#e8c12d", "deploy": "#2d9ee8"}
    return {
        "text": "\n".join([head, *lines[1:]]),
        "attachments": [{"color": colour[alert.kind], "fallback": lines[0], "fields": fields}],
    }


def webhook(alert: Alert, project_name: str, base_url: str) -> dict[str, Any]:
    """Lodge's webhook body: the alert id (a redelivery repeats it), kind, and the summaries."""
    body: dict[str, Any] = {
        "id": alert.id,
        "kind": alert.kind,
        "project": {"id": alert.project_id, "name": project_name},
        "at": alert.at,
        "text": "\n".join(text_lines(alert, project_name, base_url)),
    }
    message = alert.to_message()
    for key in ("issue", "occurrence", "threshold", "deploy"):
        if key in message:
            body[key] = message[key]
    link = issue_link(base_url, alert)
    if link:
        body["url"] = link
    return body


def email(alert: Alert, project_name: str, base_url: str) -> tuple[str, str]:
    lines = text_lines(alert, project_name, base_url)
    return lines[0][:100], "\n".join(lines) + "\n"


def summary_lines(
    project_name: str, folded: int, sample: list[str], window_start: int, window_seconds: int
) -> list[str]:
    lines = [
        f"[{project_name}] {folded:,} more alerts between {_when(window_start)} and "
        f"{_when(window_start + window_seconds)} were folded into this summary (hourly cap reached)"
    ]
    lines.extend(f"  {item}" for item in sample)
    return lines
