"""AppSignal markers, both ways: a push deploy marker (`POST /1/markers`) and the query API's
`markers.json` / `markers/{id}.json` (create, change, list, render), over the one `Marker` model
every protocol's markers share (Rollbar deploys and CrashLog announces show up here too)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lodge.http import HttpError
from lodge.models.markers import Marker
from lodge.protocols.appsignal.query import iso, parse_bool, parse_limit, parse_timestamp, read
from lodge.protocols.appsignal.wire import as_text, parse_json, split_body

if TYPE_CHECKING:
    from lodge.storage import Store

PROTOCOL = "appsignal"


def parse_marker(body: bytes, query: Mapping[str, str], received_at: float) -> Marker:
    """A push deploy marker (`marker_data` form field in 0.1-0.2, JSON after) as a Marker."""
    text, _form = split_body(body, "marker_data")
    data, _repaired = parse_json(text)
    if not isinstance(data, Mapping):
        raise HttpError(400, "marker must be a JSON object")
    environment = (query.get("environment") or "").strip() or as_text(data.get("rails_env")) or "production"

    def clipped(key: str) -> str | None:
        value = as_text(data.get(key))
        return value[:1000] if value is not None else None

    return Marker(
        kind="deploy",
        source=PROTOCOL,
        revision=clipped("revision"),
        repository=clipped("repository"),
        user=clipped("user"),
        environment=environment[:100],
        hostname=(query.get("hostname") or "").strip() or None,
        gem_version=query.get("gem_version") or None,
        app_name=query.get("name") or None,
        created=round(received_at, 3),
    )


def _view_kind(marker: Marker) -> str:
    """AppSignal's marker kinds are deploy, custom and notification; CrashLog announces are notifications."""
    kind = marker.kind or "deploy"
    return "notification" if kind == "announce" else kind


_MARKER_OPTIONAL = ("icon", "message", "comment", "environment", "hostname", "source", "status", "notifier")


def marker_view(marker: Marker) -> dict[str, Any]:
    """A marker (docs/protocols/appsignal.md) from any source (AppSignal push, this API, Rollbar deploys, CrashLog)."""
    kind = _view_kind(marker)
    view: dict[str, Any] = {"kind": kind, "id": str(marker.id), "created_at": iso(marker.created or 0.0)}
    if kind == "deploy":
        revision = marker.revision
        view.update(
            {
                "closed_at": iso(marker.finished) if marker.finished is not None else None,
                "live_for": None,
                "live_for_in_words": None,
                "gem_version": marker.gem_version,
                "repository": marker.repository,
                "revision": revision,
                "short_revision": revision[:7] if isinstance(revision, str) else None,
                "git_compare_url": None,
                "user": marker.who,
                "exception_count": None,
                "exception_rate": None,
            }
        )
    if kind == "notification" and marker.message is None:
        view["message"] = f"{marker.hostname or 'a host'} announced itself ({marker.environment or '-'})"
    for key in _MARKER_OPTIONAL:
        value = getattr(marker, key)
        if value is not None:
            view[key] = value
    return view


def list_markers(store: Store, project_id: str, query: Mapping[str, str]) -> dict[str, Any]:
    from lodge.queries import markers

    kind = query.get("kind") or None
    since = parse_timestamp("from", query.get("from"))
    until = parse_timestamp("to", query.get("to"))
    matching = read(
        "markers",
        lambda: markers.list_markers(
            store,
            project_id,
            kind=(lambda m: kind in (m.kind, _view_kind(m))) if kind is not None else None,
            since=since,
            until=until,
        ),
    )
    if parse_bool(query.get("count_only")):
        return {"count": len(matching)}
    limit = parse_limit(query.get("limit"))
    return {"count": len(matching), "markers": [marker_view(m) for m in matching[:limit]]}


_MARKER_TEXT = {"revision": 200, "repository": 1000, "user": 200, "icon": 16, "message": 1000, "environment": 100}


def marker_id(marker_file: str) -> int:
    """`<id>.json` -> the numeric marker id; anything else is a marker that does not exist (404)."""
    raw = marker_file[:-5] if marker_file.endswith(".json") else marker_file
    if not raw or not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        raise HttpError(404, "no such marker")
    return int(raw)


def marker_changes_from_api(body: Any) -> Marker:
    """The body of `PUT markers/{id}.json` (`{"marker": {...}}`): the fields to change, validated as on create."""
    if not isinstance(body, Mapping) or not isinstance(body.get("marker"), Mapping):
        raise HttpError(400, 'body must be {"marker": {...}}')
    raw = dict(body["marker"])
    if "kind" in raw:
        raise HttpError(400, "a marker's kind cannot be changed")
    given = set(raw) & (set(_MARKER_TEXT) | {"created_at"})
    if not given:
        raise HttpError(400, f"nothing to change: send one of {', '.join(sorted(_MARKER_TEXT))}")
    parsed = marker_from_api({"marker": {**raw, "kind": "custom", "message": raw.get("message") or "-"}})
    kept = {key: getattr(parsed, key) for key in _MARKER_TEXT if key in given}
    if "created_at" in given:
        kept["created"] = parsed.created
    return Marker(kind=None, **kept)  # type: ignore[arg-type]


def marker_from_api(body: Any) -> Marker:
    """The body of `POST markers.json` (`{"marker": {...}}`) as a marker; HttpError 400 if bad."""
    if not isinstance(body, Mapping) or not isinstance(body.get("marker"), Mapping):
        raise HttpError(400, 'body must be {"marker": {...}}')
    raw = body["marker"]
    kind = raw.get("kind") or "deploy"
    if kind not in ("deploy", "custom"):
        raise HttpError(400, "marker kind must be deploy or custom")
    created = raw.get("created_at")
    created_at = parse_timestamp("created_at", str(created)) if created is not None else None
    texts: dict[str, str] = {}
    for key, limit in _MARKER_TEXT.items():
        value = raw.get(key)
        if value is not None:
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise HttpError(400, f"marker {key} must be a string")
            texts[key] = str(value)[:limit]
    if kind == "custom" and not texts.get("message"):
        raise HttpError(400, "a custom marker needs a message")
    return Marker(
        kind=kind,
        source="api",
        created=round(created_at if created_at is not None else time.time(), 3),
        **texts,  # type: ignore[arg-type]
    )
