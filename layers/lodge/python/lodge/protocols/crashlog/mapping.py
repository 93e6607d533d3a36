"""CrashLog "stdin" protocol: HMAC request auth, `/events` payload -> Occurrence, `/announce`, `/locate`.

Wire facts: docs/protocols/crashlog.md (the Ruby gem 1.0.7, the Node client, the Java appender).

Authentication (`Authorization: CrashLog|Staging <api_key>:<base64 HMAC-SHA1>`) signs the string
`VERB\\nContent-Type\\nContent-MD5\\nDate\\npath` - path without query, missing headers as "", no
trailing newline - with the project's secret (its raw bytes). Lodge adds two checks the original
gem never made: a Content-MD5 header, when sent, must match the body (hex as Node sends it, or
RFC 1864 base64), and the Date must lie within `CRASHLOG_DATE_WINDOW_SECONDS` (default 900; 0
turns the check off, e.g. to replay the signed sample events in events/).

Known weaknesses of the protocol, which Lodge cannot fix without breaking the real clients:
- Without Content-MD5 (the Ruby gem and the Java appender never send it) the body is NOT signed.
  Anyone who sees one signed request can send any body with the same headers until the Date falls
  out of the window. Node with `checksum:true` sends the MD5 but signs an empty MD5 slot, so its
  body is not protected either. Lodge does not reject a repeated signature: two different events
  sent in the same second legitimately carry the same one.
- The api key travels in clear text. So TLS is what actually protects CrashLog traffic; never point
  a client at Lodge over plain HTTP outside a trusted network.

Failures are one uniform 401 with a JSON body (the Ruby client crashes on a non-JSON body) that
never says which part was wrong; signatures are compared in constant time and never logged.

Location ids are random uuid4s (122 bits) and the occurrence's client id, so the stored record is
`occurrence_id_for("crashlog", location_id)` in the project's partition: ingest stays one record
write plus one group update. A location id alone does not name its project, so `/locate` needs a
credential (a CrashLog-signed GET, or `?token=` with a read scope) and looks only in that project.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from lodge import auth
from lodge.http import HttpError, Request, loads
from lodge.ids import occurrence_id_for
from lodge.normalize.backtraces import parse_line
from lodge.normalize.limits import clip
from lodge.normalize.numbers import loose_int
from lodge.normalize.timestamps import parse_http_date, parse_time
from lodge.storage.errors import relabelled

if TYPE_CHECKING:
    from pydantic import BaseModel

    from lodge.models.markers import Marker
    from lodge.occurrence import Frame, Occurrence, Person, RequestInfo
    from lodge.storage import Store

SERVICE_IDS = ("CrashLog", "Staging")
DATE_WINDOW_ENV = "CRASHLOG_DATE_WINDOW_SECONDS"
DEFAULT_DATE_WINDOW_SECONDS = 15 * 60
AUTH_FAILED = "HMAC authentication failed"

_AUTHORIZATION = re.compile(r"^(CrashLog|Staging) ([^:]+):(.+)$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


# ---- HMAC --------------------------------------------------------------------------------------


def canonical_string(method: str, content_type: str, content_md5: str, date: str, path: str) -> str:
    """The signed string: exactly four newlines, no trailing one; the path loses its query string."""
    return "\n".join((method, content_type, content_md5, date, path.split("?", 1)[0]))


def sign(secret: str, canonical: str) -> str:
    """base64(HMAC-SHA1(secret bytes, canonical)): 28 characters ending in `=`."""
    mac = hmac.new(secret.encode("utf-8"), canonical.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(mac).decode("ascii")


def parse_authorization(header: str) -> tuple[str, str, str] | None:
    """`CrashLog <key>:<signature>` -> (service id, api key, signature); None for any other form."""
    match = _AUTHORIZATION.match(header.strip())
    if not match:
        return None
    return match.group(1), match.group(2), match.group(3).strip()


def md5_matches(header_value: str, body: bytes) -> bool:
    """Content-MD5 as RFC 1864 base64, or the lowercase hex the Node client sends."""
    digest = hashlib.md5(body, usedforsecurity=False).digest()
    value = header_value.strip()
    if re.fullmatch(r"[0-9a-fA-F]{32}", value):
        return auth.constant_time_equals(value.lower(), digest.hex())
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return auth.constant_time_equals(decoded, digest)


def date_window_seconds() -> int:
    """Allowed |now - Date| in seconds; 0 (or a negative value) disables the check."""
    raw = os.environ.get(DATE_WINDOW_ENV, "").strip()
    try:
        return int(raw) if raw else DEFAULT_DATE_WINDOW_SECONDS
    except ValueError:
        return DEFAULT_DATE_WINDOW_SECONDS


def _unauthorized() -> HttpError:
    return HttpError(401, AUTH_FAILED, headers={"WWW-Authenticate": "CrashLog"})


def signed_path(request: Request) -> str:
    """The request-target path as the client sent it (not percent-decoded), without the query."""
    raw = request.event.get("rawPath")
    return str(raw) if raw else request.path


def verify(store: Store, request: Request, now: float | None = None) -> auth.TokenInfo:
    """Authenticate a CrashLog-signed request; any failure is the same 401, whatever went wrong."""
    parsed = parse_authorization(request.header("authorization"))
    if parsed is None:
        raise _unauthorized()
    _service, api_key, signature = parsed
    info = auth.lookup(store, api_key)
    if info is None or not info.allows(auth.CRASHLOG) or not info.secret:
        raise _unauthorized()

    date = request.header("date")
    if not date:
        raise _unauthorized()
    window = date_window_seconds()
    if window > 0:
        sent = parse_http_date(date)
        current = time.time() if now is None else now
        if sent is None or abs(current - sent) > window:
            raise _unauthorized()

    content_md5 = request.header("content-md5")
    if content_md5 and not md5_matches(content_md5, request.raw_body):
        raise _unauthorized()

    content_type = request.header("content-type")
    path = signed_path(request)
    expected = sign(info.secret, canonical_string(request.method, content_type, content_md5, date, path))
    accepted = auth.constant_time_equals(signature, expected)
    if content_md5:
        # The Node client sends Content-MD5 but always signs an empty MD5 slot (docs/protocols/crashlog.md).
        unsigned_md5 = sign(info.secret, canonical_string(request.method, content_type, "", date, path))
        accepted = auth.constant_time_equals(signature, unsigned_md5) | accepted
    if not accepted:
        raise _unauthorized()
    return info


def enforce_rate_limit(store: Store, info: auth.TokenInfo) -> None:
    """Per-credential limit, only for credentials that have one (no counter write otherwise)."""
    if not info.rate_limit:
        return
    with relabelled("could not count the request against the rate limit"):
        allowed, _remaining, reset = store.hit_rate_limit(info.token_hash, info.rate_limit)
    if not allowed:
        retry_after = str(max(1, reset - int(time.time())))
        raise HttpError(429, "rate limit exceeded", headers={"Retry-After": retry_after})


# ---- payloads ----------------------------------------------------------------------------------


def payload_of(body: bytes) -> dict[str, Any]:
    """The `payload` object every CrashLog request body wraps its content in."""
    document = _loads(body)
    if not isinstance(document, dict) or not isinstance(document.get("payload"), dict):
        raise HttpError(400, 'request body must be a JSON object with a "payload" object')
    payload: dict[str, Any] = document["payload"]
    return payload


def signed_payload(store: Store, request: Request, max_body_bytes: int) -> tuple[auth.TokenInfo, dict[str, Any]]:
    """The prologue of every signed POST (/events, /announce), in its one safe order: the signature
    first (nothing is decoded for an unauthenticated caller), then the rate limit, then the body."""
    info = verify(store, request)
    enforce_rate_limit(store, info)
    return info, payload_of(request.body(max_body_bytes))


def _loads(body: bytes) -> Any:
    if not body.strip():
        raise HttpError(400, "request body is empty")
    return loads(body)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = value if isinstance(value, str) else str(value)
    return text or None


def _str_list(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    return [item if isinstance(item, str) else json.dumps(item) for item in value]


def _leftovers(raw: dict[str, Any], known: set[str], model: type[BaseModel]) -> dict[str, Any]:
    """Client keys the mapping did not use, kept as a model's extras; names that clash with a
    model field get a `crashlog_` prefix so a stray key can never fail validation."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in known:
            continue
        name = str(key)
        out[f"crashlog_{name}" if name in model.model_fields else name] = value
    return out


_FRAME_KEYS = {"file", "number", "method", "context_line", "pre_context", "post_context"}


def _frame(entry: Any, language: str | None) -> Frame:
    from lodge.occurrence import Frame

    if isinstance(entry, str):  # a raw backtrace line ("file:line:in `method'" from Ruby)
        parsed = parse_line(entry, language)
        if parsed:
            filename, lineno, method = parsed
            return Frame(filename=filename, lineno=lineno, method=method)
        return Frame(filename=entry)
    if not isinstance(entry, dict):
        return Frame.model_validate({"crashlog_frame": entry})
    lineno = loose_int(entry.get("number"))
    extras = _leftovers(entry, _FRAME_KEYS, Frame)
    if lineno is None and entry.get("number") is not None:
        extras["crashlog_number"] = entry["number"]
    return Frame(
        filename=_str(entry.get("file")),
        lineno=lineno,
        method=_str(entry.get("method")),
        code=_str(entry.get("context_line")),
        context_pre=_str_list(entry.get("pre_context")),
        context_post=_str_list(entry.get("post_context")),
        **extras,
    )


def frames_of(backtrace: Any, language: str | None = None) -> list[Frame]:
    """CrashLog backtraces are most recent FIRST (Ruby, V8 and Java order); Lodge's are most recent last.

    String entries are parsed as backtrace lines of the notifier's language (Ruby unless it names another)."""
    if not isinstance(backtrace, list):
        return []
    return [_frame(entry, language) for entry in reversed(backtrace)]


def _context_label(context: dict[str, Any]) -> str | None:
    """`controller#action` (Rails), or whatever of the two is there (`rake#crashlog:test`)."""
    controller: Any = context.get("controller")
    action: Any = context.get("action")
    if isinstance(controller, dict):  # the API document's example nests them
        action = action if action is not None else controller.get("action")
        controller = controller.get("name")
    controller, action = _str(controller), _str(action)
    if controller and action:
        return f"{controller}#{action}"
    return action or controller


def _person(context: dict[str, Any], data: dict[str, Any]) -> Person | None:
    from lodge.occurrence import Person

    user: Any = context.get("current_user")
    if user is None:
        user = data.get("user")
    if user is None:
        return None
    if not isinstance(user, dict):
        return Person(id=_str(user))
    known = {"id", "user_id", "username", "email"}
    return Person(
        id=_str(user.get("id", user.get("user_id"))),
        username=_str(user.get("username")),
        email=_str(user.get("email")),
        **_leftovers(user, known, Person),  # name, login, ...: kept, not dropped
    )


def _request(data: dict[str, Any]) -> RequestInfo | None:
    """Request facts: `data.request{...}` (gem 1.1.0) or `data.url/parameters/...` (gem 1.0.7)."""
    from lodge.occurrence import RequestInfo

    nested = data.get("request")
    source = nested if isinstance(nested, dict) else data
    url = _str(source.get("url"))
    env_raw = source.get("environment", source.get("cgi_data"))
    method = _str(source.get("method")) or (_str(env_raw.get("REQUEST_METHOD")) if isinstance(env_raw, dict) else None)
    headers = source.get("headers")
    params = source.get("parameters")
    session = source.get("session", source.get("session_data"))
    env = source.get("environment", source.get("cgi_data"))
    query_string = _str(source.get("query_string"))
    if not any((url, method, isinstance(params, dict), isinstance(headers, dict))):
        return None
    return RequestInfo(
        url=url,
        method=method,
        headers=headers if isinstance(headers, dict) else None,
        query_string=query_string,
        params=params if isinstance(params, dict) else None,
        session=session if isinstance(session, dict) else None,
        env=env if isinstance(env, dict) else None,
    )


def _framework(system: dict[str, Any]) -> str | None:
    libraries = _dict(system.get("libraries_loaded"))
    for name in ("rails", "sinatra", "padrino", "grape"):
        if name in libraries:
            return name
    return None


_PAYLOAD_KEYS = {"notifier", "event", "backtrace", "environment", "context", "data"}
_EVENT_KEYS = {"message", "type", "timestamp"}


def to_occurrence(project_id: str, payload: dict[str, Any], location_id: str, received_at: float) -> Occurrence:
    """Map one `/events` payload onto the Occurrence model; nothing the client sent is dropped."""
    # Imported here: the model (pydantic) costs ~100-200 ms of cold start that /announce and
    # /locate, which share this module, do not need.
    from lodge.occurrence import ExceptionInfo, Notifier, Occurrence, ServerInfo

    event = payload.get("event")
    if not isinstance(event, dict):
        raise HttpError(400, 'payload must contain an "event" object')
    notifier_raw = _dict(payload.get("notifier"))
    environment_raw = payload.get("environment")
    system = _dict(_dict(environment_raw).get("system"))
    context_raw = payload.get("context")
    context = _dict(context_raw)
    data_raw = payload.get("data")
    data = _dict(data_raw)

    extra: dict[str, Any] = {k: v for k, v in payload.items() if k not in _PAYLOAD_KEYS}
    for key, value in (("environment", environment_raw), ("context", context_raw)):
        if value is not None:
            extra[key] = value
    event_extra = {k: v for k, v in event.items() if k not in _EVENT_KEYS}
    timestamp = parse_time(event.get("timestamp"))
    if timestamp is None and event.get("timestamp") is not None:
        event_extra["timestamp"] = event["timestamp"]
    if event_extra:
        extra["event"] = event_extra
    if payload.get("notifier") is not None and not isinstance(payload.get("notifier"), dict):
        extra["notifier"] = payload["notifier"]

    frames = frames_of(payload.get("backtrace"), _str(notifier_raw.get("language")))
    exception_type = _str(event.get("type"))
    message = _str(event.get("message"))
    exceptions = []
    if exception_type or frames:
        exceptions.append(ExceptionInfo(type=exception_type or "Error", message=message, frames=frames))

    hostname = _str(system.get("hostname")) or _str(context.get("hostname"))
    root = _str(system.get("application_root"))
    language = _str(notifier_raw.get("language"))
    custom = data or None if isinstance(data_raw, dict) or data_raw is None else {"data": data_raw}
    request = _request(data)

    return Occurrence(
        project_id=project_id,
        protocol="crashlog",
        client_id=location_id,
        received_at=received_at,
        timestamp=timestamp,
        kind="error" if exceptions else "message",
        environment=_str(context.get("stage")) or _str(system.get("stage")) or "production",
        level="error",
        exceptions=exceptions,
        message=None if exceptions else message,
        request=request,
        person=_person(context, data),
        server=ServerInfo(host=hostname, root=root) if hostname or root else None,
        notifier=Notifier(
            name=_str(notifier_raw.get("name")),
            version=_str(notifier_raw.get("version")),
            **_leftovers(notifier_raw, {"name", "version"}, Notifier),
        )
        if notifier_raw
        else None,
        custom=custom,
        platform=_str(system.get("platform")) or _str(_dict(environment_raw).get("platform")),
        language=language.lower() if language else None,
        framework=_framework(system),
        context=_context_label(context),
        hostname=hostname,
        extra=extra or None,
    )


def announce_marker(payload: dict[str, Any], received_at: float) -> Marker:
    """The marker an `/announce` leaves: which host started, when, in which stage, with what notifier."""
    from lodge.models.markers import Marker

    sent = parse_time(payload.get("timestamp"))
    stage = _clipped(payload.get("stage"))
    return Marker(
        kind="announce",
        source="crashlog",
        hostname=_clipped(payload.get("hostname")),
        stage=stage,
        environment=stage,
        notifier=_announced_notifier(payload.get("notifier")),
        created=round(sent if sent is not None else received_at, 3),
        received=round(received_at, 3),
    )


MAX_MARKER_TEXT = 256
"""Longest text an announce marker keeps per field (host names, gem names and versions are short)."""
_NOTIFIER_FIELDS = ("name", "version", "language")


def _clipped(value: Any) -> str | None:
    return clip(value, MAX_MARKER_TEXT)


def _announced_notifier(notifier: Any) -> dict[str, str] | str | None:
    """Only name/version/language, as clipped strings: a verbatim map with 1e300 (beyond DynamoDB's
    numbers) or 33 levels of nesting fails every PutItem, a 503 the client retries forever."""
    if not isinstance(notifier, dict):
        return _clipped(notifier)
    kept = {key: _clipped(notifier.get(key)) for key in _NOTIFIER_FIELDS}
    return {key: text for key, text in kept.items() if text} or None


# ---- locations ---------------------------------------------------------------------------------


def new_location_id() -> str:
    return str(uuid.uuid4())


def is_location_id(value: str) -> bool:
    return bool(_UUID.match(value))


def location_record_id(location_id: str) -> str:
    """The record holding a location id's occurrence (`lodge.ids` keeps pydantic out of /locate)."""
    return occurrence_id_for("crashlog", location_id)


def sample_path(project_id: str, location_id: str) -> str:
    """Where an occurrence can be seen: the AppSignal-style sample detail of the query API."""
    return f"/api/{project_id}/samples/{location_record_id(location_id)}.json"


def location_stored(store: Store, project_id: str, location_id: str) -> bool:
    """Whether the event with this location id is stored in the project (a key-only lookup)."""
    from lodge.queries import occurrences

    return occurrences.is_stored(store, project_id, location_record_id(location_id))


def locate_project(store: Store, request: Request) -> str:
    """The project a `/locate` caller may look in: from a CrashLog-signed request, or from
    `?token=` when that token can read (personal, rollbar_read)."""
    if request.header("authorization"):
        return verify(store, request).project_id
    token = request.query.get("token", "")
    info = auth.lookup(store, token) if token else None
    if info is None or not info.allows(auth.READ):
        raise _unauthorized()
    return info.project_id
