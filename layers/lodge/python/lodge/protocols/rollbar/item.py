"""Rollbar item API (`POST /api/1/item/`): the request as the real clients send it, decoded and
authenticated; `mapping` turns its `data` into the `Occurrence`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lodge.http import HttpError, Request, first_json_byte, loads, parse_form
from lodge.protocols.rollbar.answers import fail, invalid
from lodge.protocols.rollbar.auth import apply_rate_limit, check_post_scope, presented_token, resolve_token
from lodge.protocols.rollbar.mapping import to_occurrence, validate_data

if TYPE_CHECKING:
    from lodge.occurrence import Occurrence
    from lodge.storage import Store

MIN_BODY_LIMIT = 512 * 1024
"""Real clients truncate payloads to 512 KiB (rollbar.js, rollbar-gem), so never refuse less."""
FORM_OVERHEAD = 3
"""A form-encoded payload can be up to 3x its JSON size (%XX escapes); the limit is on the JSON."""


def body_limit(configured: int) -> int:
    return max(configured, MIN_BODY_LIMIT)


def decode_payload(request: Request, max_bytes: int) -> dict[str, Any]:
    """The JSON payload: raw JSON or the form field `payload`, whatever the Content-Type claims.

    rollbar-gem and rollbar-php label raw JSON as form-encoded, so the bytes decide (docs/protocols/rollbar.md).
    The size limit applies to the JSON itself (a form encoding may triple it on the wire).
    """
    limit = body_limit(max_bytes)
    raw = request.body(limit * FORM_OVERHEAD)
    if first_json_byte(raw) is None:
        raise fail(400, "request body is empty; expected a JSON payload")
    if first_json_byte(raw) in (ord("{"), ord("[")):
        if len(raw) > limit:
            raise fail(413, "request entity too large")
        payload = loads(raw)
    else:
        form = parse_form(raw)
        text = form.get("payload")
        if text is None:
            raise fail(400, "request body is neither JSON nor a form with a 'payload' field")
        if len(text.encode("utf-8", "surrogatepass")) > limit:
            raise fail(413, "request entity too large")
        payload = loads(text)
        if isinstance(payload, dict) and "access_token" not in payload and form.get("access_token"):
            payload["access_token"] = form["access_token"]
    if not isinstance(payload, dict):
        # Parseable JSON that is not an object: "parseable but invalid" is 422 in Rollbar's table.
        raise invalid("The payload should be an object with a 'data' key.")
    return payload


def parse_item(request: Request, store: Store, max_bytes: int, received_at: float) -> tuple[Occurrence, dict[str, str]]:
    """Decode, authenticate, rate-limit, validate and map one item request.

    Returns the occurrence and the headers every answer should carry (rate-limit headers when the
    token has a limit). Raises HttpError with Rollbar's status and message otherwise.
    """
    payload = decode_payload(request, max_bytes)
    token = presented_token(request, payload)
    info = resolve_token(store, token)
    data = payload.get("data")
    check_post_scope(info, data.get("platform") if isinstance(data, dict) else None)
    headers = apply_rate_limit(store, info)
    try:
        data = validate_data(payload)
        occurrence = to_occurrence(data, info.project_id, received_at, request.source_ip)
    except HttpError as error:
        error.headers = {**headers, **error.headers}
        raise
    return occurrence, headers
