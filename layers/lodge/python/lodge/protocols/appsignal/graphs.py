"""AppSignal `graphs.json` (docs/protocols/appsignal.md) from the digest's hourly buckets.

The series is chosen by `action_name` (AppSignal's escaped action; `<action>:|:<exception class>`
for one exception of one action) or `kind` (a namespace: Lodge keeps no namespaces, so any `kind`
graphs the whole project). The window is `from`/`to` or a `timeframe`; resolution is always hourly,
one point per hour of the window (hours without data are zeros), at most MAX_HOURS points: one
Query over the project's hour items, whatever the project stores.

Lodge's meaning of the fields: `count` every occurrence (performance samples, errors, messages),
`ex_count` the exceptions among them (everything that is not a performance sample, as in
`samples/errors.json`), `ex_rate` 100 * ex_count / count, `mean` the mean `duration` (ms) of those
that carry one (null in an hour with none), `pct` null (Lodge keeps sums, not distributions).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lodge.http import HttpError
from lodge.protocols.appsignal.query import parse_timestamp, read, unescape_action
from lodge.storage import buckets

if TYPE_CHECKING:
    from lodge.storage import Store

FIELDS = ("mean", "count", "ex_count", "ex_rate", "pct")
DEFAULT_FIELDS = ("mean", "count", "ex_count", "ex_rate")
TIMEFRAMES = {"hour": 1, "day": 24, "month": 30 * 24, "year": 365 * 24}
MAX_HOURS = 31 * 24
"""A month of hourly points; longer windows are refused (400), not walked."""
PAIR_SEPARATOR = ":|:"


def _iso(hour: int) -> str:
    return datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def series_of(query: Mapping[str, str]) -> str:
    """The bucket series a request graphs: an action, an (action, exception) pair, or the project."""
    action_name = query.get("action_name")
    if action_name:
        action, _, exception_class = action_name.partition(PAIR_SEPARATOR)
        if not action:
            raise HttpError(400, "action_name must name an action")
        if exception_class:
            return buckets.exception_series(unescape_action(action), exception_class)
        return buckets.action_series(unescape_action(action))
    if query.get("kind"):
        return buckets.TOTAL
    raise HttpError(400, "either action_name or kind is required")


def window(query: Mapping[str, str], now: float) -> tuple[int, int]:
    """(first hour, last hour), inclusive, in whole hours since the epoch."""
    timeframe = query.get("timeframe")
    start = parse_timestamp("from", query.get("from"))
    end = parse_timestamp("to", query.get("to"))
    if timeframe:
        if timeframe not in TIMEFRAMES:
            raise HttpError(400, "timeframe must be one of hour, day, month, year")
        if start is not None or end is not None:
            raise HttpError(400, "give either from/to or timeframe, not both")
        end = now
        start = now - TIMEFRAMES[timeframe] * 3600
    end = now if end is None else end
    start = end - 86400 if start is None else start
    if start > end:
        raise HttpError(400, "from must not be after to")
    first, last = int(start // 3600), int(end // 3600)
    if last - first + 1 > MAX_HOURS:
        raise HttpError(400, f"at most {MAX_HOURS // 24} days of hourly points per request")
    return first, last


def fields_of(values: Sequence[str]) -> list[str]:
    chosen = [v for v in values if v]
    for value in chosen:
        if value not in FIELDS:
            raise HttpError(400, f"fields must be among {', '.join(FIELDS)}")
    return list(dict.fromkeys(chosen)) or list(DEFAULT_FIELDS)


def _point(hour: int, point: buckets.HourPoint | None, fields: Sequence[str]) -> dict[str, Any]:
    count = point.count if point else 0
    exceptions = point.exceptions if point else 0
    values: dict[str, Any] = {
        "mean": point.duration_sum / point.durations if point and point.durations else None,
        "count": count,
        "ex_count": exceptions,
        "ex_rate": 100.0 * exceptions / count if count else 0.0,
        "pct": None,
    }
    return {"timestamp": hour * 3600, **{f: values[f] for f in fields}}


def graph(
    store: Store, project_id: str, query: Mapping[str, str], fields: Sequence[str], now: float | None = None
) -> dict[str, Any]:
    """The `graphs.json` answer: `{from, to, resolution, data: [{timestamp, <field>...}]}`."""
    series = series_of(query)
    first, last = window(query, time.time() if now is None else now)
    chosen = fields_of(fields)
    found = read("the graph", lambda: store.hour_points(project_id, series, first, last))
    by_hour = {p.hour: p for p in found}
    return {
        "from": _iso(first),
        "to": _iso(last + 1),
        "resolution": "hourly",
        "data": [_point(hour, by_hour.get(hour), chosen) for hour in range(first, last + 1)],
    }
