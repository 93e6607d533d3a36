"""Hourly buckets (trends, AppSignal `graphs.json`): one item per project and hour, digest-written.

Why one item per hour and not one per (issue, hour): the digest writes it once per project per
batch, so a batch of 100 events over 60 issues costs one UpdateItem (a few write units) instead of
60. The item holds *series*, each a few top-level numbers (ADD creates them; nested map paths
would need the map to exist first):

- `t` the project's total; `a<h>` an action; `x<h>` an (action, exception class) pair;
  `i<h>` an issue (`<h>`: the first SERIES_HASH hex digits of the name's SHA-1);
- per series the suffixes `c` occurrences, `e` exceptions (every occurrence that is not a
  performance sample), `s` the sum of durations (ms) and `n` how many had a duration (a mean is
  s / n); an issue series keeps `c` only.

Bounded: `ix` (a string set) names the series of the hour; at most SERIES_CAP of them, enforced by
the update's condition; series beyond the cap are folded into `o` (other), so an hour item stays
under ~40 KB whatever the traffic. Idempotent like the issue counter: the same stream marks
(`issues.mark_clauses`), so a retried batch adds nothing twice. Items expire with retention.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from lodge.dynamo import from_item, to_attr, to_item
from lodge.storage.errors import failing_as
from lodge.storage.issues import DigestMark, already_counted, mark_clauses
from lodge.storage.keys import project_pk
from lodge.storage.table import Table

HOUR_SK = "HR#"
SERIES_INDEX = "ix"
"""The hour item's string set of the series it holds (the cap's condition reads it)."""
SERIES_CAP = 400
"""Distinct series per hour item: 400 x (4 numbers ~ 16 B + its `ix` name ~ 12 B) ~ 30 KB, far
under DynamoDB's 400 KB, and a month of hours (744 items) stays within ~23 pages of 1 MB."""
SERIES_HASH = 10
TOTAL = "t"
OTHER = "o"
_FIELDS = ("c", "e", "s", "n")
CHUNK = 50
"""Series per UpdateItem: 50 x 4 ADD clauses keep the expression well under DynamoDB's 4 KB."""


def hour_sk(hour: int) -> str:
    """`hour`: whole hours since the Unix epoch, 7 digits (sortable as text until the year 3110)."""
    return f"{HOUR_SK}{hour:07d}"


def _hashed(prefix: str, *parts: str) -> str:
    digest = hashlib.sha1("\x00".join(parts).encode("utf-8", "surrogatepass"), usedforsecurity=False)
    return prefix + digest.hexdigest()[:SERIES_HASH]


def action_series(action: str) -> str:
    return _hashed("a", action)


def exception_series(action: str, exception_class: str) -> str:
    return _hashed("x", action, exception_class)


def issue_series(issue_id: str) -> str:
    return _hashed("i", issue_id)


@dataclass
class Tally:
    """One series' share of one hour: occurrences, exceptions, duration sum (ms) and count."""

    count: int = 0
    exceptions: int = 0
    duration_sum: float = 0.0
    durations: int = 0

    def add(self, other: Tally) -> None:
        self.count += other.count
        self.exceptions += other.exceptions
        self.duration_sum += other.duration_sum
        self.durations += other.durations

    def numbers(self) -> dict[str, int | float]:
        values: dict[str, int | float] = {"c": self.count, "e": self.exceptions, "s": round(self.duration_sum, 3)}
        values["n"] = self.durations
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class HourPoint:
    """A series' numbers in one hour (a graph point)."""

    hour: int
    count: int
    exceptions: int
    duration_sum: float
    durations: int


def _fold(series: dict[str, Tally], known: set[str] | None) -> tuple[dict[str, Tally], int]:
    """Keep the known series and as many new ones as the cap leaves room for; fold the rest into
    OTHER. Returns the series to write and how many of them are new to the item."""
    kept: dict[str, Tally] = {}
    room = SERIES_CAP - len(known or ())
    new = 0
    overflow = Tally()
    for name in sorted(series):
        tally = series[name]
        if name in (TOTAL, OTHER) or (known is not None and name in known):
            kept[name] = tally
        elif new < room:
            kept[name] = tally
            new += 1
        else:
            overflow.add(tally)
    if overflow.count:
        kept.setdefault(OTHER, Tally()).add(overflow)
    return kept, new


def hour_update(
    project_id: str, hour: int, series: dict[str, Tally], new: int, marks: Sequence[DigestMark], expires: int
) -> dict[str, Any]:
    names: dict[str, str] = {"#ttl": "ttl", "#ix": SERIES_INDEX}
    values: dict[str, Any] = {":ttl": expires}
    sets = ["#ttl = if_not_exists(#ttl, :ttl)"]
    adds = []
    for i, (name, tally) in enumerate(sorted(series.items())):
        for field, number in tally.numbers().items():
            names[f"#{field}{i}"], values[f":{field}{i}"] = name + field, number
            adds.append(f"#{field}{i} :{field}{i}")
    listed = sorted(n for n in series if n not in (TOTAL, OTHER))
    if listed:
        values[":ix"] = set(listed)
        adds.append("#ix :ix")
    clauses = mark_clauses(marks, names, values, sets)
    if new:
        values[":room"] = SERIES_CAP - new
        clauses.append("(attribute_not_exists(#ix) OR size(#ix) <= :room)")
    expression = "SET " + ", ".join(sets) + (" ADD " + ", ".join(adds) if adds else "")
    arguments: dict[str, Any] = {
        "Key": to_item({"pk": project_pk(project_id), "sk": hour_sk(hour)}),
        "UpdateExpression": expression,
        "ExpressionAttributeNames": names if listed else {k: v for k, v in names.items() if k != "#ix"},
        "ExpressionAttributeValues": {k: to_attr(v) for k, v in values.items()},
    }
    if clauses:
        arguments["ConditionExpression"] = " AND ".join(clauses)
        arguments["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return arguments


class Buckets(Table):
    def count_hour(
        self, project_id: str, hour: int, series: dict[str, Tally], marks: Sequence[DigestMark] = ()
    ) -> bool:
        """Add one batch's tallies to an hour item: one UpdateItem per CHUNK series (DynamoDB caps
        an expression at 4 KB), each chunk marked on its own so a batch that failed between chunks
        adds only the missing ones on its retry. False when every chunk was counted already."""
        folded, _ = _fold(series, None)
        names = sorted(folded)
        applied = False
        for start in range(0, len(names), CHUNK):
            chunk = {name: folded[name] for name in names[start : start + CHUNK]}
            chunk_marks = [
                DigestMark(m.bucket if not start else f"{start // CHUNK}_{m.bucket}", m.sequence) for m in marks
            ]
            applied = self._count_chunk(project_id, hour, chunk, chunk_marks) or applied
        return applied

    def _count_chunk(self, project_id: str, hour: int, series: dict[str, Tally], marks: Sequence[DigestMark]) -> bool:
        expires = (hour + 1) * 3600 + self.config.retention_seconds
        known: set[str] | None = None
        for _attempt in range(6):
            folded, new = _fold(series, known)
            arguments = hour_update(project_id, hour, folded, new, marks, expires)
            with failing_as("could not update the hourly buckets"):
                try:
                    self.ddb.update_item(TableName=self.table, **arguments)
                    return True
                except self.ddb.exceptions.ConditionalCheckFailedException as failed:
                    old = from_item(failed.response.get("Item", {}))
            if already_counted(old, marks):
                return False
            known = set(old.get(SERIES_INDEX) or ())  # the cap: fold what no longer fits, then try again
        with failing_as("could not update the hourly buckets"):
            raise RuntimeError("the hour item kept changing")

    def hour_points(self, project_id: str, series: str, first_hour: int, last_hour: int) -> list[HourPoint]:
        """One series' points from `first_hour` to `last_hour` (inclusive), hours with data only:
        one Query (a page per ~1 MB of hour items), projected to that series' numbers."""
        names = {"#sk": "sk", **{f"#{f}": series + f for f in _FIELDS}}
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :a AND :b",
            "ExpressionAttributeValues": {
                ":pk": to_attr(project_pk(project_id)),
                ":a": to_attr(hour_sk(first_hour)),
                ":b": to_attr(hour_sk(last_hour)),
            },
            "ProjectionExpression": ", ".join(names),
            "ExpressionAttributeNames": names,
        }
        points = []
        with failing_as("could not read the hourly buckets"):
            for item in _pages(self.ddb, request):
                get = item.get
                if not get(series + "c") and not get(series + "n"):
                    continue  # an hour of other series only
                points.append(
                    HourPoint(
                        hour=int(item["sk"][len(HOUR_SK) :]),
                        count=int(get(series + "c", 0)),
                        exceptions=int(get(series + "e", 0)),
                        duration_sum=float(get(series + "s", 0)),
                        durations=int(get(series + "n", 0)),
                    )
                )
        return points


def _pages(ddb: Any, request: dict[str, Any]) -> Iterable[dict[str, Any]]:
    while True:
        response = ddb.query(**request)
        for raw in response.get("Items", []):
            yield from_item(raw)
        if "LastEvaluatedKey" not in response:
            return
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def hour_tally(entry: dict[str, Any]) -> Tally:
    """What one occurrence's index entry (`records.index_entry`) adds to each of its series."""
    raw = entry.get("d")
    duration = float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None
    return Tally(
        count=1,
        exceptions=0 if entry.get("k") == "performance" else 1,
        duration_sum=duration or 0.0,
        durations=0 if duration is None else 1,
    )


def entry_tallies(entry: dict[str, Any]) -> list[tuple[str, Tally]]:
    """The series an occurrence counts into and what it adds: the total, its action, (action,
    exception), and its issue (a count only)."""
    tally = hour_tally(entry)
    found = [(TOTAL, tally)]
    action, exception_class, issue_id = entry.get("a"), entry.get("x"), entry.get("g")
    if isinstance(action, str):
        found.append((action_series(action), tally))
        if isinstance(exception_class, str):
            found.append((exception_series(action, exception_class), tally))
    if isinstance(issue_id, str):
        found.append((issue_series(issue_id), Tally(count=1)))
    return found
