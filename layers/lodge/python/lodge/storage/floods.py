"""Floods of one issue (docs/storage.md "Floods"): the project's per-issue limit, its flood state,
and the counts of what was not stored.

| item           | pk            | sk          | attributes                                            |
|----------------|---------------|-------------|-------------------------------------------------------|
| settings item  | PRJ#<project> | SET#scrub   | `ipm` the limit; `f<issue id>` = [minute, sample]     |
| issue (extra)  | PRJ#<project> | GRP#<issue> | `dr` occurrences not stored; `fwm`/`fwc` rate window  |

`ipm`: occurrences per issue per minute (0: none; absent: 600). `f<issue id>`: in flood that
minute, and the request path stores 1 in `sample` of its occurrences. The project's settings item
(lodge.storage.settings) holds the limit and the state beside the scrubbing settings, so the
request path reads all it obeys with one GetItem (the settings are written by the CLI, the state by
the digest; none overwrites another's attributes).
The state item holds at most FLOOD_STATE_CAP entries (~40 B each, so under 8 KB, read as 2 RRU
eventually consistent), the oldest minutes dropped first. `dr` is added by the request path;
`fwm`/`fwc` (the minute the digest's rate window began, and the issue's total then) by the digest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lodge.dynamo import from_item, to_attr, to_item
from lodge.storage.errors import failing_as
from lodge.storage.keys import SETTINGS_SK, issue_sk, project_pk
from lodge.storage.table import Table

DEFAULT_ISSUE_LIMIT = 600
"""Occurrences per issue per minute stored in full (Sentry users' ask, sentry #28792)."""
FLOOD_STATE_CAP = 200
ENTRY_PREFIX = "f"
DROPPED = "dr"
WINDOW_MINUTE = "fwm"
WINDOW_START = "fwc"


@dataclass(frozen=True)
class FloodView:
    """What the request path needs: the limit, and {issue id: (minute, 1-in-N sample)} in flood."""

    limit: int = DEFAULT_ISSUE_LIMIT
    flooding: dict[str, tuple[int, int]] = field(default_factory=dict)


def _entries(item: dict[str, Any]) -> dict[str, tuple[int, int]]:
    found = {}
    for name, value in item.items():
        if name.startswith(ENTRY_PREFIX) and name not in ("fwm", "fwc") and isinstance(value, list) and len(value) == 2:
            found[name[len(ENTRY_PREFIX) :]] = (int(value[0]), max(1, int(value[1])))
    return found


def _limit(item: dict[str, Any] | None) -> int:
    if not item or not isinstance(item.get("ipm"), (int, float)):
        return DEFAULT_ISSUE_LIMIT
    return max(0, int(item["ipm"]))


def flood_view_of(item: dict[str, Any]) -> FloodView:
    """The limit and the flood state from the project's settings item (lodge.storage.settings reads it)."""
    return FloodView(limit=_limit(item), flooding=_entries(item))


class Floods(Table):
    def put_flood_limit(self, project_id: str, limit: int) -> None:
        """Set the project's limit (0: none) on its settings item, beside the state it governs."""
        with failing_as("could not store the project's settings"):
            self.ddb.update_item(
                TableName=self.table,
                Key=to_item({"pk": project_pk(project_id), "sk": SETTINGS_SK}),
                UpdateExpression="SET #l = :l",
                ExpressionAttributeNames={"#l": "ipm"},
                ExpressionAttributeValues={":l": to_attr(max(0, int(limit)))},
            )

    def mark_flooding(self, project_id: str, issue_id: str, minute: int, sample: int) -> None:
        """Record an issue in flood for `minute` (the request path stores 1 in `sample` of its
        occurrences that minute and the next); stale and surplus entries are removed."""
        key = to_item({"pk": project_pk(project_id), "sk": SETTINGS_SK})
        with failing_as("could not record the flood"):
            response = self.ddb.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET #e = :e",
                ExpressionAttributeNames={"#e": ENTRY_PREFIX + issue_id},
                ExpressionAttributeValues={":e": to_attr([minute, max(1, sample)])},
                ReturnValues="ALL_NEW",
            )
            entries = _entries(from_item(response.get("Attributes", {})))
            newest_first = sorted(entries, key=lambda i: entries[i][0], reverse=True)
            stale = [i for i in newest_first if entries[i][0] < minute - 1] + [
                i for i in newest_first[FLOOD_STATE_CAP:] if entries[i][0] >= minute - 1
            ]
            if stale:
                names = {f"#s{n}": ENTRY_PREFIX + i for n, i in enumerate(stale)}
                self.ddb.update_item(
                    TableName=self.table,
                    Key=key,
                    UpdateExpression="REMOVE " + ", ".join(names),
                    ExpressionAttributeNames=names,
                )

    def add_dropped(self, project_id: str, issue_id: str, count: int) -> None:
        """Count occurrences that were not stored into their issue (one ADD, no read)."""
        with failing_as("could not count the occurrences not stored"):
            self.ddb.update_item(
                TableName=self.table,
                Key=to_item({"pk": project_pk(project_id), "sk": issue_sk(issue_id)}),
                UpdateExpression="ADD #dr :n",
                ExpressionAttributeNames={"#dr": DROPPED},
                ExpressionAttributeValues={":n": to_attr(count)},
            )

    def move_rate_window(
        self, project_id: str, issue_id: str, minute: int, start_total: int, previous_minute: int | None
    ) -> bool:
        """Start the issue's rate window at `minute` (the digest does it at most once per `limit`
        occurrences); False when another digest moved it first."""
        condition = "attribute_not_exists(#m)" if previous_minute is None else "#m = :old"
        values: dict[str, Any] = {":m": to_attr(minute), ":c": to_attr(start_total)}
        if previous_minute is not None:
            values[":old"] = to_attr(previous_minute)
        with failing_as("could not update the issue's rate window"):
            try:
                self.ddb.update_item(
                    TableName=self.table,
                    Key=to_item({"pk": project_pk(project_id), "sk": issue_sk(issue_id)}),
                    UpdateExpression="SET #m = :m, #c = :c",
                    ConditionExpression=condition,
                    ExpressionAttributeNames={"#m": WINDOW_MINUTE, "#c": WINDOW_START},
                    ExpressionAttributeValues=values,
                )
            except self.ddb.exceptions.ConditionalCheckFailedException:
                return False
        return True
