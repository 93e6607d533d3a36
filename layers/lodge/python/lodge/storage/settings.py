"""Project settings: one item next to the project item, everything the request path obeys, so that
it reads them with one GetItem (cached per container, lodge.project_settings).

pk `PRJ#<project>`, sk `SET#scrub` (keys.SETTINGS_SK). Scrubbing (`lodge.scrubbing`): attributes `on`
(bool), `xk` extra keys, `sk2` safe keys (string sets); no attributes: the defaults (scrubbing on).
Floods (`lodge.storage.floods`): `ipm` the per-issue limit, `f<issue id>` the flood state. Each
writer updates only its own attributes, so none overwrites the others'.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from lodge.dynamo import from_item, to_attr, to_item
from lodge.storage.errors import failing_as
from lodge.storage.floods import FloodView, flood_view_of
from lodge.storage.keys import SETTINGS_SK, project_pk
from lodge.storage.table import Table

SCRUB_SK = SETTINGS_SK
SCRUB_ATTRIBUTES = ("on", "xk", "sk2")


@dataclass(frozen=True)
class ProjectSettings:
    scrub: dict[str, Any] | None
    """The scrubbing settings in `scrub.policy_from_config` form, or None (defaults)."""
    flood: FloodView


def _scrub_of(item: dict[str, Any]) -> dict[str, Any] | None:
    if not any(name in item for name in SCRUB_ATTRIBUTES):
        return None
    return {
        "enabled": bool(item.get("on", True)),
        "extra_keys": sorted(item.get("xk", ())),
        "safe_keys": sorted(item.get("sk2", ())),
    }


class Settings(Table):
    def project_settings(self, project_id: str) -> ProjectSettings:
        """Scrubbing settings, flood limit and flood state: one GetItem (the request path's read)."""
        with failing_as("could not read the project's settings"):
            response = self.ddb.get_item(
                TableName=self.table, Key=to_item({"pk": project_pk(project_id), "sk": SETTINGS_SK})
            )
        item = from_item(response["Item"]) if "Item" in response else {}
        return ProjectSettings(scrub=_scrub_of(item), flood=flood_view_of(item))

    def scrub_config(self, project_id: str) -> dict[str, Any] | None:
        return self.project_settings(project_id).scrub

    def flood_view(self, project_id: str) -> FloodView:
        return self.project_settings(project_id).flood

    def flood_limit(self, project_id: str) -> int:
        return self.flood_view(project_id).limit

    def put_scrub_config(
        self, project_id: str, *, enabled: bool, extra_keys: Iterable[str], safe_keys: Iterable[str]
    ) -> None:
        """Set the scrubbing attributes only (the flood limit and state share the item)."""
        sets: dict[str, Any] = {"on": enabled, "xk": set(extra_keys), "sk2": set(safe_keys)}
        names = {f"#a{i}": name for i, name in enumerate(sets)}
        assigned = [(alias, sets[name]) for alias, name in names.items() if sets[name] not in (set(), None)]
        removed = [alias for alias, name in names.items() if sets[name] in (set(), None)]
        expression = "SET " + ", ".join(f"{alias} = :v{alias[2:]}" for alias, _ in assigned)
        if removed:
            expression += " REMOVE " + ", ".join(removed)
        with failing_as("could not store the project's settings"):
            self.ddb.update_item(
                TableName=self.table,
                Key=to_item({"pk": project_pk(project_id), "sk": SETTINGS_SK}),
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={f":v{alias[2:]}": to_attr(value) for alias, value in assigned},
            )
