"""AppSignal push API v1 (the `appsignal` Ruby gem 0.1-0.11): wire format -> Occurrences and markers.

What the gem sends (docs/protocols/appsignal.md): a JSON array of transactions, as raw JSON
(even when labelled form-encoded, 0.3-0.4), inside a form field `log_entries=<JSON>` (0.1-0.2, with
`api_key`/`gem_version` in the form too), or zlib-deflated under a false `Content-Encoding: gzip`
(0.6-0.11). `lodge.http.Request.body()` undoes the compression by sniffing the bytes; this module
undoes the form wrapping and maps every per-version entry shape onto `Occurrence`.

Invalid JSON. Lodge first parses strictly. Only if that fails it applies one narrowly-scoped,
documented repair and parses again: (1) a comma directly before `]` or `}` is dropped (Ruby
hand-written payloads and the documentation's own example have them) and (2) at most ONE closing
bracket is dropped (the documented example has a stray `}`; `repair_json` says which). Nothing is
ever added, strings are never touched, and anything else (unclosed brackets, missing commas,
single quotes, truncation) stays a 400. Occurrences parsed from a repaired body carry
`extra["lodge_json_repaired"] = true`, so the repair is visible, never silent.

All-or-nothing: a batch is stored as one record (very large flushes in chunks of at most
`MAX_RECORD_ENTRIES` entries and `MAX_RECORD_INDEX_BYTES` of index, each chunk deterministic so a
retry de-duplicates chunk by chunk), and the caller answers 200 only when every chunk is stored.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from lodge.http import HttpError
from lodge.normalize.backtraces import parse_ruby_line
from lodge.normalize.limits import cut_depth
from lodge.normalize.ruby import coerce_inspect_values
from lodge.normalize.timestamps import parse_time
from lodge.occurrence import ExceptionInfo, Frame, Notifier, Occurrence, PerformanceEvent, RequestInfo

if TYPE_CHECKING:
    from lodge.auth import TokenInfo
    from lodge.models.markers import Marker
    from lodge.storage import Store

PROTOCOL: Final = "appsignal"
MAX_RECORD_ENTRIES = 500
"""Entries per stored record (typical index entries are ~0.2-0.4 KB). A gem flush of 20-100 entries
is always one record."""
MAX_RECORD_INDEX_BYTES = 300_000
"""Encoded index (`ix`) per stored record. Index texts are clipped but can still be ~3 KB per entry in
CJK UTF-8, so 500 of them would exceed DynamoDB's 400 KB item limit (a 503 on every retry, forever).
The rest of the item is its keys plus at most `offload_threshold` bytes of inline detail (larger
detail goes to S3), which fits in the remaining ~100 KB."""
_INDEX_ENTRY_OVERHEAD = 96
"""Bytes allowed per entry on top of its measured JSON: the `ts` and `g` fields, which are left out of
the measurement (`ts` may be the receive time and `g` is set later, so measuring them would make a
resent batch split differently), and DynamoDB's per-element overhead."""
MAX_NUMBER = 1e15
"""Largest magnitude kept for a numeric field (ms durations, statuses); larger values are dropped."""
MAX_ENTRIES = 20_000
"""More entries than this in one request is answered 413 (the gem then sends more often)."""

# Keys of a transaction hash and of its log_entry that have a home in Occurrence.
_ENTRY_KEYS = frozenset({"request_id", "log_entry", "failed", "exception", "events", "action"})
_LOG_ENTRY_KEYS = frozenset(
    {
        "action", "path", "name", "time", "duration", "status", "queue_duration", "environment", "session_data",
        "params", "revision", "tags", "hostname", "server", "method", "request_method", "exception",
    }
)  # fmt: skip


# ---- JSON with the documented repair ------------------------------------------------------------


def _reject_constant(name: str) -> None:
    """NaN/Infinity are not JSON (and cannot be stored in DynamoDB): read them as null."""
    return None


def _strict(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant)


def repair_json(text: str, *, prefer_dangling: bool = True) -> str | None:
    """Drop commas before `]`/`}` and at most one unmatched closing bracket; None if that is not enough.

    Works on tokens, so commas and brackets inside strings are never touched. Which closer is the
    stray one: where the brackets stop matching, the stray is usually earlier, a closer left behind
    a dangling comma when keys were cut out of an example (the seed document's first event payload
    ends in `"action":"show",` then `},` then more keys). So the latest such closer of the same kind
    is dropped instead, when the text then parses; otherwise the unmatched one.
    """
    out: list[str] = []
    stack: list[str] = []
    dangling: list[int] = []
    """Positions in `text` of closers that directly follow a dropped comma."""
    dropped_closers = 0
    changed = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
            continue
        if ch in "[{":
            stack.append("]" if ch == "[" else "}")
        elif ch == ",":
            j = i + 1
            while j < n and text[j] in " \t\r\n":
                j += 1
            if j < n and text[j] in "]}":
                changed = True
                dangling.append(j)
                i += 1
                continue
        elif ch in "]}":
            if not stack or stack[-1] != ch:
                if dropped_closers:
                    return None
                earlier = [j for j in dangling if text[j] == ch]
                if prefer_dangling and earlier:
                    alternative = repair_json(_without_closer(text, earlier[-1]), prefer_dangling=False)
                    if alternative is not None and _parses(alternative):
                        return alternative
                dropped_closers += 1
                changed = True
                i += 1
                continue
            stack.pop()
        out.append(ch)
        i += 1
    if stack or not changed:
        return None
    return "".join(out)


def _without_closer(text: str, at: int) -> str:
    """`text` without the closer at `at` and the comma that follows it (`},` on a line of its own)."""
    end = at + 1
    while end < len(text) and text[end] in " \t\r\n":
        end += 1
    return text[:at] + (text[end + 1 :] if end < len(text) and text[end] == "," else text[at + 1 :])


def _parses(text: str) -> bool:
    try:
        _strict(text)
    except (ValueError, RecursionError):
        return False
    return True


def parse_json(text: str) -> tuple[Any, bool]:
    """(value, repaired). Strict first; then the documented repair; else HttpError 400."""
    try:
        return _strict(text), False
    except RecursionError as error:
        raise HttpError(400, "request body is nested too deeply") from error
    except ValueError as error:
        first_error = error
    repaired = repair_json(text)
    if repaired is not None:
        try:
            return _strict(repaired), True
        except (ValueError, RecursionError):
            pass
    raise HttpError(400, f"request body is not valid JSON: {first_error}")


def _decode_text(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise HttpError(400, "request body is not valid UTF-8") from error


def split_body(body: bytes, field: str) -> tuple[str, dict[str, str]]:
    """The JSON text of a push body and the form fields around it (0.1-0.2 form bodies).

    A body that starts like JSON is JSON, whatever its Content-Type says; otherwise it must be a
    form carrying `field` (`log_entries` or `marker_data`).
    """
    from lodge.http import first_json_byte, parse_form

    first = first_json_byte(body)
    if first is None:
        raise HttpError(400, "empty request body")
    if first in b"[{":
        return _decode_text(body), {}
    form = parse_form(body)
    if field not in form:
        raise HttpError(400, f"request body is neither JSON nor a form with a {field} field")
    return form[field], form


# ---- value coercion -----------------------------------------------------------------------------


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        if isinstance(value, (int, float)):
            number = float(value)  # OverflowError for a huge JSON int such as 10**400
        elif isinstance(value, str):
            number = float(value.strip())
        else:
            return None
    except (ValueError, OverflowError):
        return None
    # Non-finite and absurd magnitudes are junk, and DynamoDB cannot store numbers beyond 1e125.
    return number if math.isfinite(number) and abs(number) <= MAX_NUMBER else None


def _int(value: Any) -> int | None:
    number = _float(value)
    if number is None or abs(number) > 2**53:
        return None
    return int(number)


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def _dict(value: Any) -> dict[str, Any] | None:
    return {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else None


# ---- backtraces ---------------------------------------------------------------------------------


def parse_backtrace(lines: Any) -> list[Frame]:
    """Ruby backtrace lines ("file:line:in `method'", most recent FIRST) as frames, most recent LAST."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    if not isinstance(lines, list):
        return []
    frames: list[Frame] = []
    for raw in lines:
        line = _str(raw)
        if not line:
            continue
        parts = parse_ruby_line(line.strip(), allow_empty_file=False)
        if parts:
            frames.append(Frame(filename=parts[0], lineno=parts[1], method=parts[2]))
        else:
            frames.append(Frame(filename=line.strip()))
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
        name = _str(raw.get("exception") or raw.get("name")) or "Exception"
        rest = {str(k): v for k, v in raw.items() if k not in ("exception", "name", "message", "backtrace")}
        for clash in ("type", "frames", "description"):  # ExceptionInfo's own fields: keep, renamed
            if clash in rest:
                rest[f"client_{clash}"] = rest.pop(clash)
        return ExceptionInfo(
            type=name[:500], message=_str(raw.get("message")), frames=parse_backtrace(raw.get("backtrace")), **rest
        )
    # Rails 3 puts `exception: ["Class", "message"]` into the process_action payload.
    legacy = log_entry.get("exception")
    if isinstance(legacy, list) and legacy and legacy[0]:
        return ExceptionInfo(type=str(legacy[0])[:500], message=_str(legacy[1]) if len(legacy) > 1 else None)
    return None


def sends_inspect_strings(gem_version: str | None) -> bool:
    """Gems 0.1-0.2 send event payload values as Ruby `inspect` strings ("950.759", ":html")."""
    return bool(gem_version) and str(gem_version).strip().startswith(("0.1.", "0.2."))


def _events(raw: Any, inspected: bool = False) -> list[PerformanceEvent] | None:
    if not isinstance(raw, list) or not raw:
        return None
    events = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        rest = {str(k): v for k, v in item.items() if k not in ("name", "duration", "time", "end", "payload")}
        payload = item.get("payload")
        if payload is not None and not isinstance(payload, Mapping):
            rest["payload_raw"], payload = payload, None
        elif payload is not None and inspected:
            payload = coerce_inspect_values(dict(payload))
        events.append(
            PerformanceEvent(
                name=_str(item.get("name")),
                duration=_float(item.get("duration")),
                time=parse_time(item.get("time")),
                end=parse_time(item.get("end")),
                payload=_dict(payload),
                **rest,
            )
        )
    return events or None


def _request(log_entry: Mapping[str, Any], path: str | None) -> RequestInfo | None:
    env = _dict(log_entry.get("environment"))
    params = _dict(log_entry.get("params"))
    session = _dict(log_entry.get("session_data"))
    method = _str(log_entry.get("method") or log_entry.get("request_method") or (env or {}).get("REQUEST_METHOD"))
    user_ip = _str((env or {}).get("REMOTE_ADDR"))
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
    path = _str(log_entry.get("path")) or _str(log_entry.get("name"))  # 0.1 sends `name`
    legacy_env = log_entry.get("environment")
    # Two environments may be named: the query's (the gem's configured environment for the whole
    # push, 0.7+) and gem 0.1's `log_entry.environment` (the Rails environment of that entry). The
    # query's wins, because it is the one every entry of the push shares and the one markers carry;
    # the entry's own is kept beside it (`extra.log_entry_environment`), never dropped.
    environment = (query.get("environment") or "").strip() or (
        legacy_env.strip() if isinstance(legacy_env, str) and legacy_env.strip() else "production"
    )
    hostname = (query.get("hostname") or "").strip() or _str(log_entry.get("hostname") or log_entry.get("server"))
    # 0.2-0.4 send the full "Controller#action" at the top level; their log_entry.action is the bare name.
    action = _str(entry.get("action") or log_entry.get("action"))
    revision = _str(log_entry.get("revision"))
    tags = _dict(log_entry.get("tags"))

    extra: dict[str, Any] = {str(k): v for k, v in log_entry.items() if k not in _LOG_ENTRY_KEYS}
    inspected = sends_inspect_strings(query.get("gem_version"))
    if inspected:
        extra = coerce_inspect_values(extra)
    if "end" in extra:
        extra["end"] = parse_time(extra["end"]) or extra["end"]
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
        timestamp=parse_time(log_entry.get("time")),
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
        duration=_float(log_entry.get("duration")),
        status=_int(log_entry.get("status")),
        queue_duration=_float(log_entry.get("queue_duration")),
        events=_events(entry.get("events"), inspected),
        notifier=Notifier(name="appsignal-ruby", version=query.get("gem_version") or None),
        extra=extra or None,
    )


def parse_batch(body: bytes, *, project_id: str, query: Mapping[str, str], received_at: float) -> list[Occurrence]:
    """A whole push body as Occurrences, in the client's order; HttpError 400/413 for a bad batch."""
    text, _form = split_body(body, "log_entries")
    batch, repaired = parse_json(text)
    if isinstance(batch, Mapping):
        batch = [batch]  # a single transaction hash: lenient, same meaning
    if not isinstance(batch, list):
        raise HttpError(400, "log_entries must be a JSON array of transactions")
    if not batch:
        raise HttpError(400, "empty batch: no log entries")
    if len(batch) > MAX_ENTRIES:
        raise HttpError(413, f"too many log entries in one request (limit {MAX_ENTRIES})")
    occurrences = []
    for position, entry in enumerate(batch):
        try:
            occurrences.append(
                to_occurrence(entry, project_id=project_id, query=query, received_at=received_at, repaired=repaired)
            )
        except HttpError as error:
            raise HttpError(400, f"log entry {position}: {error.message}") from error
    return occurrences


def form_fields(body: bytes) -> dict[str, str]:
    """The form fields of a 0.1-0.2 body (api_key, gem_version), or {} for a JSON body."""
    from lodge.http import first_json_byte, parse_form

    first = first_json_byte(body)
    if first is None or first in b"[{":
        return {}
    try:
        return parse_form(body)
    except HttpError:
        return {}


def _index_bytes(occurrence: Occurrence) -> int:
    """An upper bound of the occurrence's index entry in the stored item, from its content alone."""
    from lodge.storage.records import index_entry_size

    return index_entry_size(occurrence) + _INDEX_ENTRY_OVERHEAD


def chunks(occurrences: list[Occurrence]) -> list[list[Occurrence]]:
    """Deterministic record-sized slices of a batch, in order (one slice for any normal flush).

    A slice ends at `MAX_RECORD_ENTRIES` entries or before its index would pass
    `MAX_RECORD_INDEX_BYTES`. Sizes depend only on the entries' content, so a resent batch splits
    identically and every slice is a duplicate of the one stored first.
    """
    parts: list[list[Occurrence]] = []
    current: list[Occurrence] = []
    size = 0
    for occurrence in occurrences:
        entry_size = _index_bytes(occurrence)
        if current and (len(current) >= MAX_RECORD_ENTRIES or size + entry_size > MAX_RECORD_INDEX_BYTES):
            parts.append(current)
            current, size = [], 0
        current.append(occurrence)
        size += entry_size
    if current:
        parts.append(current)
    return parts


# ---- authentication -----------------------------------------------------------------------------


def authenticate(store: Store, api_key: str, *, rate_limited: bool = True) -> TokenInfo:
    """The push key's token (401 unless it has the appsignal_push scope); enforces its rate limit
    on the ingest path (markers and key checks are rare, and their function has no UpdateItem grant).

    Over the limit the answer is 420 "Enhance Your Calm": the gem backs off (`sleep_time *= 1.5`),
    whereas 429 would stop its agent until the process restarts (docs/protocols/appsignal.md).
    """
    import time

    from lodge import auth
    from lodge.storage.errors import relabelled

    with relabelled("could not look up the push api key"):  # a 503: the gem keeps the batch and retries
        info = auth.lookup(store, api_key)
    if info is None or not info.allows(auth.APPSIGNAL_PUSH):
        raise HttpError(401, "invalid push api key")
    if rate_limited and info.rate_limit is not None:
        with relabelled("could not count the request against the rate limit"):
            allowed, _remaining, reset = store.hit_rate_limit(info.token_hash, info.rate_limit)
        if not allowed:
            retry = str(max(1, reset - int(time.time())))
            raise HttpError(420, "rate limit exceeded", headers={"Retry-After": retry})
    return info


# ---- markers ------------------------------------------------------------------------------------


def parse_marker(body: bytes, query: Mapping[str, str], received_at: float) -> Marker:
    """A push deploy marker (`marker_data` form field in 0.1-0.2, JSON after) as a Marker."""
    from lodge.models.markers import Marker

    text, _form = split_body(body, "marker_data")
    data, _repaired = parse_json(text)
    if not isinstance(data, Mapping):
        raise HttpError(400, "marker must be a JSON object")
    environment = (query.get("environment") or "").strip() or _str(data.get("rails_env")) or "production"

    def clipped(key: str) -> str | None:
        value = _str(data.get(key))
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
