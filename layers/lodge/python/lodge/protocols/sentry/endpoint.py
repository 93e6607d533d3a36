"""The two ingest endpoints: `POST /api/{project}/envelope/` and the legacy `POST /api/{project}/store/`.

Order of checks, as Relay's: the path, then the credential (so an unauthenticated body is never
parsed beyond its envelope header, which may itself carry the DSN), then the body. Every item type
is accepted and counted; only `event` items become occurrences, and a `client_report`'s discard
counts are added to the project's daily tally. A 200 means everything kept is durably stored.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lodge import flood
from lodge.http import HttpError, Request, decompress
from lodge.ingest import ingest
from lodge.protocols.sentry import auth as sentry_auth
from lodge.protocols.sentry import envelope as envelopes
from lodge.protocols.sentry import mapping, outcomes
from lodge.protocols.sentry.answers import fail
from lodge.storage.errors import relabelled

if TYPE_CHECKING:
    from lodge.occurrence import Occurrence
    from lodge.storage import Store

MAX_EVENT_BYTES = 1024 * 1024
"""Relay's `max_event_size`: 1 MiB of decoded event JSON."""
MAX_ENVELOPE_BYTES = 20 * 1024 * 1024
"""Decoded envelope bound. Relay allows 100 MiB decoded (20 MiB compressed), but a Lambda request is
at most 6 MB on the wire, so 20 MiB leaves room for a 3-4x compression ratio and keeps a 256 MB
function safe; what does not fit is answered 413 by API Gateway or here."""
KNOWN_TYPES = frozenset(
    {
        "event", "transaction", "session", "sessions", "client_report", "attachment", "check_in", "log",
        "replay_event", "replay_recording", "replay_video", "profile", "profile_chunk", "span", "statsd",
        "metric_buckets", "user_report", "feedback", "security", "raw_security", "otel_log", "trace_metric",
    }
)  # fmt: skip
"""Item types counted by name; any other type is still accepted and counted as `other`."""
_PATH = re.compile(r"/api/([^/]+)/(envelope|store)/?")


@dataclass
class Outcome:
    event_id: str | None
    stored: int = 0
    duplicate: bool = False
    items: Counter[str] = field(default_factory=Counter)
    """Item count per type (the metric dimension)."""


def project_of(request: Request, endpoint: str) -> str:
    """The project the path names. Greedy trailing-slash routes let other paths in: 404 those."""
    match = _PATH.fullmatch(request.path)
    if match is None or match.group(2) != endpoint:
        raise fail(404, "not found")
    return sentry_auth.project_from_path(match.group(1))


def decoded_body(request: Request, max_bytes: int) -> bytes:
    """gzip/deflate sniffed as for every protocol, br when the runtime has brotli; JSON text passes as is."""
    encoding = request.header("content-encoding").strip().lower()
    raw = request.raw_body
    if encoding == "br":
        return _brotli(raw, max_bytes)
    if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        raise fail(415, "unsupported content encoding", [f"{encoding[:32]!r}: send gzip, deflate or no encoding"])
    if encoding in ("", "identity") and raw.lstrip()[:1] == b"{":
        # Plain JSON lines, possibly followed by binary attachments: nothing to sniff.
        if len(raw) > max_bytes:
            raise fail(413, "envelope exceeded size limits", [f"more than {max_bytes} bytes"])
        return raw
    return request.body(max_bytes) if encoding else decompress(_bounded(raw, max_bytes), max_bytes)


def _bounded(raw: bytes, max_bytes: int) -> bytes:
    if len(raw) > max_bytes and raw[:2] != b"\x1f\x8b":
        raise fail(413, "envelope exceeded size limits", [f"more than {max_bytes} bytes"])
    return raw


def _brotli(raw: bytes, max_bytes: int) -> bytes:
    try:
        import brotli  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise fail(
            415, "unsupported content encoding", ["br: this runtime has no brotli; use gzip or deflate"]
        ) from None
    try:
        out: bytes = brotli.Decompressor().process(raw)
    except Exception as error:  # brotli.error has no stable import path across bindings
        raise fail(400, "invalid body", ["the brotli stream could not be decompressed"]) from error
    if len(out) > max_bytes:
        raise fail(413, "envelope exceeded size limits", [f"more than {max_bytes} bytes decompressed"])
    return out


def _has_request_key(request: Request) -> bool:
    authorization = request.header("authorization")
    return bool(
        request.header("x-sentry-auth") or "sentry_key" in request.query or authorization[:7].lower() == "sentry "
    )


def _event(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_EVENT_BYTES:
        raise fail(413, "envelope exceeded size limits", [f"an event item is larger than {MAX_EVENT_BYTES} bytes"])
    try:
        value = json.loads(payload.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise fail(400, "invalid event payload", ["the event is not valid JSON"]) from None
    if not isinstance(value, dict):
        raise fail(400, "invalid event payload", ["the event is not a JSON object"])
    return value


def _client_report(payload: bytes) -> Counter[str]:
    """Discard counts; a malformed report is ignored (it must never fail the request)."""
    try:
        return outcomes.discards(json.loads(payload.decode("utf-8")))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return Counter()


def _store(store: Store, project_id: str, occurrences: list[Occurrence], received_at: float, outcome: Outcome) -> None:
    if not occurrences:
        return
    result = ingest(store, project_id, occurrences, received_at, flood.GATE)
    outcome.stored = 0 if result.duplicate else len(occurrences)
    outcome.duplicate = result.duplicate


def _record_discards(store: Store, project_id: str, counts: Counter[str], received_at: float) -> None:
    with relabelled("could not record the client report"):
        outcomes.record(store, project_id, counts, received_at)


def envelope(request: Request, store: Store, received_at: float) -> Outcome:
    project_id = project_of(request, "envelope")
    if _has_request_key(request):
        sentry_auth.authenticate(store, request, project_id, None)
        parsed = envelopes.parse(decoded_body(request, MAX_ENVELOPE_BYTES))
        if "dsn" in parsed.headers:
            sentry_auth.presented_key(request, parsed.headers)  # must name the same key
    else:
        parsed = envelopes.parse(decoded_body(request, MAX_ENVELOPE_BYTES))
        sentry_auth.authenticate(store, request, project_id, parsed.headers)
    header_id = parsed.headers.get("event_id")
    outcome = Outcome(mapping.event_id(header_id) if header_id is not None else None)
    occurrences: list[Occurrence] = []
    discards: Counter[str] = Counter()
    for item in parsed.items:
        outcome.items[item.type if item.type in KNOWN_TYPES else "other"] += 1
        if item.type == "event":
            event = _event(item.payload)
            client_id = mapping.event_id(event.get("event_id"), header_id)
            occurrences.append(mapping.to_occurrence(event, project_id, client_id, received_at))
            outcome.event_id = outcome.event_id or client_id
        elif item.type == "client_report":
            discards.update(_client_report(item.payload))
    _store(store, project_id, occurrences, received_at, outcome)
    _record_discards(store, project_id, discards, received_at)
    return outcome


def _legacy_body(data: bytes) -> bytes:
    """Old SDKs sent the store body base64-encoded (and zlib-compressed inside)."""
    if data.lstrip()[:1] == b"{":
        return data
    try:
        decoded = base64.b64decode(data.strip(), validate=True)
    except (binascii.Error, ValueError):
        return data
    try:
        return decompress(decoded, MAX_EVENT_BYTES)
    except HttpError:
        return decoded


def store_event(request: Request, store: Store, received_at: float) -> Outcome:
    project_id = project_of(request, "store")
    sentry_auth.authenticate(store, request, project_id, None)
    data = decoded_body(request, MAX_EVENT_BYTES)
    event = _event(_legacy_body(data))
    client_id = mapping.event_id(event.get("event_id"))
    outcome = Outcome(client_id)
    kind = event.get("type")
    outcome.items["transaction" if kind == "transaction" else "event"] += 1
    if kind != "transaction":
        _store(
            store, project_id, [mapping.to_occurrence(event, project_id, client_id, received_at)], received_at, outcome
        )
    return outcome
