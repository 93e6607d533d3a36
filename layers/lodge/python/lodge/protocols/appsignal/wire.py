"""The AppSignal push body as the gems send it, read once for every push endpoint (log entries and
markers): a JSON body (even when labelled form-encoded, gem 0.3-0.4) or a form field carrying the
JSON (`log_entries=` / `marker_data=`, 0.1-0.2, with `api_key`/`gem_version` in the form too), and
lenient readers for the values inside (the gems send numbers as strings and vice versa).

Invalid JSON. Lodge first parses strictly. Only if that fails it applies one narrowly-scoped,
documented repair and parses again: (1) a comma directly before `]` or `}` is dropped (Ruby
hand-written payloads and the documentation's own example have them) and (2) at most ONE closing
bracket is dropped (the documented example has a stray `}`; `repair_json` says which). Nothing is
ever added, strings are never touched, and anything else (unclosed brackets, missing commas,
single quotes, truncation) stays a 400. Occurrences parsed from a repaired body carry
`extra["lodge_json_repaired"] = true`, so the repair is visible, never silent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from lodge.http import HttpError

MAX_NUMBER = 1e15
"""Largest magnitude kept for a numeric field (ms durations, statuses); larger values are dropped."""


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


def as_float(value: Any) -> float | None:
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


def as_int(value: Any) -> int | None:
    number = as_float(value)
    if number is None or abs(number) > 2**53:
        return None
    return int(number)


def as_text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def as_dict(value: Any) -> dict[str, Any] | None:
    return {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else None
