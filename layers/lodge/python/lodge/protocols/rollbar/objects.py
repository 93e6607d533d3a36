"""Lodge's read models as Rollbar's objects: an `Issue` as an item, a stored occurrence as an
instance and its `data` (what a Rollbar client sent, given back; a faithful rendering for the
other protocols' occurrences). The read API and triage answer with these."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lodge.models.issues import Issue

INSTANCE_VERSION = 2
"""Rollbar's `version` of an instance is the item API version its payload was written for."""


def _seconds(value: float | None) -> int | None:
    return int(value) if value is not None else None


def _last_change(issue: Issue, status: str) -> int | None:
    times = [change.at for change in issue.history if change.status == status]
    if not times and issue.status == status:
        return _seconds(issue.status_changed_at)
    return _seconds(max(times)) if times else None


def item_object(issue: Issue) -> dict[str, Any]:
    """An issue as Rollbar's item object (field set of Rollbar's documented example, plus Lodge's
    triage fields: `regressed`, `muted_until`, `status_history`)."""
    status = issue.status
    first_ts = _seconds(issue.first_seen)
    activated = _last_change(issue, "active")
    regression = issue.regression
    return {
        "id": issue.id,
        "project_id": issue.project_id,
        "counter": issue.counter,
        "environment": issue.environment,
        "platform": issue.platform or "unknown",
        "framework": issue.framework or "unknown",
        "hash": issue.fingerprint,
        "title": issue.title,
        "level": issue.level,
        "last_occurrence_level": issue.last_level,
        "status": status,
        "total_occurrences": issue.total_occurrences,
        "unique_occurrences": None,
        "first_occurrence_id": issue.first_occurrence_id,
        "first_occurrence_timestamp": first_ts,
        "activating_occurrence_id": regression.occurrence_id if regression else issue.first_occurrence_id,
        "last_activated_timestamp": activated if activated is not None else first_ts,
        "last_resolved_timestamp": _last_change(issue, "resolved"),
        "last_muted_timestamp": _last_change(issue, "muted"),
        "last_occurrence_id": issue.last_occurrence_id,
        "last_occurrence_timestamp": _seconds(issue.last_seen),
        "last_modified_by": issue.status_changed_by,
        "assigned_user_id": None,
        "assigned_team_id": None,
        "integrations_data": None,
        "group_item_id": None,
        "group_status": 1,
        "level_lock": 0,
        "title_lock": 0,
        "resolved_in_version": issue.resolved_in_version,
        "public_item_id": None,
        "controlling_id": issue.id,
        "exception_class": issue.exception_class,
        "protocol": issue.protocol,
        "grouping_reason": issue.grouping_reason,
        "regressed": regression is not None,
        "regression": (
            {
                "timestamp": _seconds(regression.at),
                "occurrence_id": regression.occurrence_id,
                "code_version": regression.code_version,
            }
            if regression
            else None
        ),
        "muted_until": _seconds(issue.muted_until),
        "muted_until_total_occurrences": issue.muted_until_total,
        "status_history": [
            {
                "status": change.status,
                "previous_status": change.previous,
                "timestamp": _seconds(change.at),
                "by": change.by,
                "resolved_in_version": change.resolved_in_version,
                "reason": change.reason,
            }
            for change in issue.history
        ],
    }


def instance_object(project_id: str, instance_id: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": instance_id,
        "project_id": project_id,
        "item_id": detail.get("group_id"),
        "timestamp": int(detail.get("received_at", 0)),
        "version": INSTANCE_VERSION,
        "data": to_rollbar_data(detail),
    }


def _frame_out(frame: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in frame.items() if not k.startswith("_") and k not in ("context_pre", "context_post")}
    for key in ("lineno", "colno", "locals", "context"):
        if f"_{key}" in frame:
            out[key] = frame[f"_{key}"]
    if "context_pre" in frame or "context_post" in frame:
        context = dict(out.get("context") or {}) if isinstance(out.get("context"), dict) else {}
        if "context_pre" in frame:
            context["pre"] = frame["context_pre"]
        if "context_post" in frame:
            context["post"] = frame["context_post"]
        out["context"] = context
    return out


def _trace_out(exception: Mapping[str, Any]) -> dict[str, Any]:
    exc = {k: v for k, v in exception.items() if k not in ("type", "frames") and not k.startswith("_")}
    exc = {"class": exception.get("type"), **exc}
    trace = {"frames": [_frame_out(f) for f in exception.get("frames", [])], "exception": exc}
    trace.update(exception.get("_trace") or {})
    return trace


def to_rollbar_data(detail: Mapping[str, Any]) -> dict[str, Any]:
    """A stored occurrence (any protocol) as Rollbar's `data` object: what the client sent, for Rollbar
    occurrences (unknown keys restored from `extra`), a faithful rendering for the others."""
    extra = dict(detail.get("extra") or {})
    body_rest = dict(extra.pop("_body", None) or {})
    data: dict[str, Any] = {}
    for key in ("environment", "level", "language", "framework", "platform", "code_version", "context"):
        if detail.get(key) is not None:
            data[key] = detail[key]
    if detail.get("timestamp") is not None:
        data["timestamp"] = int(detail["timestamp"]) if float(detail["timestamp"]).is_integer() else detail["timestamp"]
    data["uuid"] = detail.get("client_id")
    exceptions = detail.get("exceptions") or []
    body: dict[str, Any] = {}
    if len(exceptions) == 1 and isinstance(exceptions[0].get("_crash_report"), dict):
        body["crash_report"] = exceptions[0]["_crash_report"]
    elif len(exceptions) == 1 and not body_rest.pop("_trace_chain", False):
        body["trace"] = _trace_out(exceptions[0])
    elif exceptions:
        body["trace_chain"] = [_trace_out(e) for e in exceptions]
    else:
        message_fields = dict(body_rest.pop("message", None) or {})
        original = message_fields.pop("_body", None)
        body["message"] = {"body": original if original is not None else detail.get("message") or "", **message_fields}
    body.update(body_rest)
    data["body"] = body
    for key in ("request", "person", "server", "client", "custom", "notifier"):
        value = detail.get(key)
        if value is not None:
            if isinstance(value, dict) and "_invalid" in value:
                value = {**{k: v for k, v in value.items() if k != "_invalid"}, **value["_invalid"]}
            data[key] = value
    for key in ("fingerprint", "title"):
        if detail.get(key) is not None:
            data[key] = detail[key]
    if detail.get("protocol") in (None, "rollbar"):
        data.update(extra)  # Rollbar's own unknown keys, given back where the client sent them
    else:
        # Another protocol's leftovers must not replace the Rollbar fields mapped above (a CrashLog
        # `context` object is not Rollbar's context string): clashing keys go under its name.
        for key, value in extra.items():
            if key in data:
                data.setdefault(str(detail["protocol"]), {})[key] = value
            else:
                data[key] = value
    return data
