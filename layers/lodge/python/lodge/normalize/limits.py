"""Depth and size cuts for free-form client data, key repair, and text clipping."""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 32
"""Deepest nesting kept in free-form client data. Deeper containers become a marker string: real
reports nest a few levels, and pydantic refuses to serialize ~250 (a 500 on a valid request)."""
TOO_DEEP = "[nested too deep]"

LABEL_LIMIT = 1024
"""Most characters kept of a label: a short text that identifies rather than describes (environment,
exception class, platform, framework, language, context, host, action, path, versions, client id).
Labels are copied into the issue item and every record's index entry, so an unclipped 450 KB label
passes DynamoDB's 400 KB item limit and the report is refused (503) on every retry. 1024 characters
are at most 4 KB of UTF-8: with the ~20 labels an issue item holds it stays far below the limit."""


def text_key(key: Any) -> str:
    """An object key as valid Unicode text. JSON may carry a lone UTF-16 surrogate (`"\\ud800"`);
    pydantic refuses such a key as a model extra and no JSON encoder can write it, so it is
    replaced by U+FFFD (a surrogate pair is joined into its character)."""
    if not isinstance(key, str):
        return str(key)
    if key.isascii():
        return key
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return key.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return key


def cut_depth(value: Any, depth: int = MAX_DEPTH) -> Any:
    """A copy of `value` whose dicts and lists below `depth` levels are replaced by a marker and
    whose keys are valid text (`text_key`)."""
    if isinstance(value, dict):
        if depth <= 0:
            return TOO_DEEP
        return {text_key(k): cut_depth(v, depth - 1) for k, v in value.items()}
    if isinstance(value, list):
        if depth <= 0:
            return TOO_DEEP
        return [cut_depth(v, depth - 1) for v in value]
    return value


def clip(value: Any, limit: int) -> str | None:
    """A string of at most `limit` characters from a scalar; None for absent, empty or containers."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = value if isinstance(value, str) else str(value)
    return text[:limit] or None


def clip_label(value: str) -> str:
    """A label of at most LABEL_LIMIT characters (the one rule for every stored label)."""
    return value if len(value) <= LABEL_LIMIT else value[:LABEL_LIMIT]
