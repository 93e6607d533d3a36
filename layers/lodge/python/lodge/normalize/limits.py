"""Depth and size cuts for free-form client data, and text clipping."""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 32
"""Deepest nesting kept in free-form client data. Deeper containers become a marker string: real
reports nest a few levels, and pydantic refuses to serialize ~250 (a 500 on a valid request)."""
TOO_DEEP = "[nested too deep]"


def cut_depth(value: Any, depth: int = MAX_DEPTH) -> Any:
    """A copy of `value` whose dicts and lists below `depth` levels are replaced by a marker."""
    if isinstance(value, dict):
        if depth <= 0:
            return TOO_DEEP
        return {k if isinstance(k, str) else str(k): cut_depth(v, depth - 1) for k, v in value.items()}
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
