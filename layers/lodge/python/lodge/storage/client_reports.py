"""Client reports: per project and UTC day, how many events its SDKs said they dropped.

One item per day (`PRJ#<project>` / `SENTRY_DISCARDS#<yyyy-mm-dd>`), one attribute per
`reason:category` (`d:<reason>:<category>`, a number added to with ADD), expiring with the
retention period. One UpdateItem per client report; SDKs send them rarely next to events.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING

from lodge.dynamo import to_attr, to_item
from lodge.storage.errors import failing_as
from lodge.storage.keys import CLIENT_DISCARDS, discards_sk, project_pk
from lodge.storage.table import Table

if TYPE_CHECKING:
    from lodge.models.client_reports import DailyDiscards

_COUNT = "d:"


class ClientReports(Table):
    def add_discards(self, project_id: str, counts: Mapping[str, int], at: float) -> None:
        """Add each `reason:category` quantity to the counters of the UTC day of `at`."""
        if not counts:
            return
        day = time.strftime("%Y-%m-%d", time.gmtime(at))
        names = {f"#n{i}": _COUNT + key for i, key in enumerate(counts)}
        values = {f":v{i}": to_attr(quantity) for i, quantity in enumerate(counts.values())}
        values[":ttl"] = to_attr(int(at) + self.config.retention_seconds)
        with failing_as("could not record the client report"):
            self.ddb.update_item(
                TableName=self.table,
                Key=to_item({"pk": project_pk(project_id), "sk": discards_sk(day)}),
                UpdateExpression="ADD " + ", ".join(f"#n{i} :v{i}" for i in range(len(counts))) + " SET #ttl = :ttl",
                ExpressionAttributeNames={**names, "#ttl": "ttl"},
                ExpressionAttributeValues=values,
            )

    def discards(self, project_id: str) -> list[DailyDiscards]:
        """Every day with reported discards, oldest first."""
        from lodge.models.client_reports import DailyDiscards

        with failing_as("could not read client reports"):
            items = list(self._query_prefix(project_pk(project_id), CLIENT_DISCARDS))
        return [
            DailyDiscards(
                day=str(item["sk"])[len(CLIENT_DISCARDS) :],
                counts={k[len(_COUNT) :]: int(v) for k, v in item.items() if k.startswith(_COUNT)},
            )
            for item in items
        ]
