"""A Sentry event (the JSON of an `event` item, or a legacy store body) -> the one `Occurrence`.

Tolerant, like the other adapters: a field of an unexpected type is kept under `extra` instead of
failing the event (an SDK's report is never refused for its shape once it is a JSON object).
Facts relied on (docs/protocols/sentry.md): `exception.values` lists the chain oldest cause first,
the exception that was raised last; frames are ordered oldest call first; `logentry.message` is
the template and `params` its arguments; `fingerprint` may contain `{{ default }}`.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from lodge.normalize.numbers import loose_int
from lodge.occurrence import (
    ExceptionInfo,
    Frame,
    Notifier,
    Occurrence,
    Person,
    RequestInfo,
    SentTime,
    ServerInfo,
    normalize_level,
)
from lodge.protocols.sentry.answers import fail

_EVENT_ID = re.compile(r"[0-9a-f]{32}")
_SCRUBBED_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "x-sentry-auth", "proxy-authorization"})
SCRUBBED = "[Filtered]"
# Top-level event keys with a dedicated Occurrence field; everything else is kept in `extra`.
_MAPPED = frozenset(
    {
        "event_id", "timestamp", "level", "environment", "release", "exception", "message", "logentry",
        "request", "user", "contexts", "tags", "extra", "sdk", "server_name", "transaction", "platform", "dist",
    }
)  # fmt: skip
_LANGUAGES = {"python": "python", "node": "javascript", "javascript": "javascript", "ruby": "ruby", "php": "php"}
_FRAME_FIELDS = frozenset(
    {"filename", "function", "lineno", "colno", "context_line", "pre_context", "post_context", "vars"}
)


def event_id(*candidates: Any) -> str:
    """The first usable id (32 hex digits, dashes allowed) in lower case, or a fresh one as Relay makes."""
    for value in candidates:
        if isinstance(value, str):
            text = value.replace("-", "").strip().lower()
            if _EVENT_ID.fullmatch(text):
                return text
            if text:
                raise fail(400, "invalid event id", [f"{value[:40]!r} is not 32 hexadecimal digits"])
    return uuid.uuid4().hex


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, list):
        return [item if isinstance(item, str) else str(item) for item in value]
    return None


def _frame(raw: Any) -> Frame:
    if not isinstance(raw, dict):
        return Frame.model_validate({"_invalid": raw})
    rest = {k: v for k, v in raw.items() if k not in _FRAME_FIELDS}
    fields: dict[str, Any] = {
        "filename": _text(raw.get("filename")) or _text(raw.get("abs_path")) or _text(raw.get("module")),
        "method": _text(raw.get("function")),
        "lineno": loose_int(raw.get("lineno")),
        "colno": loose_int(raw.get("colno")),
        "code": _text(raw.get("context_line")),
        "context_pre": _strings(raw.get("pre_context")),
        "context_post": _strings(raw.get("post_context")),
    }
    variables = raw.get("vars")
    if isinstance(variables, dict):
        fields["locals"] = variables
    elif variables is not None:
        rest["vars"] = variables
    return Frame.model_validate({**rest, **{k: v for k, v in fields.items() if v is not None}})


def _stacktrace(raw: Any) -> tuple[list[Frame], dict[str, Any]]:
    """Frames (oldest call first, as Sentry orders them) and the stacktrace's other keys."""
    if not isinstance(raw, dict):
        return [], ({"stacktrace": raw} if raw is not None else {})
    frames = raw.get("frames")
    rest = {k: v for k, v in raw.items() if k != "frames"}
    out: dict[str, Any] = {"stacktrace": rest} if rest else {}
    if not isinstance(frames, list):
        if frames is not None:
            out["stacktrace"] = {**rest, "frames": frames}
        return [], out
    return [_frame(frame) for frame in frames], out


def _exceptions(raw: Any, thread_stacks: dict[Any, Any]) -> tuple[list[ExceptionInfo], Any]:
    """Outermost first (Occurrence's order) from Sentry's `values`, which lists the last raised last."""
    values = raw.get("values") if isinstance(raw, dict) else raw
    if not isinstance(values, list):
        return [], raw
    chain: list[ExceptionInfo] = []
    for value in reversed(values):
        if not isinstance(value, dict):
            continue
        rest = {k: v for k, v in value.items() if k not in ("type", "value", "stacktrace")}
        stack = value.get("stacktrace")
        if stack is None and value.get("thread_id") in thread_stacks:
            stack = thread_stacks[value.get("thread_id")]  # some SDKs put the frames on the thread
        frames, stack_rest = _stacktrace(stack)
        chain.append(
            ExceptionInfo.model_validate(
                {
                    **rest,
                    **stack_rest,
                    "type": _text(value.get("type")) or "Error",
                    "message": _text(value.get("value")),
                    "frames": frames,
                }
            )
        )
    return chain, None


def _thread_stacks(threads: Any) -> dict[Any, Any]:
    values = threads.get("values") if isinstance(threads, dict) else None
    if not isinstance(values, list):
        return {}
    return {t.get("id"): t.get("stacktrace") for t in values if isinstance(t, dict) and t.get("stacktrace")}


def format_logentry(raw: Any) -> tuple[str | None, dict[str, Any] | None]:
    """The displayed message and the logentry kept for grouping: `formatted`, else `message` % `params`."""
    if isinstance(raw, str):
        return raw, None
    if not isinstance(raw, dict):
        return _text(raw), None
    formatted = raw.get("formatted")
    template = raw.get("message")
    params = raw.get("params")
    if not isinstance(formatted, str) and isinstance(template, str):
        formatted = template
        if params:
            try:
                formatted = template % (tuple(params) if isinstance(params, list) else params)
            except (TypeError, ValueError, KeyError, OverflowError):
                try:
                    formatted = template.format(*params) if isinstance(params, list) else template
                except (IndexError, KeyError, ValueError, AttributeError):
                    formatted = template
    return (formatted if isinstance(formatted, str) else _text(template)), raw


def _pairs(value: Any) -> dict[str, Any] | None:
    """Headers/cookies/tags as a dict: SDKs send objects or lists of [key, value] pairs."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        out: dict[str, Any] = {}
        for pair in value:
            if isinstance(pair, (list, tuple)) and len(pair) == 2:
                out[str(pair[0])] = pair[1]
        return out
    return None


def _request(raw: Any) -> RequestInfo | None:
    if not isinstance(raw, dict):
        return None
    rest = {
        k: v for k, v in raw.items() if k not in ("url", "method", "headers", "query_string", "data", "env", "cookies")
    }
    headers = _pairs(raw.get("headers"))
    if headers is not None:
        headers = {k: (SCRUBBED if str(k).lower() in _SCRUBBED_HEADERS else v) for k, v in headers.items()}
    query = raw.get("query_string")
    if isinstance(query, (dict, list)):
        pairs = _pairs(query) or {}
        query = "&".join(f"{k}={v}" for k, v in pairs.items())
    fields: dict[str, Any] = {
        "url": _text(raw.get("url")),
        "method": _text(raw.get("method")),
        "headers": headers,
        "query_string": _text(query),
        "body": raw.get("data"),
        "env": raw.get("env") if isinstance(raw.get("env"), dict) else None,
    }
    if raw.get("cookies") is not None:
        rest["cookies"] = SCRUBBED
    return RequestInfo.model_validate({**rest, **{k: v for k, v in fields.items() if v is not None}})


def _person(raw: Any) -> tuple[Person | None, str | None]:
    if not isinstance(raw, dict):
        return None, None
    rest = {k: v for k, v in raw.items() if k not in ("id", "username", "email")}
    fields = {"id": _text(raw.get("id")), "username": _text(raw.get("username")), "email": _text(raw.get("email"))}
    ip = raw.get("ip_address")
    return Person.model_validate({**rest, **{k: v for k, v in fields.items() if v is not None}}), (
        ip if isinstance(ip, str) and ip != "{{auto}}" else None
    )


def _notifier(raw: Any) -> Notifier | None:
    if not isinstance(raw, dict):
        return None
    rest = {k: v for k, v in raw.items() if k not in ("name", "version")}
    return Notifier.model_validate({**rest, "name": _text(raw.get("name")), "version": _text(raw.get("version"))})


def to_occurrence(event: dict[str, Any], project_id: str, client_id: str, received_at: float) -> Occurrence:
    """Map one event; raises only for a malformed event id (400)."""
    extra = {k: v for k, v in event.items() if k not in _MAPPED}
    exceptions, unmapped_exception = _exceptions(event.get("exception"), _thread_stacks(event.get("threads")))
    if unmapped_exception is not None:
        extra["exception"] = unmapped_exception
    message, logentry = format_logentry(
        event.get("logentry") if event.get("logentry") is not None else event.get("message")
    )
    if logentry is not None:
        extra["logentry"] = logentry
    if event.get("logentry") is not None and event.get("message") is not None:
        extra["message"] = event.get("message")
    person, person_ip = _person(event.get("user"))
    request = _request(event.get("request"))
    if person_ip and request is not None and request.user_ip is None:
        request.user_ip = person_ip
    elif person_ip and request is None:
        request = RequestInfo(user_ip=person_ip)
    release = _text(event.get("release"))
    server_name = _text(event.get("server_name"))
    server: ServerInfo | None = None
    if server_name or release or event.get("dist") is not None:
        server = ServerInfo.model_validate(
            {
                k: v
                for k, v in {"host": server_name, "code_version": release, "dist": event.get("dist")}.items()
                if v is not None
            }
        )
    platform = _text(event.get("platform"))
    contexts = event.get("contexts")
    tags = _pairs(event.get("tags"))
    custom = event.get("extra")
    for key in ("contexts", "extra", "user", "request", "sdk"):
        if event.get(key) is not None and not isinstance(event.get(key), dict):
            extra[key] = event[key]  # an odd shape is kept, not dropped
    if tags is None and event.get("tags") is not None:
        extra["tags"] = event.get("tags")
    environment = _text(event.get("environment"))
    return Occurrence(
        project_id=project_id,
        protocol="sentry",
        client_id=client_id,
        received_at=received_at,
        kind="error" if exceptions else "message",
        environment=(environment or "production")[:255],
        level=normalize_level(event.get("level"), "error"),
        exceptions=exceptions,
        message=message,
        request=request,
        person=person,
        server=server,
        client=contexts if isinstance(contexts, dict) else None,
        notifier=_notifier(event.get("sdk")),
        tags=tags,
        custom=custom if isinstance(custom, dict) else None,
        code_version=release,
        platform=platform,
        language=_LANGUAGES.get(platform or ""),
        context=_text(event.get("transaction")),
        hostname=server_name,
        extra=extra or None,
    ).with_sent_times(SentTime(("timestamp",), (event.get("timestamp"),)))  # Unix seconds or RFC 3339; else received_at
