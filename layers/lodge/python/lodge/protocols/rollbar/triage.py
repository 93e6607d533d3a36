"""Rollbar triage: `PATCH /api/1/item/{id}` (status, resolved_in_version, level, title, snooze), with
a `write`-scope token (docs/protocols/rollbar.md, docs/triage.md).

Body fields, as Rollbar's API clients send them (JSON): `status` (active, resolved, muted,
archived), `resolved_in_version` (with `resolved`), `level`, `title`, `snooze_enabled` +
`snooze_expiration_in_seconds` (mute for a while). Lodge adds `mute_occurrences` (mute until that
many more occurrences came). Assignment fields are not supported (422), as is any unknown field,
so a typo never silently does nothing.
"""

from __future__ import annotations

import time
from typing import Any

from lodge import auth, http, triage
from lodge.http import Request
from lodge.models.issues import IssueChange
from lodge.occurrence import LEVELS
from lodge.protocols.rollbar.answers import fail, storage
from lodge.protocols.rollbar.auth import authorize_read
from lodge.protocols.rollbar.objects import item_object
from lodge.protocols.rollbar.read_api import ITEM_NOT_FOUND, valid_item_id
from lodge.storage import Store

MAX_BODY = 64 * 1024
MAX_TITLE = 255
MAX_MUTE_SECONDS = 10 * 365 * 86400
MAX_MUTE_OCCURRENCES = 10**9
FIELDS = frozenset(
    {
        "status",
        "resolved_in_version",
        "level",
        "title",
        "snooze_enabled",
        "snooze_expiration_in_seconds",
        "mute_occurrences",
    }
)


def _body(request: Request) -> dict[str, Any]:
    raw = request.body(MAX_BODY)
    try:
        fields = http.loads(raw) if raw.strip() else {}
    except ValueError:
        raise fail(400, "request body is not valid JSON") from None
    if not isinstance(fields, dict):
        raise fail(400, "request body must be a JSON object")
    return fields


def _positive_int(value: Any, name: str, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= limit:
        raise fail(422, f"'{name}' must be a positive integer of at most {limit}")
    return value


def parse_change(fields: dict[str, Any], by: str, now: float) -> IssueChange:
    """The change a PATCH body asks for; 422 for anything Lodge cannot do as asked."""
    unknown = sorted(set(fields) - FIELDS)
    if unknown:
        raise fail(422, f"Unsupported field: {unknown[0]}")
    status = fields.get("status")
    if status is not None and status not in triage.STATUSES:
        raise fail(422, f"Invalid status: must be one of {', '.join(triage.STATUSES)}")
    level = fields.get("level")
    if level is not None and level not in LEVELS:
        raise fail(422, f"Invalid level: must be one of {', '.join(LEVELS)}")
    title = fields.get("title")
    if title is not None and (not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE):
        raise fail(422, f"'title' must be a non-empty string of at most {MAX_TITLE} characters")
    version = None
    if fields.get("resolved_in_version") is not None:
        version = triage.valid_version(fields["resolved_in_version"])
        if version is None:
            raise fail(422, f"'resolved_in_version' must be a string of at most {triage.MAX_VERSION_LENGTH} characters")
        if status not in (None, triage.RESOLVED):
            raise fail(422, "'resolved_in_version' goes with status 'resolved'")
        status = triage.RESOLVED
    muted_until = None
    mute_occurrences = None
    if fields.get("snooze_enabled") is True:
        seconds = _positive_int(
            fields.get("snooze_expiration_in_seconds"), "snooze_expiration_in_seconds", MAX_MUTE_SECONDS
        )
        muted_until = now + seconds
    if fields.get("mute_occurrences") is not None:
        mute_occurrences = _positive_int(fields["mute_occurrences"], "mute_occurrences", MAX_MUTE_OCCURRENCES)
    if muted_until is not None or mute_occurrences is not None:
        if status not in (None, triage.MUTED):
            raise fail(422, "a snooze or 'mute_occurrences' goes with status 'muted'")
        status = triage.MUTED
    if status is None and level is None and title is None:
        raise fail(422, "nothing to change: send status, resolved_in_version, level or title")
    return IssueChange(
        by=by,
        status=status,
        resolved_in_version=version,
        muted_until=muted_until,
        mute_occurrences=mute_occurrences,
        level=level,
        title=title.strip() if isinstance(title, str) else None,
    )


def patch_item(request: Request, store: Store, item_id: str) -> dict[str, Any]:
    info = authorize_read(request, store, auth.WRITE)
    change = parse_change(_body(request), info.label or info.kind, time.time())
    if not valid_item_id(item_id):
        raise fail(404, ITEM_NOT_FOUND)
    with storage("change the item"):
        issue = store.change_issue(info.project_id, item_id, change)
    if issue is None:
        raise fail(404, ITEM_NOT_FOUND)
    return item_object(issue)
