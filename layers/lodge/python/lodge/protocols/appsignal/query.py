"""AppSignal's public query API (docs/protocols/appsignal.md) over every protocol's stored occurrences and markers.

Samples are built generically from the digest's listings (docs/storage.md "Listings") and stored
details, so a Rollbar exception or a CrashLog report is an error sample just like a failed
AppSignal transaction.

Semantics Lodge chose where AppSignal documented nothing (all of them stated in the README too):

- Order: newest first by the time Lodge *received* the report; a sample's `time` is that received
  second (Unix seconds), so `time` is exactly what `since`/`before` filter and page on.
- `since` and `before` are both INCLUSIVE whole seconds (Unix seconds, or RFC 3339 / ISO 8601).
  Paging with `before=<time of the last entry>` therefore never skips an entry that shares that
  second; it may return the entries of that second again (duplicates across pages, never losses).
  Deduplicate by `id`. A page whose entries all share one second can only be passed with a larger
  `limit` (up to `MAX_LIMIT`).
- `limit` defaults to 10 and is capped at `MAX_LIMIT` (larger values are clamped, not rejected).
- `count` is the number of entries in `log_entries`; with `count_only=true` it is the number of all
  matching samples in the window.
- Bounded reads: a filter (`action`, `exception`, errors/performance) reads its own digest-written
  listing, and every call reads at most `listings.MAX_READS` Queries (~1 MB each). When that cap
  stops a call before it filled `limit` (or before a `count_only` count reached `since`), the answer
  says so: `"lodge": {"complete": false, "cursor": "..."}`, and the same request with
  `cursor=<that>` goes on with every remaining match exactly once (counts add up). Such an answer
  may hold more than `limit` entries (what the walk had read). A complete answer has no `lodge` key.
- "Error" samples are every occurrence that is not a performance sample (errors and messages).
- Markers (`markers`): `count` is the number of all matching markers; `from`/`to` are inclusive.

Every storage read fails as `lodge.storage.StorageError` (answered 503, "please retry"), never as a 500.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from lodge.http import HttpError
from lodge.models.issues import Issue

if TYPE_CHECKING:
    from lodge.models.occurrences import OccurrenceSummary
    from lodge.storage import Store
    from lodge.storage.listings import Cursor

DEFAULT_LIMIT = 10
MAX_LIMIT = 1000
"""Large enough to page past any one second's worth of a typical project's samples."""
SampleKind = Literal["all", "errors", "performance"]

_ESCAPES = (("-hash-", "#"), ("-slash-", "/"), ("-dot-", "."))
_CALLBACK = re.compile(r"^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$")
JAVASCRIPT_CONTENT_TYPE = "text/javascript; charset=utf-8"

_T = TypeVar("_T")


# ---- storage reads ------------------------------------------------------------------------------


def read(what: str, call: Callable[[], _T]) -> _T:
    """`call()`, with a storage failure of it worded as "could not read <what>" (a 503, not a 500)."""
    from lodge.storage.errors import relabelled

    with relabelled(f"could not read {what}"):
        return call()


def format_backtrace(frames: list[dict[str, Any]]) -> list[str]:
    """Stored frames (most recent last) back to Ruby-style lines, most recent first."""
    lines = []
    for frame in reversed(frames):
        text = str(frame.get("filename") or "?")
        if frame.get("lineno") is not None:
            text += f":{frame['lineno']}"
        if frame.get("method"):
            text += f":in `{frame['method']}'"
        lines.append(text)
    return lines


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


# ---- parameters ---------------------------------------------------------------------------------


def unescape_action(value: str) -> str:
    """AppSignal's URL-safe action names: `BlogPostsController-hash-show` -> `BlogPostsController#show`."""
    for escaped, plain in _ESCAPES:
        value = value.replace(escaped, plain)
    return value


def parse_timestamp(name: str, value: str | None) -> float | None:
    """Unix seconds (int or float) or an RFC 3339 / ISO 8601 time; HttpError 400 otherwise."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text.replace("z", "Z").replace(" ", "+") if "T" in text else text)
        except ValueError as error:
            raise HttpError(400, f"{name} must be Unix seconds or an RFC 3339 time") from error
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)  # "All times are UTC"
        number = parsed.timestamp()
    if not 0 <= number < 1e11:
        raise HttpError(400, f"{name} is out of range")
    return number


def parse_limit(value: str | None, default: int = DEFAULT_LIMIT) -> int:
    if value is None or value == "":
        return default
    try:
        limit = int(value)
    except ValueError as error:
        raise HttpError(400, "limit must be an integer") from error
    if limit < 1:
        raise HttpError(400, "limit must be at least 1")
    return min(limit, MAX_LIMIT)


def parse_bool(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def callback_name(query: Mapping[str, str]) -> str | None:
    """The JSONP callback, validated (identifier characters and dots only); None when absent."""
    if "callback" not in query:
        return None
    name = query["callback"]
    if not name or len(name) > 128 or not _CALLBACK.match(name):
        raise HttpError(400, "callback must consist of identifier characters and dots")
    return name


# ---- samples ------------------------------------------------------------------------------------


def issue_view(issue: Issue | None) -> dict[str, Any] | None:
    """Lodge's triage state of an error sample's issue (AppSignal's shape has no status of its own)."""
    if issue is None:
        return None
    return {"id": issue.id, "status": issue.status, "regressed": issue.regression is not None}


def sample_view(summary: OccurrenceSummary, issue: Issue | None = None) -> dict[str, Any]:
    """A samples-index entry (docs/protocols/appsignal.md) from an occurrence summary alone: no detail read.

    With `issue` (only `samples/errors.json` passes one: the list of exceptions) it adds the
    issue's triage state; `samples.json` keeps AppSignal's own field set.
    """
    is_exception = not summary.is_performance
    view = {
        "id": summary.id,
        "action": summary.action,
        "path": summary.path,
        "duration": summary.duration,
        "status": summary.status,
        "time": summary.received_ms // 1000,
        "is_exception": is_exception,
        "exception": {"name": summary.exception_class if is_exception else None},
    }
    if issue is not None:
        view["issue"] = issue_view(issue)
    return view


def _views(store: Store, project_id: str, kind: SampleKind, found: list[OccurrenceSummary]) -> list[dict[str, Any]]:
    """Sample views; errors carry their issue's triage state (one BatchGetItem for the page's issues)."""
    from lodge.storage.errors import relabelled

    by_id: dict[str, Issue] = {}
    if kind == "errors":
        with relabelled("could not read samples"):
            by_id = store.issues_by_id(project_id, [s.issue_id for s in found if s.issue_id])
    return [sample_view(summary, by_id.get(summary.issue_id or "")) for summary in found]


def list_samples(store: Store, project_id: str, kind: SampleKind, query: Mapping[str, str]) -> dict[str, Any]:
    """`samples.json`, `samples/errors.json`, `samples/performance.json`."""
    from lodge.queries.occurrences import OccurrenceFilter

    raw_action = query.get("action_id") or query.get("action_name") or query.get("action")
    since = parse_timestamp("since", query.get("since"))
    before = parse_timestamp("before", query.get("before"))
    where = OccurrenceFilter(
        kind=kind,
        action=unescape_action(raw_action) if raw_action else None,
        exception_class=query.get("exception") or None,
        since_ms=int(since) * 1000 if since is not None else None,
        before_ms=(int(before) + 1) * 1000 if before is not None else None,  # inclusive of that second
    )
    from lodge.queries import occurrences
    from lodge.storage.errors import relabelled

    count_only = parse_bool(query.get("count_only"))
    try:
        cursor = occurrences.parse_cursor(where, query.get("cursor"), counting=count_only)
    except ValueError as error:
        raise HttpError(400, "cursor must be the lodge.cursor of an earlier answer to the same filter") from error
    with relabelled("could not read samples"):
        if count_only:
            count, cursor = occurrences.count(store, project_id, where, cursor)
            return {"count": count, **_continuation(cursor)}
        found, cursor = occurrences.page(store, project_id, where, parse_limit(query.get("limit")), cursor)
    entries = _views(store, project_id, kind, found)
    return {"count": len(entries), "log_entries": entries, **_continuation(cursor)}


def _continuation(cursor: Cursor | None) -> dict[str, Any]:
    """Lodge's addition to a capped answer (a complete one has none): where the next call goes on."""
    return {} if cursor is None else {"lodge": {"complete": False, "cursor": cursor.encode()}}


def _exception_view(detail: Mapping[str, Any]) -> dict[str, Any] | None:
    chain = detail.get("exceptions") or []
    if not chain:
        return None
    head = chain[0]
    return {
        "name": head.get("type"),
        "message": head.get("message"),
        "backtrace": format_backtrace(head.get("frames") or []),
    }


def sample_detail(ref: str, detail: Mapping[str, Any], issue: Issue | None = None) -> dict[str, Any]:
    """A sample (docs/protocols/appsignal.md) from any protocol's stored occurrence detail."""
    extra = detail.get("extra") or {}
    request = detail.get("request") or {}
    is_exception = detail.get("kind") != "performance"
    status = detail.get("status")
    received_at = float(detail.get("received_at") or 0)
    protocol = detail.get("protocol")
    return {
        "id": ref,
        # Other protocols name the place as Rollbar's `context` ("users#show" from CrashLog).
        "action": detail.get("action") or detail.get("context"),
        "path": detail.get("path") or request.get("url"),
        "duration": detail.get("duration"),
        "status": str(status) if status is not None else None,
        "time": int(received_at),
        "end": extra.get("end"),
        "is_exception": is_exception,
        "kind": extra.get("kind") if protocol == "appsignal" and extra.get("kind") else detail.get("kind"),
        "hostname": detail.get("hostname") or (detail.get("server") or {}).get("host"),
        "environment": request.get("env") or {},
        "params": request.get("params") or {},
        "session_data": request.get("session") or {},
        "request_method": request.get("method"),
        "request_format": extra.get("request_format") or extra.get("format"),
        "view_runtime": extra.get("view_runtime"),
        "db_runtime": extra.get("db_runtime"),
        "queue_duration": detail.get("queue_duration"),
        "revision": detail.get("code_version"),
        "events": detail.get("events") or [],
        "tags": detail.get("tags") or {},
        "custom_data": detail.get("custom") or {},
        "person": detail.get("person"),
        "exception": _exception_view(detail),
        "lodge": {
            "protocol": protocol,
            "kind": detail.get("kind"),
            "level": detail.get("level"),
            "environment": detail.get("environment"),
            "title": detail.get("title") or _title(detail),
            "group_id": detail.get("group_id"),
            "issue": issue_view(issue),
            "client_id": detail.get("client_id"),
            "occurred_at": detail.get("timestamp"),
            "received_at": detail.get("received_at"),
        },
    }


def _title(detail: Mapping[str, Any]) -> str | None:
    chain = detail.get("exceptions") or []
    if chain:
        head = chain[0]
        return f"{head.get('type')}: {head.get('message')}" if head.get("message") else head.get("type")
    return detail.get("message") or detail.get("action")


def sample_ref(sample_file: str) -> str:
    """`<id>.json` -> `<id>`; ids are Lodge's `<record id>[-<i>]`."""
    return sample_file[:-5] if sample_file.endswith(".json") else sample_file
