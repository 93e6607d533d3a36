"""One CrashLog `/events` payload -> `Occurrence` (the Ruby gem 1.0.7 and 1.1, the Node client, the
Java appender: docs/protocols/crashlog.md). Nothing the client sent is dropped: keys without a
home in the model are kept as extras."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from lodge.http import HttpError
from lodge.normalize.numbers import loose_int
from lodge.occurrence import ExceptionInfo, Frame, Notifier, Occurrence, Person, RequestInfo, SentTime, ServerInfo


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


def _frame(entry: Any) -> Frame:
    if isinstance(entry, str):  # a raw backtrace line ("file:line:in `method'" from Ruby): read after mapping
        return Frame.from_line(entry)
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


def frames_of(backtrace: Any) -> list[Frame]:
    """CrashLog backtraces are most recent FIRST (Ruby, V8 and Java order); Lodge's are most recent last.

    String entries are backtrace lines: normalization reads them by the notifier's language (Ruby
    unless it names another)."""
    if not isinstance(backtrace, list):
        return []
    return [_frame(entry) for entry in reversed(backtrace)]


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
    # The event's time as sent; one that is no time is kept in `extra.event`, with the event's other keys.
    sent_time = SentTime(("timestamp",), (event.get("timestamp"),), keep_at=("extra", "event", "timestamp"))
    if event_extra:
        extra["event"] = event_extra
    if payload.get("notifier") is not None and not isinstance(payload.get("notifier"), dict):
        extra["notifier"] = payload["notifier"]

    frames = frames_of(payload.get("backtrace"))
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
    place = _context_label(context)

    return Occurrence(
        project_id=project_id,
        protocol="crashlog",
        client_id=location_id,
        received_at=received_at,
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
        context=place,
        # Where it happened, as every listing shows it without the detail (AppSignal's samples list).
        action=place,
        path=request.url if request else None,
        hostname=hostname,
        extra=extra or None,
    ).with_sent_times(sent_time)
