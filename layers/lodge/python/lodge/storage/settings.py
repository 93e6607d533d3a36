"""Project settings: one item per setting kind, next to the project item.

Today only scrubbing (`lodge.scrubbing`): pk `PRJ#<project>`, sk `SET#scrub`, attributes `on`
(bool), `xk` extra keys, `sk2` safe keys (string sets). No item: the defaults (scrubbing on).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lodge.dynamo import from_item, to_item
from lodge.storage.errors import failing_as
from lodge.storage.keys import project_pk
from lodge.storage.table import Table

SCRUB_SK = "SET#scrub"


class Settings(Table):
    def scrub_config(self, project_id: str) -> dict[str, Any] | None:
        """The project's scrubbing settings in `scrub.policy_from_config` form, or None (defaults)."""
        with failing_as("could not read the project's settings"):
            response = self.ddb.get_item(
                TableName=self.table, Key=to_item({"pk": project_pk(project_id), "sk": SCRUB_SK})
            )
        if "Item" not in response:
            return None
        item = from_item(response["Item"])
        return {
            "enabled": bool(item.get("on", True)),
            "extra_keys": sorted(item.get("xk", ())),
            "safe_keys": sorted(item.get("sk2", ())),
        }

    def put_scrub_config(
        self, project_id: str, *, enabled: bool, extra_keys: Iterable[str], safe_keys: Iterable[str]
    ) -> None:
        item = {
            "pk": project_pk(project_id),
            "sk": SCRUB_SK,
            "on": enabled,
            "xk": set(extra_keys) or None,
            "sk2": set(safe_keys) or None,
        }
        with failing_as("could not store the project's settings"):
            self.ddb.put_item(TableName=self.table, Item=to_item(item))
