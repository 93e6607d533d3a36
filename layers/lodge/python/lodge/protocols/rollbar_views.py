"""Rollbar read API (docs/protocols/rollbar.md): items (Lodge groups) and instances (occurrences), Rollbar-shaped.

Ids: Rollbar's item and instance ids are integers; Lodge's are opaque hex strings (a group id and
an occurrence id), returned as strings. Every lookup is scoped to the token's project, so another
project's ids are simply not found (404), never readable.

Auth: the `read` scope, token in `X-Rollbar-Access-Token` or the deprecated `?access_token=`.
As on the item endpoint (see lodge.protocols.rollbar) token problems are 403, never 401 — Rollbar's
table documents 403 for a token that is "missing, invalid, or does not have the necessary permissions".
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from lodge import auth
from lodge.http import Request
from lodge.ids import occurrence_id_for
from lodge.models.issues import ISSUE_STATUSES, Issue
from lodge.occurrence import LEVELS
from lodge.protocols.rollbar import MAX_UUID, fail, is_latin1, resolve_token, storage, to_rollbar_data
from lodge.queries import issues, occurrences
from lodge.storage import Store, parse_ref

PAGE_SIZE = 100
MAX_PAGE_DIGITS = 9
READ_FAILED = "read from storage"
STATUSES = ISSUE_STATUSES
INSTANCE_VERSION = 2
"""Rollbar's `version` of an instance is the item API version its payload was written for."""
_GROUP_ID = re.compile(r"^[0-9a-f]{1,64}$")


def authorize_read(request: Request, store: Store) -> auth.TokenInfo:
    token = request.header("x-rollbar-access-token").strip() or request.query.get("access_token", "").strip()
    if not token:
        raise fail(403, "access token is missing; send it in the X-Rollbar-Access-Token header")
    info = resolve_token(store, token)
    if not info.allows(auth.READ):
        scopes = ", ".join(sorted(info.scopes)) or "no scopes"
        raise fail(403, f"insufficient privileges: read scope is required but the access token only has {scopes}.")
    return info


def _seconds(value: float | None) -> int | None:
    return int(value) if value is not None else None


def item_object(issue: Issue) -> dict[str, Any]:
    """An issue as Rollbar's item object (field set of Rollbar's documented example)."""
    status = issue.status
    changed = _seconds(issue.status_changed_at)
    first_ts = _seconds(issue.first_seen)
    return {
        "id": issue.id,
        "project_id": issue.project_id,
        "counter": None,
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
        "activating_occurrence_id": issue.first_occurrence_id,
        "last_activated_timestamp": first_ts,
        "last_resolved_timestamp": changed if status == "resolved" else None,
        "last_muted_timestamp": changed if status == "muted" else None,
        "last_occurrence_id": issue.last_occurrence_id,
        "last_occurrence_timestamp": _seconds(issue.last_seen),
        "last_modified_by": None,
        "assigned_user_id": None,
        "assigned_team_id": None,
        "integrations_data": None,
        "group_item_id": None,
        "group_status": 1,
        "level_lock": 0,
        "title_lock": 0,
        "resolved_in_version": None,
        "public_item_id": None,
        "controlling_id": issue.id,
        "exception_class": issue.exception_class,
        "protocol": issue.protocol,
        "grouping_reason": issue.grouping_reason,
    }


def item_by_uuid(store: Store, project_id: str, uuid: str | None) -> dict[str, Any]:
    """`GET /api/1/item/?uuid=`: the item an occurrence belongs to.

    Rollbar uuids are opaque latin1 strings of at most 36 characters (the ingest endpoint rejects
    anything else), so only an empty, longer or non-latin1 value is "Invalid UUID format"; any other
    string is looked up and is 404 when unknown.
    """
    if not uuid or len(uuid) > MAX_UUID or not is_latin1(uuid):
        raise fail(400, "Invalid UUID format")
    with storage(READ_FAILED):
        issue = issues.issue_of_occurrence(store, project_id, occurrence_id_for("rollbar", uuid))
    if issue is None:
        raise fail(404, "UUID did not match any occurrence")
    return item_object(issue)


def item_by_id(store: Store, project_id: str, item_id: str) -> dict[str, Any]:
    with storage(READ_FAILED):
        issue = issues.issue(store, project_id, item_id) if _GROUP_ID.match(item_id or "") else None
    if issue is None:
        raise fail(404, "Item not found in this project.")
    return item_object(issue)


def _multi(raw_query: str, name: str) -> set[str]:
    """A repeatable parameter; repeated keys and comma-separated values both count."""
    values: set[str] = set()
    for key, value in parse_qsl(raw_query, keep_blank_values=False):
        if key == name:
            values.update(v.strip() for v in value.split(",") if v.strip())
    return values


def _page(raw: str | None) -> int:
    """ASCII digits only: isdigit() also takes "²" (int() fails on it) and Arabic-Indic digits (a 2nd spelling)."""
    if raw is None or raw == "":
        return 1
    digits = raw.lstrip("0")
    if not (raw.isascii() and raw.isdigit()) or not digits:
        raise fail(400, "page must be a positive integer")
    if len(digits) > MAX_PAGE_DIGITS:  # int() refuses > 4300 digits; no listing is this long
        raise fail(400, "page is out of range")
    return int(digits)


def list_items(store: Store, project_id: str, raw_query: str) -> dict[str, Any]:
    """`GET /api/1/items/`: newest last occurrence first, 100 a page, filtered like Rollbar."""
    query = dict(parse_qsl(raw_query))
    page = _page(query.get("page"))
    environments = _multi(raw_query, "environment")
    levels = _multi(raw_query, "level")
    statuses = _multi(raw_query, "status")
    frameworks = _multi(raw_query, "framework")
    ids = _multi(raw_query, "ids")
    unknown = sorted(levels - set(LEVELS)) or sorted(statuses - set(STATUSES))
    if unknown:
        raise fail(422, f"Invalid filter value: {unknown[0]}")
    where = issues.IssueFilter(environments, levels, statuses, frameworks, ids)
    with storage(READ_FAILED):
        found = issues.list_issues(store, project_id, where, page, PAGE_SIZE)
    return {
        "page": found.page,
        "total_count": found.total,
        "pages": found.pages,
        "items": [item_object(issue) for issue in found.issues],
    }


def instance(store: Store, project_id: str, instance_id: str) -> dict[str, Any]:
    """`GET /api/1/instance/{id}`: one occurrence with its full stored payload (S3 when offloaded).

    `timestamp` is the Unix time in seconds Lodge received it (Rollbar's docs say ms but its fixtures
    show seconds; seconds match every other Rollbar timestamp).
    """
    try:
        parse_ref(instance_id)
    except KeyError:
        raise fail(404, "Instance not found in this project.") from None
    with storage(READ_FAILED):
        detail = occurrences.occurrence(store, project_id, instance_id)
    if detail is None:
        raise fail(404, "Instance not found in this project.")
    return {
        "id": instance_id,
        "project_id": project_id,
        "item_id": detail.get("group_id"),
        "timestamp": int(detail.get("received_at", 0)),
        "version": INSTANCE_VERSION,
        "data": to_rollbar_data(detail),
    }
