"""Sentry envelopes: one JSON header line, then items of a JSON header line and a payload.

The format (develop.sentry.dev, "Envelopes"): an item header may give the payload's `length` in
bytes, then exactly that many bytes follow (binary allowed) and an optional newline; without
`length` the payload runs to the next newline or the end. Parsing is one linear pass and every
failure is a 400 naming what was wrong, never an exception.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from lodge.protocols.sentry.answers import invalid_envelope

MAX_ITEMS = 1000
"""More items than any SDK sends in one envelope (they hold one event plus a few attachments)."""


@dataclass
class Item:
    type: str
    headers: dict[str, Any]
    payload: bytes


@dataclass
class Envelope:
    headers: dict[str, Any]
    items: list[Item] = field(default_factory=list)

    def of_type(self, *types: str) -> list[Item]:
        return [item for item in self.items if item.type in types]


def _header(line: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise invalid_envelope(f"the {what} is not a JSON object on one line") from None
    if not isinstance(value, dict):
        raise invalid_envelope(f"the {what} is not a JSON object")
    return value


def _line(data: bytes, start: int) -> tuple[bytes, int]:
    """The bytes up to the next newline (or the end) and the position after that newline."""
    end = data.find(b"\n", start)
    if end < 0:
        return data[start:], len(data)
    return data[start:end], end + 1


def parse(data: bytes) -> Envelope:
    if not data.strip():
        raise invalid_envelope("the envelope is empty")
    line, pos = _line(data, 0)
    envelope = Envelope(_header(line.strip(), "envelope header"))
    while pos < len(data):
        if not data[pos:].strip():
            break  # trailing newlines or whitespace after the last item
        line, pos = _line(data, pos)
        headers = _header(line.strip(), f"header of item {len(envelope.items) + 1}")
        item_type = headers.get("type")
        if not isinstance(item_type, str) or not item_type:
            raise invalid_envelope(f"item {len(envelope.items) + 1} has no type")
        length = headers.get("length")
        if length is not None:
            if isinstance(length, bool) or not isinstance(length, int) or length < 0:
                raise invalid_envelope(f"item {len(envelope.items) + 1} has an invalid length")
            if pos + length > len(data):
                raise invalid_envelope(
                    f"item {len(envelope.items) + 1} declares {length} bytes but only {len(data) - pos} follow"
                )
            payload = data[pos : pos + length]
            pos += length
            if pos < len(data):
                if data[pos : pos + 1] != b"\n":
                    raise invalid_envelope(f"item {len(envelope.items) + 1} is not followed by a newline")
                pos += 1
        else:
            payload, pos = _line(data, pos)
        envelope.items.append(Item(item_type, headers, payload))
        if len(envelope.items) > MAX_ITEMS:
            raise invalid_envelope(f"more than {MAX_ITEMS} items")
    return envelope
