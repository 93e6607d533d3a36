"""Rollbar Deploys API (docs/protocols/rollbar.md): `POST /api/1/deploy` and `PATCH /api/1/deploy/{id}`.

Deploys are stored as project markers (kind "deploy"), the same records the AppSignal query API
lists, so a deploy reported through either protocol shows up in both. Bodies come as JSON (with
or without a JSON Content-Type: rollbar-gem sends none), urlencoded forms, or multipart forms
(`curl -F`, the GitHub action); the token in the header, the body's `access_token`, or the query.
"""

from __future__ import annotations

import time
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from lodge.http import Request, first_json_byte, loads, parse_form
from lodge.models.markers import Marker, MarkerChanges
from lodge.protocols.rollbar.answers import fail, invalid, storage
from lodge.storage import Store

STATUSES = ("started", "succeeded", "failed", "timed_out")
DEFAULT_STATUS = "succeeded"
"""rollbar-cli documents `succeeded (default)` and omits the field; rollbar-gem always sends one."""
FINISHED = frozenset({"succeeded", "failed", "timed_out"})
MAX_BODY = 256 * 1024
_LIMITS = {"environment": 255, "revision": 255, "rollbar_username": 255, "local_username": 255, "comment": 65536}


def _multipart(raw: bytes, content_type: str) -> dict[str, str]:
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    if not message.is_multipart():
        raise fail(400, "multipart body could not be parsed")
    fields: dict[str, str] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or name in fields:
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            fields[name] = payload.decode("utf-8", "replace")
    return fields


def parse_fields(request: Request) -> dict[str, Any]:
    """The request's fields, whatever the encoding; the bytes decide, not the Content-Type label."""
    raw = request.body(MAX_BODY)
    content_type = request.header("content-type")
    if first_json_byte(raw) is None:
        return {}
    if first_json_byte(raw) == ord("{"):
        fields = loads(raw)
        if not isinstance(fields, dict):
            raise invalid("The body should be an object.")
        return fields
    if content_type.lower().startswith("multipart/"):
        return _multipart(raw, content_type)
    return dict(parse_form(raw))


def _string(fields: dict[str, Any], name: str, errors: list[str]) -> str | None:
    value = fields.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        errors.append(f"'{name}' key must be a string.")
        return None
    if len(value) > _LIMITS.get(name, 255):
        errors.append(f"'{name}' must be at most {_LIMITS.get(name, 255)} characters.")
        return None
    return value


def _status(fields: dict[str, Any], errors: list[str], default: str | None) -> str | None:
    value = fields.get("status")
    if value is None or value == "":
        return default
    if value not in STATUSES:
        errors.append(f"Invalid 'status' value. Must be one of: {', '.join(STATUSES)}.")
        return None
    return str(value)


def new_deploy(fields: dict[str, Any]) -> Marker:
    """Validate a deploy report; 422 lists every problem in Rollbar's wording (rollbar.js#956)."""
    errors: list[str] = []
    absent = [name for name in ("environment", "revision", "head_long") if fields.get(name) in (None, "")]
    if "environment" in absent:
        errors.append("Missing 'environment' key.")
    if "revision" in absent and "head_long" in absent:
        errors.append("Missing 'revision' or 'head_long' key.")
    if "environment" in absent:
        errors.append("'environment' key must be a string.")  # Rollbar says both for a missing one
    environment = _string(fields, "environment", errors)
    revision = _string(fields, "revision", errors) or _string(fields, "head_long", errors)
    rollbar_username = _string(fields, "rollbar_username", errors)
    local_username = _string(fields, "local_username", errors)
    comment = _string(fields, "comment", errors)
    status = _status(fields, errors, DEFAULT_STATUS)
    if errors:
        raise fail(422, " ".join(errors))
    now = int(time.time())
    return Marker(
        kind="deploy",
        source="rollbar",
        environment=environment,
        revision=revision,
        user=rollbar_username or local_username,
        rollbar_username=rollbar_username,
        local_username=local_username,
        comment=comment,
        status=status,
        repository=_string(fields, "repository", []),
        created=now,
        finished=now if status in FINISHED else None,
    )


def changes(fields: dict[str, Any]) -> MarkerChanges:
    """A PATCH: `status` and/or `comment`."""
    errors: list[str] = []
    status = _status(fields, errors, None)
    comment = _string(fields, "comment", errors)
    if errors:
        raise fail(422, " ".join(errors))
    return MarkerChanges(status=status, comment=comment, finished=int(time.time()) if status in FINISHED else None)


def parse_deploy_id(raw: str | None) -> int:
    """ASCII digits only: isdigit() also takes "²" (int() fails on it) and Arabic-Indic digits (a 2nd spelling)."""
    if not raw or not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        raise fail(404, "Deploy not found in this project.")
    return int(raw)


def deploy_object(project_id: str, marker: Marker) -> dict[str, Any]:
    """A deploy marker as Rollbar's deploy object (the fields rollbar-gem's mock shows)."""
    return {
        "id": marker.id,
        "project_id": project_id,
        "environment": marker.environment,
        "revision": marker.revision,
        "username": marker.rollbar_username,
        "local_username": marker.local_username or marker.user,
        "user_id": None,
        "comment": marker.comment,
        "status": marker.status,
        "start_time": int(marker.created or 0),
        "finish_time": int(marker.finished) if marker.finished is not None else None,
    }


DEPLOYS_PAGE_SIZE = 20


def list_deploys(store: Store, project_id: str, page: int) -> dict[str, Any]:
    """`GET /api/1/deploys/?page=N`: deploys newest first, 20 a page (Rollbar's deploy docs)."""
    from lodge.queries import markers

    with storage("read deploys"):
        found = markers.list_markers(store, project_id, kind=lambda m: m.kind == "deploy")
    start = (page - 1) * DEPLOYS_PAGE_SIZE
    return {"deploys": [deploy_object(project_id, m) for m in found[start : start + DEPLOYS_PAGE_SIZE]], "page": page}


def get_deploy(store: Store, project_id: str, raw_id: str | None) -> dict[str, Any]:
    deploy_id = parse_deploy_id(raw_id)
    with storage("read the deploy"):
        marker = store.marker(project_id, deploy_id)
    if marker is None or marker.kind != "deploy":
        raise fail(404, "Deploy not found in this project.")
    return deploy_object(project_id, marker)
