"""The console's one seam to storage: every read and write the console makes goes through here.

Pages and templates see only the small view models below, built from the read models of
`lodge.models` through the protocol-neutral `lodge.queries`; storage items and their attribute
names stay in `lodge.storage`. Every function takes the signed-in project's id and reads only that
project's partition.

Trends come from a bounded read of the time index (the newest `TREND_RECORD_CAP` records inside the
window), so a page costs a few reads however busy the project; counts beyond the cap are not drawn,
and the view says so (`Trend.capped`).
"""

from __future__ import annotations

import itertools
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lodge import auth
from lodge import triage as triage_model
from lodge.config import settings
from lodge.models.issues import IssueChange, Regression, StatusChange
from lodge.models.occurrences import OccurrenceSummary as Listed
from lodge.queries import issues as issue_queries
from lodge.queries import markers as marker_queries
from lodge.queries import occurrences as occurrence_queries
from lodge.storage import Store, parse_ref

if TYPE_CHECKING:
    from lodge.models.issues import Issue
    from lodge.models.markers import Marker as StoredMarker

TREND_RECORD_CAP = 2000
"""At most this many records are read from the time index for one page's trends."""
HOUR = 3600
DAY = 86400
NEW_FOR_SECONDS = DAY
"""An issue first seen this recently carries the "new" badge."""
STATUSES = ("active", "resolved", "muted", "archived")
LEVELS = ("critical", "error", "warning", "info", "debug")
"""The occurrence model's levels (lodge.occurrence.LEVELS; a test keeps them equal). Not imported:
that module loads pydantic, which would double the console's cold start."""
LIBRARY_MARKERS = (
    "site-packages/",
    "dist-packages/",
    "node_modules/",
    "/gems/",
    "/lib/ruby/",
    "/usr/lib/python",
    "<frozen ",
    "node:internal",
    "internal/",
    "/jdk/",
    "java.base/",
)


# ---- view models ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trend:
    """Occurrence counts per bucket, oldest first, over `span` seconds ending at `end`."""

    counts: tuple[int, ...]
    bucket_seconds: int
    end: float
    capped: bool = False

    @property
    def start(self) -> float:
        return self.end - self.bucket_seconds * len(self.counts)

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class IssueRow:
    id: str
    title: str
    level: str
    status: str
    count: int
    first_seen: float
    last_seen: float
    environment: str
    kind: str
    protocol: str
    exception_class: str | None
    status_changed: float | None
    trend: Trend | None = None
    regression: Regression | None = None
    """Set by the triage model when a resolved issue came back (docs/triage.md)."""
    stored: int | None = None
    """Occurrences stored in full, when a flood left some unstored (lodge.flood): "N occurrences, M stored"."""

    @property
    def is_new(self) -> bool:
        return self.first_seen >= time.time() - NEW_FOR_SECONDS

    @property
    def regressed(self) -> bool:
        """Came back after it was resolved, as the triage model recorded it at ingest."""
        return self.regression is not None


@dataclass(frozen=True)
class IssueDetail:
    issue: IssueRow
    grouping_reason: str
    grouping_version: str
    fingerprint: str
    platform: str | None
    framework: str | None
    first_occurrence: str | None
    last_occurrence: str | None
    environments: dict[str, int]
    """Occurrences per environment among the records the trend read (bounded)."""
    history: tuple[StatusChange, ...] = ()
    """Status changes, newest first."""
    resolved_in_version: str | None = None
    muted_until: float | None = None
    muted_until_total: int | None = None
    """Stays muted while its count is at most this."""
    last_code_version: str | None = None
    next_version: str | None = None
    """What "resolve in next version" would resolve it in (None: the user has to type one)."""


@dataclass(frozen=True)
class IssuePage:
    rows: list[IssueRow]
    total: int
    page: int
    pages: int
    environments: list[str]
    counts_by_status: dict[str, int]
    capped: bool = False
    """A bound was reached (the newest issues only, or count order among the most recent): the
    counts are lower bounds and the page says so."""


@dataclass(frozen=True)
class FrameView:
    filename: str
    lineno: int | None
    colno: int | None
    method: str
    code: str | None
    context_pre: list[str]
    context_post: list[str]
    locals: dict[str, Any] | None
    in_app: bool
    extra: dict[str, Any]


@dataclass(frozen=True)
class ExceptionView:
    type: str
    message: str | None
    description: str | None
    frames: list[FrameView]
    """Most recent call first, as people read a trace."""
    extra: dict[str, Any]


@dataclass(frozen=True)
class OccurrenceSummary:
    ref: str
    received_at: float
    level: str
    environment: str
    title: str
    protocol: str


@dataclass(frozen=True)
class OccurrenceView:
    ref: str
    issue_id: str | None
    protocol: str
    client_name: str | None
    client_version: str | None
    client_id: str
    kind: str
    level: str
    environment: str
    title: str
    message: str | None
    received_at: float
    timestamp: float | None
    code_version: str | None
    exceptions: list[ExceptionView]
    sections: dict[str, Any]
    """request, person, server, client, tags, custom, ... (only those present)."""
    unknown_keys: dict[str, Any]
    """Top-level keys the client sent that the occurrence model has no field for, verbatim."""
    raw: dict[str, Any]
    """Everything stored."""


@dataclass(frozen=True)
class Marker:
    id: int
    kind: str
    protocol: str
    environment: str
    revision: str | None
    user: str | None
    created: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Credential:
    hash: str
    kind: str
    label: str
    created: float | None
    rate_limit: int | None


@dataclass(frozen=True)
class ProjectSettings:
    id: str
    name: str
    retention_days: int
    credentials: list[Credential]


@dataclass(frozen=True)
class Viewer:
    """Who is signed in: the project a session may read, and the hash of the token that opened it."""

    project_id: str
    token_hash: str


# ---- sign-in and the session key ----------------------------------------------------------------

_session_key: bytes | None = None


def _store(store: Store | None) -> Store:
    return store if store is not None else Store()


def session_key(store: Store | None = None) -> bytes:
    """The key that signs console cookies: 32 random bytes made once per deployment.

    Kept in the table (encrypted at rest, `lodge.storage.console`): the first console process to
    need it creates it, every other one reads that same key, once per process.
    """
    global _session_key
    if _session_key is None:
        _session_key = _store(store).console_session_key()
    return _session_key


def forget_session_key() -> None:
    global _session_key
    _session_key = None


def sign_in(token: str, store: Store | None = None) -> Viewer | None:
    """A personal API token opens a session on its project; any other kind or an unknown one: None."""
    info = auth.lookup(_store(store), token)
    if info is None or info.kind != "personal":
        return None
    return Viewer(info.project_id, info.token_hash)


def still_valid(viewer: Viewer, store: Store | None = None) -> bool:
    """One GetItem per page: a session ends the moment its token is revoked or rotated."""
    credential = _store(store).credential(viewer.token_hash)
    return credential is not None and credential.project_id == viewer.project_id and credential.kind == "personal"


# ---- issues -----------------------------------------------------------------------------------


def _issue_row(issue: Issue) -> IssueRow:
    return IssueRow(
        id=issue.id,
        title=issue.title or "(no title)",
        level=issue.last_level or issue.level or "error",
        status=issue.status or "active",
        count=issue.total_occurrences,
        first_seen=issue.first_seen or 0.0,
        last_seen=issue.last_seen or 0.0,
        environment=issue.environment or "",
        kind=issue.kind or "error",
        protocol=issue.protocol or "",
        exception_class=issue.exception_class,
        status_changed=issue.status_changed_at,
        regression=issue.regression,
        stored=issue.stored_occurrences if issue.dropped_occurrences else None,
    )


def _by_record(summaries: Iterable[Listed]) -> Iterable[list[Listed]]:
    """The occurrences of each record together (a record is one request: an AppSignal batch is many)."""
    for _record_id, members in itertools.groupby(summaries, key=lambda s: s.record_id):
        yield list(members)


def _recent(store: Store, project_id: str, since: float) -> tuple[list[Listed], bool]:
    """The occurrences of the newest records received since `since`, at most TREND_RECORD_CAP
    records; True when capped."""
    where = occurrence_queries.OccurrenceFilter(since_ms=int(since * 1000))
    found: list[Listed] = []
    listed = occurrence_queries.recent(store, project_id, where)
    for records, members in enumerate(_by_record(listed)):
        if records >= TREND_RECORD_CAP:
            return found, True
        found.extend(members)
    return found, listed.resume_before_ms is not None


def _trends(
    occurrences: Iterable[Listed], group_ids: set[str], end: float, buckets: int, width: int, capped: bool
) -> dict[str, Trend]:
    counts = {group_id: [0] * buckets for group_id in group_ids}
    start = end - buckets * width
    for occurrence in occurrences:
        series = counts.get(str(occurrence.issue_id))
        if series is None:
            continue
        moment = float(occurrence.occurred_at or occurrence.received_at)
        if not start <= moment < end:
            moment = occurrence.received_at  # a client clock far off: place it when it arrived
        slot = int((moment - start) // width)
        if 0 <= slot < buckets:
            series[slot] += 1
    return {g: Trend(tuple(c), width, end, capped) for g, c in counts.items()}


SORTS = {"last_seen": "last_seen", "first_seen": "first_seen", "count": "count"}
COUNT_SORT_CAP = 200
"""Sorting by count ranks the most recently seen matches, at most this many (two BatchGetItems):
counts are not in the listing index, since they change on every digest batch."""


def list_issues(
    viewer: Viewer,
    *,
    status: str = "active",
    environment: str = "",
    level: str = "",
    search: str = "",
    sort: str = "last_seen",
    page: int = 1,
    per_page: int = 50,
    store: Store | None = None,
) -> IssuePage:
    """One page of issues (errors and messages), filtered and sorted, each with a 24-hour sparkline.

    Bounded (docs/console.md): the tabs, environments and filters come from the listing index's
    newest issues (lodge.queries.issues.scan); only the page's issues are read whole. Sorting by
    count ranks the COUNT_SORT_CAP most recently seen matches. `capped` says a cap was reached.
    """
    db = _store(store)
    needle = search.strip().casefold()
    key = SORTS.get(sort, "last_seen")
    fields = ["kind", "status", "environment", "level", "last_level"]
    fields += (["title"] if needle else []) + (["first_seen"] if key == "first_seen" else [])
    listed, complete = issue_queries.scan(db, viewer.project_id, fields)
    entries = [entry for entry in listed if issue_queries.IssueFilter().matches(entry.issue)]
    rows = [(entry, _issue_row(entry.issue)) for entry in entries]
    counts_by_status = {s: sum(1 for _, r in rows if r.status == s) for s in STATUSES}
    environments = sorted({r.environment for _, r in rows if r.environment})
    chosen = [(e, r) for e, r in rows if r.status == status]
    if environment:
        chosen = [(e, r) for e, r in chosen if r.environment == environment]
    if level:
        chosen = [(e, r) for e, r in chosen if r.level == level]
    if needle:
        chosen = [(e, r) for e, r in chosen if needle in r.title.casefold()]
    capped = not complete
    ordered = issue_queries.newest_first([e for e, _ in chosen])
    if key == "count" and len(ordered) > COUNT_SORT_CAP:
        ordered, capped = ordered[:COUNT_SORT_CAP], True
    total = len(ordered)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    offset = (page - 1) * per_page
    if key == "last_seen":
        shown = [_issue_row(i) for i in issue_queries.window(db, viewer.project_id, ordered, offset, per_page)]
    else:
        if key == "first_seen":  # first seen is in the index (it never changes): only the page is read
            ordered.sort(key=lambda e: (e.issue.first_seen or 0.0, e.issue.id), reverse=True)
            ordered = ordered[offset : offset + per_page]
        found = db.issues_by_id(viewer.project_id, [e.issue.id for e in ordered])
        whole = [_issue_row(found[e.issue.id]) for e in ordered if e.issue.id in found]
        whole.sort(key=lambda r: (getattr(r, key), r.id), reverse=True)
        shown = whole if key == "first_seen" else whole[offset : offset + per_page]
    if shown:
        now = time.time()
        end = (now // HOUR + 1) * HOUR
        recent, trend_capped = _recent(db, viewer.project_id, end - 24 * HOUR)
        trends = _trends(recent, {r.id for r in shown}, end, 24, HOUR, trend_capped)
        shown = [_with_trend(r, trends.get(r.id)) for r in shown]
    return IssuePage(shown, total, page, pages, environments, counts_by_status, capped)


def _with_trend(row: IssueRow, trend: Trend | None) -> IssueRow:
    from dataclasses import replace

    return replace(row, trend=trend)


def get_issue(viewer: Viewer, issue_id: str, store: Store | None = None) -> IssueDetail | None:
    """An issue with its 14-day daily trend and occurrences per environment (from the bounded read)."""
    if not _safe_id(issue_id):
        return None
    db = _store(store)
    issue = issue_queries.issue(db, viewer.project_id, issue_id)
    if issue is None:
        return None
    now = time.time()
    end = (now // DAY + 1) * DAY
    recent, capped = _recent(db, viewer.project_id, end - 14 * DAY)
    trend = _trends(recent, {issue_id}, end, 14, DAY, capped)[issue_id]
    environments: dict[str, int] = {}
    for occurrence in recent:
        if occurrence.issue_id == issue_id:
            env = occurrence.environment or ""
            environments[env] = environments.get(env, 0) + 1
    return IssueDetail(
        issue=_with_trend(_issue_row(issue), trend),
        grouping_reason=issue.grouping_reason or "",
        grouping_version=str(issue.grouping_version or ""),
        fingerprint=issue.fingerprint or "",
        platform=issue.platform,
        framework=issue.framework,
        first_occurrence=issue.first_occurrence_id,
        last_occurrence=issue.last_occurrence_id,
        environments=dict(sorted(environments.items(), key=lambda kv: -kv[1])),
        history=tuple(reversed(issue.history)),
        resolved_in_version=issue.resolved_in_version,
        muted_until=issue.muted_until,
        muted_until_total=issue.muted_until_total,
        last_code_version=issue.last_code_version,
        next_version=next_version(issue.last_code_version),
    )


def _safe_id(value: str) -> bool:
    return 0 < len(value) <= 128 and value.isascii() and value.replace("-", "").replace("_", "").isalnum()


def issue_occurrences(
    viewer: Viewer, issue_id: str, *, before_ms: int | None = None, limit: int = 20, store: Store | None = None
) -> tuple[list[OccurrenceSummary], int | None]:
    """Older occurrences of an issue, newest first, `limit` a page; the second value is the next
        page's `before_ms` (None on the last page). Reads the issue's own listing, at most
    TREND_RECORD_CAP records and the listings' read cap a page."""
    found: list[OccurrenceSummary] = []
    where = occurrence_queries.OccurrenceFilter(issue_id=issue_id, before_ms=before_ms)
    listed = occurrence_queries.recent(_store(store), viewer.project_id, where)
    for scanned, members in enumerate(_by_record(listed), start=1):
        found.extend(
            OccurrenceSummary(
                ref=o.id,
                received_at=o.received_at,
                level=o.level or "",
                environment=o.environment or "",
                title=o.title or o.exception_class or "",
                protocol=o.protocol or "",
            )
            for o in members
            if o.issue_id == issue_id
        )
        if len(found) > limit:
            # Records hold whole requests: resume below this record's time (its siblings in a batch
            # past the limit show on this page rather than being skipped).
            return found, members[0].received_ms
        if scanned >= TREND_RECORD_CAP:
            return found, members[0].received_ms
    return found, listed.resume_before_ms  # None: the issue's listing ended; else the read cap stopped it


# ---- occurrences ------------------------------------------------------------------------------

_SECTIONS = ("request", "person", "server", "client", "notifier", "tags", "custom", "context", "events")
_MODEL_FIELDS = frozenset(
    {
        "project_id", "protocol", "client_id", "received_at", "timestamp", "kind", "environment", "level",
        "title", "exceptions", "message", "request", "person", "server", "client", "notifier", "tags",
        "custom", "fingerprint", "code_version", "platform", "language", "framework", "context", "hostname",
        "action", "path", "duration", "status", "queue_duration", "events", "extra", "group_id",
    }
)  # fmt: skip


def is_library(filename: str) -> bool:
    return any(marker in filename for marker in LIBRARY_MARKERS)


def _frame(raw: dict[str, Any]) -> FrameView:
    filename = str(raw.get("filename") or "")
    extra = {k: v for k, v in raw.items() if k not in FRAME_FIELDS}
    explicit = raw.get("in_app", raw.get("in_project"))
    in_app = bool(explicit) if isinstance(explicit, bool) else not is_library(filename)
    return FrameView(
        filename=filename,
        lineno=raw.get("lineno"),
        colno=raw.get("colno"),
        method=str(raw.get("method") or ""),
        code=raw.get("code"),
        context_pre=[str(line) for line in raw.get("context_pre") or []],
        context_post=[str(line) for line in raw.get("context_post") or []],
        locals=raw.get("locals"),
        in_app=in_app,
        extra=extra,
    )


FRAME_FIELDS = frozenset(
    {"filename", "lineno", "colno", "method", "class_name", "code", "context_pre", "context_post", "locals"}
)
EXCEPTION_FIELDS = frozenset({"type", "message", "description", "frames"})


def _exception(raw: dict[str, Any]) -> ExceptionView:
    frames = [_frame(f) for f in raw.get("frames") or [] if isinstance(f, dict)]
    return ExceptionView(
        type=str(raw.get("type") or ""),
        message=raw.get("message"),
        description=raw.get("description"),
        frames=frames[::-1],
        extra={k: v for k, v in raw.items() if k not in EXCEPTION_FIELDS},
    )


def get_occurrence(viewer: Viewer, ref: str, store: Store | None = None) -> OccurrenceView | None:
    try:
        parse_ref(ref)
    except KeyError:
        return None
    detail = occurrence_queries.occurrence(_store(store), viewer.project_id, ref)
    if detail is None or detail.get("project_id", viewer.project_id) != viewer.project_id:
        return None
    notifier = detail.get("notifier") or {}
    sections = {name: detail[name] for name in _SECTIONS if detail.get(name) not in (None, {}, [])}
    unknown = dict(detail.get("extra") or {})
    unknown.update({k: v for k, v in detail.items() if k not in _MODEL_FIELDS})
    return OccurrenceView(
        ref=ref,
        issue_id=detail.get("group_id"),
        protocol=str(detail.get("protocol") or ""),
        client_name=notifier.get("name"),
        client_version=notifier.get("version"),
        client_id=str(detail.get("client_id") or ""),
        kind=str(detail.get("kind") or "error"),
        level=str(detail.get("level") or "error"),
        environment=str(detail.get("environment") or ""),
        title=_title(detail),
        message=detail.get("message"),
        received_at=float(detail.get("received_at") or 0),
        timestamp=detail.get("timestamp"),
        code_version=detail.get("code_version"),
        exceptions=[_exception(e) for e in detail.get("exceptions") or [] if isinstance(e, dict)],
        sections=sections,
        unknown_keys=unknown,
        raw=detail,
    )


def _title(detail: dict[str, Any]) -> str:
    if detail.get("title"):
        return str(detail["title"])
    exceptions = detail.get("exceptions") or []
    if exceptions:
        head = exceptions[0]
        return f"{head.get('type')}: {head.get('message')}" if head.get("message") else str(head.get("type"))
    return str(detail.get("message") or detail.get("action") or "(no message)")


# ---- triage -----------------------------------------------------------------------------------

ACTIONS = {
    "resolve": "resolved",
    "resolve_next": "resolved",
    "mute": "muted",
    "reopen": "active",
    "archive": "archived",
}
MAX_MUTE_SECONDS = 366 * DAY
MAX_MUTE_OCCURRENCES = 1_000_000
_NUMBER = re.compile(r"^(v?)((?:[0-9]{1,9}\.){0,2})([0-9]{1,9})$")


class TriageError(ValueError):
    """A triage request the console cannot carry out; the message says why, for the page."""


def next_version(version: str | None) -> str | None:
    """The version after `version`: an integer plus one, a semver with its last part bumped
    ("1.4.2" → "1.4.3", "v7" → "v8"); None for anything else (a git sha has no "next")."""
    match = _NUMBER.match(version or "")
    if match is None:
        return None
    prefix, head, last = match.groups()
    return f"{prefix}{head}{int(last) + 1}"


def _mute_fields(seconds: int | None, occurrences: int | None, now: float) -> dict[str, Any]:
    if seconds is not None and not 60 <= seconds <= MAX_MUTE_SECONDS:
        raise TriageError("Mute for between a minute and a year.")
    if occurrences is not None and not 0 < occurrences <= MAX_MUTE_OCCURRENCES:
        raise TriageError("Mute for a positive number of occurrences.")
    return {
        "muted_until": now + seconds if seconds is not None else None,
        "mute_occurrences": occurrences,
    }


def triage(
    viewer: Viewer,
    issue_id: str,
    action: str,
    *,
    version: str = "",
    mute_seconds: int | None = None,
    mute_occurrences: int | None = None,
    store: Store | None = None,
) -> IssueRow | None:
    """Apply a triage action through the triage model; None when the issue is not in this project.

    `resolve_next` resolves in `version` when one is typed, else in the version after the latest
    occurrence's code version; `mute` without a time or a count mutes forever. The change is
    recorded as made by "console:<token label>". Raises TriageError for a request that cannot be done."""
    if action not in ACTIONS or not _safe_id(issue_id):
        raise TriageError("That triage action does not exist.")
    db = _store(store)
    credential = db.credential(viewer.token_hash)
    who = f"console:{credential.label if credential is not None else ''}"
    fields: dict[str, Any] = {}
    if action == "resolve_next":
        current = issue_queries.issue(db, viewer.project_id, issue_id)
        if current is None:
            return None
        typed = version.strip()
        chosen = triage_model.valid_version(typed) if typed else next_version(current.last_code_version)
        if chosen is None:
            raise TriageError(
                "Type the version the fix ships in (at most 40 characters): "
                "the latest occurrence has no numbered code version to count on from."
            )
        fields["resolved_in_version"] = chosen
    elif action == "mute":
        fields.update(_mute_fields(mute_seconds, mute_occurrences, time.time()))
    issue = db.change_issue(viewer.project_id, issue_id, IssueChange(by=who, status=ACTIONS[action], **fields))
    return _issue_row(issue) if issue is not None else None


# ---- deploys ----------------------------------------------------------------------------------


def list_markers(viewer: Viewer, limit: int = 200, store: Store | None = None) -> list[Marker]:
    """Deploy and announce markers of every protocol, newest first."""
    return [_marker(m) for m in marker_queries.list_markers(_store(store), viewer.project_id)[:limit]]


_MARKER_FIELDS = frozenset({"id", "kind", "source", "environment", "revision", "user", "created"})


def _marker(marker: StoredMarker) -> Marker:
    return Marker(
        id=marker.id or 0,
        kind=marker.kind or "deploy",
        protocol=marker.source or "",
        environment=marker.environment or "",
        revision=marker.revision,
        user=marker.user,
        created=marker.created or 0.0,
        details={k: v for k, v in marker._asdict().items() if k not in _MARKER_FIELDS and v is not None},
    )


def markers_between(markers: Sequence[Marker], start: float, end: float) -> list[Marker]:
    return [m for m in markers if start <= m.created < end]


# ---- settings ---------------------------------------------------------------------------------


def project_settings(viewer: Viewer, store: Store | None = None) -> ProjectSettings:
    db = _store(store)
    project = db.project(viewer.project_id)
    credentials = [
        Credential(
            hash=c.token_hash,
            kind=c.kind,
            label=c.label,
            created=float(c.created) if c.created is not None else None,
            rate_limit=c.rate_limit,
        )
        for c in db.credentials(viewer.project_id)
    ]
    credentials.sort(key=lambda c: (c.kind, c.label, c.hash))
    return ProjectSettings(
        id=viewer.project_id,
        name=(project.name if project else "") or viewer.project_id,
        retention_days=settings().retention_days,
        credentials=credentials,
    )


def revoke_credential(viewer: Viewer, token_hash: str, store: Store | None = None) -> bool:
    """Revoke one of this project's credentials by its hash (never another project's)."""
    return auth.revoke_token(_store(store), token_hash, viewer.project_id) if _is_hash(token_hash) else False


@dataclass(frozen=True)
class Rotated:
    kind: str
    label: str
    token: str
    secret: str | None


def rotate_credential(viewer: Viewer, token_hash: str, store: Store | None = None) -> Rotated | None:
    """Issue a replacement with the same kind, label and rate limit, then revoke the old one."""
    db = _store(store)
    if not _is_hash(token_hash):
        return None
    credential = db.credential(token_hash)
    if credential is None or credential.project_id != viewer.project_id:
        return None
    kind = credential.kind
    label = credential.label or kind
    token, secret = auth.issue_token(db, viewer.project_id, kind, label, credential.rate_limit)
    auth.revoke_token(db, token_hash, viewer.project_id)
    return Rotated(kind, label, token, secret)


def _is_hash(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


# ---- alert rules ------------------------------------------------------------------------------
# The same layer functions `lodge alert add|list|test|remove` calls (lodge.alerts.rules, the
# Store's alert-rule methods, lodge.alerts.deliver.send_test); lodge.alerts loads only here, on a
# Settings page, never at import (cold start).

ALERT_TRIGGERS = {
    "new_issue": "New issue",
    "regression": "Regression",
    "threshold": "10th, 100th, 1,000th… occurrence",
    "deploy": "Deploy",
}
"""lodge.alerts.model.ALERT_KINDS with their labels (a test keeps the keys equal)."""
ALERT_DESTINATIONS = {"webhook": "Signed JSON webhook", "slack": "Slack-compatible webhook", "email": "Email (SNS)"}
ALERT_LEVELS = ("debug", "info", "warning", "error", "critical")
"""lodge.alerts.model.LEVELS, lowest first (the minimum-level filter)."""


@dataclass(frozen=True)
class AlertRuleView:
    """A rule as a page shows it: the destination masked, the signing secret never."""

    id: str
    name: str
    destination: str
    where: str
    signed: bool
    triggers: tuple[str, ...]
    environments: tuple[str, ...]
    min_level: str
    cap: int
    created: float


@dataclass(frozen=True)
class AddedRule:
    rule: AlertRuleView
    secret: str | None
    """A signed webhook's secret, shown once on the page that answers the add."""


@dataclass(frozen=True)
class DeliveryResult:
    rule: AlertRuleView
    ok: bool
    detail: str


class AlertRuleError(ValueError):
    """A rule the form describes that cannot work; the message says why, for the page."""


def _rule_view(rule: Any) -> AlertRuleView:
    from lodge.alerts import rules

    return AlertRuleView(
        id=rule.id,
        name=rule.name,
        destination=rule.destination,
        where=rules.masked_destination(rule),
        signed=bool(rule.secret),
        triggers=tuple(k for k in ALERT_TRIGGERS if k in rule.kinds),
        environments=tuple(sorted(rule.environments)),
        min_level=rule.min_level,
        cap=rule.cap,
        created=rule.created,
    )


def list_alert_rules(viewer: Viewer, store: Store | None = None) -> list[AlertRuleView]:
    return [_rule_view(r) for r in _store(store).alert_rules(viewer.project_id)]


def _alert_topic() -> str | None:
    return os.environ.get("ALERT_TOPIC_ARN") or None


def add_alert_rule(
    viewer: Viewer,
    *,
    destination: str,
    name: str = "",
    url: str = "",
    email: str = "",
    triggers: Sequence[str] = (),
    environments: str = "",
    min_level: str = "debug",
    cap: str = "",
    store: Store | None = None,
) -> AddedRule:
    """Validate and store a rule of this project (an email rule subscribes its address to the alert
    topic first); raises AlertRuleError with a message for the page."""
    from lodge import aws
    from lodge.alerts import rules
    from lodge.alerts.model import DEFAULT_CAP

    cap = cap.strip()
    if cap and not (cap.isascii() and cap.isdigit() and len(cap) < 6):
        raise AlertRuleError(f"The hourly cap must be a whole number between 1 and {rules.MAX_CAP}.")
    if not triggers:
        raise AlertRuleError("Choose at least one trigger.")
    envs = [e.strip() for e in environments.split(",") if e.strip()]
    try:
        rule = rules.new_rule(
            viewer.project_id,
            destination,
            name=name.strip(),
            url=url.strip() or None,
            email=email.strip() or None,
            kinds=list(triggers),
            environments=envs,
            min_level=min_level,
            cap=int(cap) if cap else DEFAULT_CAP,
        )
        topic = _alert_topic() if rule.destination == "email" else None
        rules.add_rule(_store(store), rule, aws.sns() if topic else None, topic)
    except rules.RuleError as error:
        text = str(error)
        raise AlertRuleError(text[:1].upper() + text[1:] + ".") from error
    return AddedRule(_rule_view(rule), rule.secret)


def _safe_rule_id(rule_id: str) -> bool:
    return len(rule_id) == 16 and all(c in "0123456789abcdef" for c in rule_id)


def remove_alert_rule(viewer: Viewer, rule_id: str, store: Store | None = None) -> bool:
    """Remove one of this project's rules (never another project's: the key is in its partition)."""
    return _safe_rule_id(rule_id) and _store(store).delete_alert_rule(viewer.project_id, rule_id)


def alert_rule(viewer: Viewer, rule_id: str, store: Store | None = None) -> AlertRuleView | None:
    rule = _store(store).alert_rule(viewer.project_id, rule_id) if _safe_rule_id(rule_id) else None
    return _rule_view(rule) if rule is not None else None


def send_test_alert(viewer: Viewer, rule_id: str, store: Store | None = None) -> DeliveryResult | None:
    """Send a sample alert to one of this project's destinations now, as `lodge alert test` does."""
    from lodge import aws
    from lodge.alerts import deliver
    from lodge.alerts.transport import DeliveryError

    db = _store(store)
    rule = db.alert_rule(viewer.project_id, rule_id) if _safe_rule_id(rule_id) else None
    if rule is None:
        return None
    topic = _alert_topic() if rule.destination == "email" else None
    ctx = deliver.Context(store=db, sns=aws.sns() if topic else None, topic_arn=topic, base_url=_base_url())
    try:
        deliver.send_test(ctx, rule)
    except DeliveryError as error:
        return DeliveryResult(_rule_view(rule), False, str(error))
    if rule.destination == "email":
        return DeliveryResult(_rule_view(rule), True, "published to the alert topic (confirmed subscribers get it)")
    return DeliveryResult(_rule_view(rule), True, "the destination answered 2xx")


def _base_url() -> str:
    return os.environ.get("LODGE_BASE_URL", "")
