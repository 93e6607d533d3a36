"""Rollbar read API (docs/protocols/rollbar.md): items (Lodge groups) and instances (occurrences), Rollbar-shaped.

Ids: Rollbar's item and instance ids are integers; Lodge's are opaque hex strings (a group id and
an occurrence id), returned as strings. Every lookup is scoped to the token's project, so another
project's ids are simply not found (404), never readable.

Auth: the `read` scope, token in `X-Rollbar-Access-Token` or the deprecated `?access_token=`.
Token problems are 403, never 401 (`lodge.protocols.rollbar.auth.authorize_read`): Rollbar's table
documents 403 for a token that is "missing, invalid, or does not have the necessary permissions".
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from lodge.ids import occurrence_id_for
from lodge.models.issues import ISSUE_STATUSES
from lodge.occurrence import LEVELS
from lodge.protocols.rollbar.answers import fail, storage
from lodge.protocols.rollbar.mapping import MAX_UUID, is_latin1
from lodge.protocols.rollbar.objects import instance_object, item_object
from lodge.queries import issues, occurrences
from lodge.storage import Store, parse_ref

PAGE_SIZE = 100
MAX_PAGE_DIGITS = 9
READ_FAILED = "read from storage"
STATUSES = ISSUE_STATUSES
_GROUP_ID = re.compile(r"^[0-9a-f]{1,64}$")
ITEM_NOT_FOUND = "Item not found in this project."
INSTANCES_PAGE_SIZE = 20
MAX_COUNTER_DIGITS = 12
LIST_FILTERS = frozenset({"page", "status", "level", "environment", "framework", "ids", "q", "query", "access_token"})
"""Rollbar's documented `GET /api/1/items/` parameters, minus assignment and snooze filters (422)."""


def valid_item_id(item_id: str | None) -> bool:
    return bool(_GROUP_ID.match(item_id or ""))


numbered = issues.with_counters


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
    with storage(READ_FAILED):
        (issue,) = numbered(store, project_id, [issue])
    return item_object(issue)


def item_by_id(store: Store, project_id: str, item_id: str) -> dict[str, Any]:
    with storage(READ_FAILED):
        issue = issues.issue(store, project_id, item_id) if valid_item_id(item_id) else None
        if issue is not None:
            (issue,) = numbered(store, project_id, [issue])
    if issue is None:
        raise fail(404, ITEM_NOT_FOUND)
    return item_object(issue)


def item_by_counter(store: Store, project_id: str, raw: str | None) -> tuple[str, dict[str, Any]]:
    """`GET /api/1/item_by_counter/{counter}`: where the item is (Rollbar answers 301 to it).

    The `uri` carries no access token: Lodge never puts a credential into a URL.
    """
    digits = (raw or "").strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits) > MAX_COUNTER_DIGITS or int(digits) == 0:
        raise fail(404, ITEM_NOT_FOUND)
    with storage(READ_FAILED):
        match = store.issue_by_counter(project_id, int(digits))  # counters exist once an item was read
    if match is None:
        raise fail(404, ITEM_NOT_FOUND)
    path = f"/api/1/item/{match.id}"
    return path, {"itemId": match.id, "path": path, "uri": path}


def instances_of_item(store: Store, project_id: str, item_id: str, raw_query: str) -> dict[str, Any]:
    """`GET /api/1/item/{id}/instances/`: the item's occurrences, newest first, 20 a page."""
    page = page_number(dict(parse_qsl(raw_query)).get("page"))
    with storage(READ_FAILED):
        issue = issues.issue(store, project_id, item_id) if valid_item_id(item_id) else None
        if issue is None:
            raise fail(404, ITEM_NOT_FOUND)
        wanted = page * INSTANCES_PAGE_SIZE
        summaries = occurrences.of_issue(store, project_id, item_id, limit=wanted)[wanted - INSTANCES_PAGE_SIZE :]
        details = occurrences.occurrences(store, project_id, [s.id for s in summaries])
    return {
        "page": page,
        "instances": [instance_object(project_id, s.id, details[s.id]) for s in summaries if s.id in details],
    }


def _multi(raw_query: str, name: str) -> set[str]:
    """A repeatable parameter; repeated keys and comma-separated values both count."""
    values: set[str] = set()
    for key, value in parse_qsl(raw_query, keep_blank_values=False):
        if key == name:
            values.update(v.strip() for v in value.split(",") if v.strip())
    return values


def page_number(raw: str | None) -> int:
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
    """`GET /api/1/items/`: newest last occurrence first, 100 a page, filtered like Rollbar.

    `q` (Rollbar's UI name) or `query` (the API's) searches titles, case-insensitively; any other
    parameter is a 422 rather than silently ignored. Bounded (lodge.queries.issues): in a project
    with more issues than one listing examines, the answer adds `"capped": true` and `total_count`
    and `pages` count the newest issues only.
    """
    query = dict(parse_qsl(raw_query))
    unsupported = sorted({key for key, _ in parse_qsl(raw_query, keep_blank_values=True)} - LIST_FILTERS)
    if unsupported:
        raise fail(422, f"Unsupported filter: {unsupported[0]}")
    page = page_number(query.get("page"))
    environments = _multi(raw_query, "environment")
    levels = _multi(raw_query, "level")
    statuses = _multi(raw_query, "status")
    frameworks = _multi(raw_query, "framework")
    ids = _multi(raw_query, "ids")
    unknown = sorted(levels - set(LEVELS)) or sorted(statuses - set(STATUSES))
    if unknown:
        raise fail(422, f"Invalid filter value: {unknown[0]}")
    text = (query.get("q") or query.get("query") or "").strip()
    where = issues.IssueFilter(environments, levels, statuses, frameworks, ids, text)
    with storage(READ_FAILED):
        found = issues.list_issues(store, project_id, where, page, PAGE_SIZE)
        listed = numbered(store, project_id, found.issues)
    answer: dict[str, Any] = {
        "page": found.page,
        "total_count": found.total,
        "pages": found.pages,
        "items": [item_object(issue) for issue in listed],
    }
    if found.capped:  # only the newest issues were examined: the counts are lower bounds
        answer["capped"] = True
    return answer


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
    return instance_object(project_id, instance_id, detail)
