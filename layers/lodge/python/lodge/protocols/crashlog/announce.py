"""CrashLog `/announce`: the marker a starting host leaves (which host, when, which stage, which notifier)."""

from __future__ import annotations

from typing import Any

from lodge.models.markers import Marker
from lodge.normalize.limits import clip
from lodge.normalize.timestamps import parse_time


def announce_marker(payload: dict[str, Any], received_at: float) -> Marker:
    """The marker an `/announce` leaves: which host started, when, in which stage, with what notifier."""
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
