"""Rollbar's `data` object -> `Occurrence`, with the checks Rollbar's own server makes.

A tolerant hand-written mapper rather than strict wire models: real clients send odd types
(rollbar.js telemetry level "log", `"user_ip": null`, Node's copies of custom keys at the top
level), and a strict parser would drop their reports. Only what Rollbar's own server is known to
reject gets a 422 with its schema-style wording ("Invalid format. data.x ..."), see docs/protocols/rollbar.md.
Everything a client sent is kept: unknown keys go to `extra` (of the occurrence or the open
sub-models), so `objects.to_rollbar_data` can give the payload back for `GET /api/1/instance/{id}`.
"""

from __future__ import annotations

import json
import re
import uuid as uuidlib
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from lodge.normalize.numbers import loose_int
from lodge.occurrence import (
    ExceptionInfo,
    Frame,
    Level,
    Notifier,
    Occurrence,
    Person,
    RequestInfo,
    SentTime,
    ServerInfo,
    normalize_level,
)
from lodge.protocols.rollbar.answers import invalid

BODY_KEYS = ("trace", "trace_chain", "message", "crash_report")
MAX_UUID = 36

_BODY_KIND_MESSAGE = (
    "Invalid format. data.body must have either a 'trace', 'trace_chain', 'message' or 'crash_report' "
    "property, (but not more than one)."
)
_BODY_MISSING_MESSAGE = (
    "Invalid format. data.body must not be undefined. Instead, it should be an object with a "
    "'message', 'trace', 'trace_chain', or 'crash_report' key."
)

# data keys with a dedicated Occurrence field (everything else lands in Occurrence.extra).
_MAPPED_KEYS = frozenset(
    {
        "environment", "body", "level", "timestamp", "code_version", "platform", "language", "framework",
        "context", "request", "person", "server", "client", "custom", "fingerprint", "title", "uuid", "notifier",
    }
)  # fmt: skip


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _text(value: Any, path: str, *, max_len: int | None = None) -> str | None:
    """A string field: null/absent -> None, numbers tolerated, objects and arrays rejected (422)."""
    if value is None:
        return None
    if isinstance(value, (bool, dict, list)):
        raise invalid(f"{path} {_json_type(value)} value found, but a string or null is required.")
    text = value if isinstance(value, str) else str(value)
    if max_len is not None and len(text) > max_len:
        raise invalid(f"{path} must be at most {max_len} characters long.")
    return text


def _loose_text(value: Any) -> str | None:
    """A display string from anything (frame fields): never rejects."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


_M = TypeVar("_M", bound=BaseModel)


def _open_model(cls: type[_M], raw: Mapping[str, Any]) -> _M:
    """Validate an open sub-model; a field of the wrong type moves to `_invalid` instead of failing."""
    data = dict(raw)
    for _ in range(len(cls.model_fields) + 1):
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            bad = {str(e["loc"][0]) for e in error.errors() if e.get("loc")}
            bad &= set(cls.model_fields)
            if not bad:
                break
            invalid_values = dict(data.get("_invalid") or {})
            for name in bad:
                invalid_values[name] = data.pop(name)
            data["_invalid"] = invalid_values
    return cls.model_validate({k: v for k, v in data.items() if k not in cls.model_fields})


def _frame(raw: Any, path: str) -> Frame:
    if not isinstance(raw, dict):
        raise invalid(f"{path} {_json_type(raw)} value found, but an object is required.")
    values = dict(raw)
    context = values.pop("context", None)
    fields: dict[str, Any] = {
        "filename": _loose_text(values.pop("filename", None)),
        "method": _loose_text(values.pop("method", None)),
        "code": _loose_text(values.pop("code", None)),
        "class_name": _loose_text(values.pop("class_name", None)),
    }
    for key in ("lineno", "colno"):
        original = values.pop(key, None)
        number = loose_int(original)
        fields[key] = number
        if original is not None and number is None:
            values[f"_{key}"] = original
    locals_ = values.pop("locals", None)
    if isinstance(locals_, dict):
        fields["locals"] = locals_
    elif locals_ is not None:
        values["_locals"] = locals_
    if isinstance(context, dict):
        rest = dict(context)
        pre, post = rest.pop("pre", None), rest.pop("post", None)
        if isinstance(pre, list) and all(isinstance(x, str) for x in pre):
            fields["context_pre"] = pre
        elif pre is not None:
            rest["pre"] = pre
        if isinstance(post, list) and all(isinstance(x, str) for x in post):
            fields["context_post"] = post
        elif post is not None:
            rest["post"] = post
        if rest:
            values["_context"] = rest
    elif context is not None:
        values["_context"] = context
    return Frame.model_validate({**values, **{k: v for k, v in fields.items() if v is not None}})


def _trace(raw: Any, path: str) -> ExceptionInfo:
    if not isinstance(raw, dict):
        raise invalid(f"{path} {_json_type(raw)} value found, but an object is required.")
    frames = raw.get("frames")
    if "frames" not in raw:
        raise invalid(f"{path}.frames is missing and it is required.")
    if not isinstance(frames, list):
        raise invalid(f"{path}.frames should be array.")
    exception = raw.get("exception")
    if exception is None:
        raise invalid(f"{path}.exception is missing and it is required.")
    if not isinstance(exception, dict):
        raise invalid(f"{path}.exception should be object.")
    if exception.get("class") is None:
        raise invalid(f"{path}.exception.class is missing and it is required.")
    exc = dict(exception)
    values: dict[str, Any] = {
        "type": _text(exc.pop("class"), f"{path}.exception.class") or "",
        "message": _text(exc.pop("message", None), f"{path}.exception.message"),
        "description": _text(exc.pop("description", None), f"{path}.exception.description"),
        "frames": [_frame(f, f"{path}.frames[{i}]") for i, f in enumerate(frames)],
    }
    trace_rest = {k: v for k, v in raw.items() if k not in ("frames", "exception")}
    if trace_rest:
        exc["_trace"] = trace_rest
    for name in ("type", "message", "description", "frames"):
        exc.pop(name, None)  # client keys that would collide with the model's own fields
    return ExceptionInfo.model_validate({**exc, **{k: v for k, v in values.items() if v is not None}})


CRASH_SCAN_LIMIT = 64 * 1024
"""Apple crash logs name the exception in their header; scanning more only gives an attacker time."""
# Per line and linear: `[^\S\n]` cannot cross a line, and nothing after `(.*)` can fail and make
# it backtrack. (`^\s*...(.+?)\s*$` with re.M took 10 s on 40,000 newlines: a Lambda timeout.)
_CRASH_TYPE = re.compile(r"^[^\S\n]*Exception Type:(.*)", re.M)
_CRASH_REASON = re.compile(r"^[^\S\n]*(?:Exception Reason|Exception Codes|Termination Reason):(.*)", re.M)


def _crash_field(pattern: re.Pattern[str], text: str) -> str | None:
    """The first non-blank value of a `Name: value` header line."""
    for match in pattern.finditer(text):
        value = match.group(1).strip()
        if value:
            return value
    return None


def _crash_report(raw: Any) -> ExceptionInfo:
    """rollbar-ios crash reports are raw Apple crash-log text; the exception type is read from it."""
    if not isinstance(raw, dict):
        raise invalid(f"data.body.crash_report {_json_type(raw)} value found, but an object is required.")
    text = raw.get("raw")
    if not isinstance(text, str):
        raise invalid("data.body.crash_report.raw is missing and it is required.")
    head = text[:CRASH_SCAN_LIMIT]
    return ExceptionInfo.model_validate(
        {
            "type": _crash_field(_CRASH_TYPE, head) or "CrashReport",
            "message": _crash_field(_CRASH_REASON, head),
            "_crash_report": raw,
        }
    )


def _body(body: Any) -> tuple[str, list[ExceptionInfo], str | None, dict[str, Any]]:
    """(kind, exceptions, message, leftover body keys) from data.body."""
    if body is None:
        raise invalid(_BODY_MISSING_MESSAGE.removeprefix("Invalid format. "))
    if not isinstance(body, dict):
        raise invalid(f"data.body {_json_type(body)} value found, but an object is required.")
    present = [k for k in BODY_KEYS if body.get(k) is not None]
    if len(present) != 1:
        raise invalid(_BODY_KIND_MESSAGE.removeprefix("Invalid format. "))
    telemetry = body.get("telemetry")
    if telemetry is not None and not isinstance(telemetry, list):
        raise invalid("data.body.telemetry should be array.")
    rest = {k: v for k, v in body.items() if k != present[0]}
    key = present[0]
    if key == "trace":
        return "error", [_trace(body["trace"], "data.body.trace")], None, rest
    if key == "trace_chain":
        chain = body["trace_chain"]
        if not isinstance(chain, list):
            raise invalid("data.body.trace_chain should be array.")
        if not chain:
            raise invalid("data.body.trace_chain must contain at least one element.")
        if len(chain) == 1:
            rest["_trace_chain"] = True  # so the read API gives back a one-element chain, as sent (Node does)
        return "error", [_trace(t, f"data.body.trace_chain[{i}]") for i, t in enumerate(chain)], None, rest
    if key == "crash_report":
        return "error", [_crash_report(body["crash_report"])], None, rest
    message = body["message"]
    if isinstance(message, str):  # tolerated: some hand-written clients send the text directly
        return "message", [], message, rest
    if not isinstance(message, dict):
        raise invalid(f"data.body.message {_json_type(message)} value found, but an object is required.")
    if "body" not in message:
        raise invalid("data.body.message.body is missing and it is required.")
    text = message["body"]
    text = text if isinstance(text, str) else json.dumps(text, default=str)
    fields = {k: v for k, v in message.items() if k != "body"}
    if fields:
        rest["message"] = fields
    if not isinstance(message["body"], str):
        rest.setdefault("message", {})["_body"] = message["body"]
    return "message", [], text, rest


def anonymize_ip(address: str) -> str:
    """Zero the host part: the last octet of IPv4, the last 80 bits of IPv6."""
    if ":" in address:
        parts = address.split(":")
        return ":".join(parts[:3]) + "::"
    octets = address.split(".")
    return ".".join([*octets[:3], "0"]) if len(octets) == 4 else address


def _request(raw: Any, source_ip: str | None) -> RequestInfo | None:
    if not isinstance(raw, dict):
        return None
    values = dict(raw)
    user_ip = values.get("user_ip")
    if user_ip == "$remote_ip":
        values["user_ip"] = source_ip
    elif user_ip == "$remote_ip_anonymize":
        values["user_ip"] = anonymize_ip(source_ip) if source_ip else None
    return _open_model(RequestInfo, values)


def _person(raw: Any) -> Person | None:
    if not isinstance(raw, dict):
        return None
    values = dict(raw)
    if isinstance(values.get("id"), (int, float)) and not isinstance(values.get("id"), bool):
        values["id"] = str(values["id"])
    return _open_model(Person, values)


def validate_data(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The checks Rollbar's server is known to make, with its wording; returns `data`."""
    if "data" not in payload or payload["data"] is None:
        raise invalid("data is missing and it is required.")
    data = payload["data"]
    if not isinstance(data, dict):
        raise invalid(f"data {_json_type(data)} value found, but an object is required.")
    environment = data.get("environment")
    if environment is None:
        raise invalid("data.environment is missing and it is required.")
    if not isinstance(environment, str):
        raise invalid("data.environment should be string.")
    if len(environment) > 255:
        raise invalid("data.environment must be at most 255 characters long.")
    if data.get("level") is not None and not isinstance(data["level"], str):
        raise invalid("data.level should be string.")
    uuid = data.get("uuid")
    if uuid is not None:
        if not isinstance(uuid, str):
            raise invalid("data.uuid should be string.")
        if len(uuid) > MAX_UUID or not is_latin1(uuid):
            raise invalid("data.uuid must be a latin1 string of at most 36 characters.")
    return data


def is_latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def new_uuid() -> str:
    """A server-generated occurrence uuid: 32 hex characters, like Rollbar's (D-create example)."""
    return uuidlib.uuid4().hex


def to_occurrence(
    data: Mapping[str, Any], project_id: str, received_at: float, source_ip: str | None = None
) -> Occurrence:
    """Map a validated `data` object onto the Occurrence model (raises 422 HttpErrors)."""
    kind, exceptions, message, body_rest = _body(data.get("body"))
    default_level: Level = "info" if kind == "message" else "error"
    extra: dict[str, Any] = {k: v for k, v in data.items() if k not in _MAPPED_KEYS and k != "access_token"}
    if body_rest:
        extra["_body"] = body_rest

    def kept(key: str, value: Any) -> None:
        """A known key of an unexpected type is stored verbatim instead of being rejected."""
        extra[key] = value

    client = data.get("client")
    if client is not None and not isinstance(client, dict):
        kept("client", client)
        client = None
    custom = data.get("custom")
    if custom is not None and not isinstance(custom, dict):
        kept("custom", custom)
        custom = None
    server_raw = data.get("server")
    server = _open_model(ServerInfo, server_raw) if isinstance(server_raw, dict) else None
    if server_raw is not None and server is None:
        kept("server", server_raw)
    notifier_raw = data.get("notifier")
    notifier = _open_model(Notifier, notifier_raw) if isinstance(notifier_raw, dict) else None
    if notifier_raw is not None and notifier is None:
        kept("notifier", notifier_raw)
    request_raw = data.get("request")
    request = _request(request_raw, source_ip)
    if request_raw is not None and request is None:
        kept("request", request_raw)
    person_raw = data.get("person")
    person = _person(person_raw)
    if person_raw is not None and person is None:
        kept("person", person_raw)

    # data.timestamp, else client.timestamp (the browser build sends only that); an unusable
    # data.timestamp is kept verbatim in `extra`, as any known key of an unexpected type is.
    sent_time = SentTime(
        ("timestamp",),
        (data.get("timestamp"), client.get("timestamp") if client is not None else None),
        keep_at=("extra", "timestamp"),
    )

    code_version = _text(data.get("code_version"), "data.code_version")
    if code_version is None and server is not None:
        code_version = server.code_version
    if code_version is None and client is not None and isinstance(client.get("javascript"), dict):
        code_version = _loose_text(client["javascript"].get("code_version"))

    uuid = data.get("uuid") or new_uuid()
    try:
        return Occurrence(
            project_id=project_id,
            protocol="rollbar",
            client_id=uuid,
            received_at=round(received_at, 3),
            kind=kind,  # type: ignore[arg-type]
            environment=data["environment"],
            level=normalize_level(data.get("level"), default_level),
            title=_text(data.get("title"), "data.title"),
            exceptions=exceptions,
            message=message,
            request=request,
            person=person,
            server=server,
            client=client,
            notifier=notifier,
            custom=custom,
            fingerprint=_text(data.get("fingerprint"), "data.fingerprint"),
            code_version=code_version,
            platform=_text(data.get("platform"), "data.platform"),
            language=_text(data.get("language"), "data.language"),
            framework=_text(data.get("framework"), "data.framework"),
            context=_text(data.get("context"), "data.context"),
            hostname=server.host if server else None,
            extra=extra or None,
        ).with_sent_times(sent_time)
    except ValidationError as error:  # a safety net: the mapper above should never let this through
        first = error.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise invalid(f"data.{where} {first.get('msg', 'is invalid')}.") from error
