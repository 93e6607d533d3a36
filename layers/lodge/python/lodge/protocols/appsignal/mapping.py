"""One AppSignal transaction hash (any gem version's shape, 0.1-0.11) -> `Occurrence`.

What the gems send is in docs/protocols/appsignal.md; `wire` has already undone the form wrapping
and the compression, and `push` calls this for every entry of a batch. Values are mapped as sent:
times, backtrace lines and gem 0.1-0.2's Ruby `inspect` strings ("950.759", ":html") are read by
the normalization pass (`lodge.normalize`), which every occurrence goes through in `lodge.ingest`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

from lodge.http import HttpError
from lodge.normalize.limits import cut_depth
from lodge.occurrence import ExceptionInfo, Frame, Notifier, Occurrence, PerformanceEvent, RequestInfo, SentTime
from lodge.protocols.appsignal.wire import as_dict, as_float, as_int, as_text

PROTOCOL: Final = "appsignal"

# Keys of a transaction hash and of its log_entry that have a home in Occurrence.
_ENTRY_KEYS = frozenset({"request_id", "log_entry", "failed", "exception", "events", "action"})
_LOG_ENTRY_KEYS = frozenset(
    {
        "action", "path", "name", "time", "duration", "status", "queue_duration", "environment", "session_data",
        "params", "revision", "tags", "hostname", "server", "method", "request_method", "exception",
    }
)  # fmt: skip


def parse_backtrace(lines: Any) -> list[Frame]:
    """Ruby backtrace lines ("file:line:in `method'", most recent FIRST) as frames, most recent LAST;
    each frame is its line (`Frame.from_line`) until normalization reads it."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    if not isinstance(lines, list):
        return []
    frames: list[Frame] = []
    for raw in lines:
        line = as_text(raw)
        if not line:
            continue
        frames.append(Frame.from_line(line.strip()))
    frames.reverse()
    return frames


# ---- entries -> Occurrences ---------------------------------------------------------------------


def _client_id(entry: Mapping[str, Any]) -> str:
    """The gem's request_id; for an entry without one, a digest of its content, so a resent
    batch still maps onto the same record."""
    request_id = entry.get("request_id")
    if isinstance(request_id, (str, int)) and not isinstance(request_id, bool) and str(request_id).strip():
        return str(request_id)[:200]
    canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _exception(entry: Mapping[str, Any], log_entry: Mapping[str, Any]) -> ExceptionInfo | None:
    raw = entry.get("exception")
    if isinstance(raw, Mapping) and (raw.get("exception") or raw.get("name") or raw.get("message")):
        name = as_text(raw.get("exception") or raw.get("name")) or "Exception"
        rest = {str(k): v for k, v in raw.items() if k not in ("exception", "name", "message", "backtrace")}
        for clash in ("type", "frames", "description"):  # ExceptionInfo's own fields: keep, renamed
            if clash in rest:
                rest[f"client_{clash}"] = rest.pop(clash)
        return ExceptionInfo(
            type=name[:500], message=as_text(raw.get("message")), frames=parse_backtrace(raw.get("backtrace")), **rest
        )
    # Rails 3 puts `exception: ["Class", "message"]` into the process_action payload.
    legacy = log_entry.get("exception")
    if isinstance(legacy, list) and legacy and legacy[0]:
        return ExceptionInfo(type=str(legacy[0])[:500], message=as_text(legacy[1]) if len(legacy) > 1 else None)
    return None


def _events(raw: Any, times: list[SentTime]) -> list[PerformanceEvent] | None:
    """The instrumentation events; their times as sent go to `times`, for normalization."""
    if not isinstance(raw, list) or not raw:
        return None
    events: list[PerformanceEvent] = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        rest = {str(k): v for k, v in item.items() if k not in ("name", "duration", "time", "end", "payload")}
        payload = item.get("payload")
        if payload is not None and not isinstance(payload, Mapping):
            rest["payload_raw"], payload = payload, None
        for name in ("time", "end"):
            if item.get(name) is not None:
                times.append(SentTime(("events", len(events), name), (item[name],)))
        events.append(
            PerformanceEvent(
                name=as_text(item.get("name")),
                duration=as_float(item.get("duration")),
                payload=as_dict(payload),
                **rest,
            )
        )
    return events or None


def _request(log_entry: Mapping[str, Any], path: str | None) -> RequestInfo | None:
    env = as_dict(log_entry.get("environment"))
    params = as_dict(log_entry.get("params"))
    session = as_dict(log_entry.get("session_data"))
    method = as_text(log_entry.get("method") or log_entry.get("request_method") or (env or {}).get("REQUEST_METHOD"))
    user_ip = as_text((env or {}).get("REMOTE_ADDR"))
    if not any((env, params, session, method, user_ip, path)):
        return None
    return RequestInfo(url=path, method=method, params=params, session=session, env=env, user_ip=user_ip)


def to_occurrence(
    entry: Any, *, project_id: str, query: Mapping[str, str], received_at: float, repaired: bool = False
) -> Occurrence:
    """One transaction hash (any gem version's shape) as an Occurrence; HttpError 400 if not a hash."""
    if not isinstance(entry, Mapping):
        raise HttpError(400, "every log entry must be a JSON object")
    entry = cut_depth(entry)
    raw_log_entry = entry.get("log_entry")
    log_entry: Mapping[str, Any] = raw_log_entry if isinstance(raw_log_entry, Mapping) else {}
    exception = _exception(entry, log_entry)
    failed = entry.get("failed") is True or exception is not None
    path = as_text(log_entry.get("path")) or as_text(log_entry.get("name"))  # 0.1 sends `name`
    legacy_env = log_entry.get("environment")
    # Two environments may be named: the query's (the gem's configured environment for the whole
    # push, 0.7+) and gem 0.1's `log_entry.environment` (the Rails environment of that entry). The
    # query's wins, because it is the one every entry of the push shares and the one markers carry;
    # the entry's own is kept beside it (`extra.log_entry_environment`), never dropped.
    environment = (query.get("environment") or "").strip() or (
        legacy_env.strip() if isinstance(legacy_env, str) and legacy_env.strip() else "production"
    )
    hostname = (query.get("hostname") or "").strip() or as_text(log_entry.get("hostname") or log_entry.get("server"))
    # 0.2-0.4 send the full "Controller#action" at the top level; their log_entry.action is the bare name.
    action = as_text(entry.get("action") or log_entry.get("action"))
    revision = as_text(log_entry.get("revision"))
    tags = as_dict(log_entry.get("tags"))

    extra: dict[str, Any] = {str(k): v for k, v in log_entry.items() if k not in _LOG_ENTRY_KEYS}
    times = [SentTime(("timestamp",), (log_entry.get("time"),))]
    if "end" in extra:  # gem 0.1's end of the request: a time where it reads as one, else as sent
        times.append(SentTime(("extra", "end"), (extra["end"],), keep_at=("extra", "end")))
    rest = {str(k): v for k, v in entry.items() if k not in _ENTRY_KEYS}
    if rest:
        extra["entry"] = rest
    for key in ("exception", "events"):  # odd shapes that did not map: kept, not lost
        value = entry.get(key)
        if value and (exception is None if key == "exception" else not isinstance(value, list)):
            extra[key] = value
    if exception is not None and isinstance(log_entry.get("exception"), list):
        extra["log_entry_exception"] = log_entry["exception"]
    if isinstance(legacy_env, str):
        extra["log_entry_environment"] = legacy_env
    if entry.get("action") and log_entry.get("action") not in (None, entry.get("action")):
        extra["log_entry_action"] = log_entry["action"]
    if query.get("name"):
        extra["app_name"] = query["name"]
    if repaired:
        extra["lodge_json_repaired"] = True

    return Occurrence(
        project_id=project_id,
        protocol=PROTOCOL,
        client_id=_client_id(entry),
        received_at=received_at,
        kind="error" if failed else "performance",
        level="error" if failed else "info",
        environment=environment[:100],
        exceptions=[exception] if exception else [],
        message=exception.message if exception else None,
        request=_request(log_entry, path),
        tags=tags,
        code_version=revision,
        language="ruby",
        context=action,
        hostname=hostname or None,
        action=action,
        path=path,
        duration=as_float(log_entry.get("duration")),
        status=as_int(log_entry.get("status")),
        queue_duration=as_float(log_entry.get("queue_duration")),
        events=_events(entry.get("events"), times),
        notifier=Notifier(name="appsignal-ruby", version=query.get("gem_version") or None),
        extra=extra or None,
    ).with_sent_times(*times)
