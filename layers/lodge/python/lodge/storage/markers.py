"""Markers: deploys, custom markers and announces, one item shape (`lodge.models.markers.Marker`'s fields).

Ids are time-ordered integers (Rollbar's deploy ids are ints). The put is conditional: two markers
made in the same millisecond may draw the same id, and an unconditional put would silently
overwrite the first; a collision is retried with a fresh id.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from lodge.dynamo import from_item, to_attr, to_item
from lodge.storage.errors import StorageError, failing_as
from lodge.storage.keys import MARKER, marker_sk, new_marker_id, project_pk
from lodge.storage.table import Table

if TYPE_CHECKING:
    from lodge.models.markers import Marker, MarkerChanges

MARKER_ID_ATTEMPTS = 5


def to_marker(item: dict[str, Any]) -> Marker:
    from lodge.models.markers import Marker  # not at import: the ingest functions never need it

    values = {k: v for k, v in item.items() if k in Marker._fields}
    if values.get("id") is not None:
        values["id"] = int(values["id"])
    values.setdefault("kind", "deploy")
    return Marker(**values)


def marker_item(marker: Marker) -> dict[str, Any]:
    return {k: v for k, v in marker._asdict().items() if v is not None and k != "id"}


class Markers(Table):
    def put_marker(self, project_id: str, marker: dict[str, Any], marker_id: int | None = None) -> int:
        """Store a new marker under a fresh id (or `marker_id`); never overwrites one."""
        attempts = 1 if marker_id is not None else MARKER_ID_ATTEMPTS
        for _ in range(attempts):
            chosen = marker_id if marker_id is not None else new_marker_id()
            item = {**marker, "pk": project_pk(project_id), "sk": marker_sk(chosen), "id": chosen}
            item.setdefault("created", round(time.time(), 3))
            with failing_as("could not store the marker"):
                try:
                    self.ddb.put_item(
                        TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)"
                    )
                except self.ddb.exceptions.ConditionalCheckFailedException:
                    continue
            return chosen
        raise StorageError("could not store the marker: its id is taken")

    def get_marker(self, project_id: str, marker_id: int) -> dict[str, Any] | None:
        with failing_as("could not read the marker"):
            response = self.ddb.get_item(
                TableName=self.table, Key=to_item({"pk": project_pk(project_id), "sk": marker_sk(marker_id)})
            )
        return from_item(response["Item"]) if "Item" in response else None

    def update_marker(self, project_id: str, marker_id: int, changes: dict[str, Any]) -> dict[str, Any] | None:
        changes = {k: v for k, v in changes.items() if v is not None and k not in ("pk", "sk", "id")}
        if not changes:
            return self.get_marker(project_id, marker_id)
        names = {f"#a{i}": k for i, k in enumerate(changes)}
        values = {f":v{i}": to_attr(v) for i, v in enumerate(changes.values())}
        with failing_as("could not update the marker"):
            try:
                response = self.ddb.update_item(
                    TableName=self.table,
                    Key=to_item({"pk": project_pk(project_id), "sk": marker_sk(marker_id)}),
                    UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(changes))),
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                )
            except self.ddb.exceptions.ConditionalCheckFailedException:
                return None
        return from_item(response["Attributes"])

    def list_markers(self, project_id: str, newest_first: bool = True) -> list[dict[str, Any]]:
        with failing_as("could not read markers"):
            markers = list(self._query_prefix(project_pk(project_id), MARKER))
        return markers[::-1] if newest_first else markers

    # ---- the read model ---------------------------------------------------------------------------

    def add_marker(self, project_id: str, marker: Marker) -> Marker:
        """Store a new marker; returns it as stored (with its id, and `created` now unless given)."""
        if marker.created is None:
            marker = marker._replace(created=round(time.time(), 3))
        marker_id = self.put_marker(project_id, marker_item(marker))
        return marker._replace(id=marker_id)

    def marker(self, project_id: str, marker_id: int) -> Marker | None:
        item = self.get_marker(project_id, marker_id)
        return to_marker(item) if item else None

    def markers(self, project_id: str) -> list[Marker]:
        """Every marker of the project, newest id first."""
        return [to_marker(item) for item in self.list_markers(project_id)]

    def change_marker(self, project_id: str, marker_id: int, changes: MarkerChanges) -> Marker | None:
        item = self.update_marker(project_id, marker_id, changes._asdict())
        return to_marker(item) if item else None

    def replace_marker(self, project_id: str, marker_id: int, marker: Marker) -> Marker | None:
        """Set the given marker's fields (None ones are left as they are); None: no such marker."""
        item = self.update_marker(project_id, marker_id, marker_item(marker))
        return to_marker(item) if item else None

    def delete_marker(self, project_id: str, marker_id: int) -> Marker | None:
        """Delete a marker; returns it as it was, or None when there was none."""
        with failing_as("could not delete the marker"):
            response = self.ddb.delete_item(
                TableName=self.table,
                Key=to_item({"pk": project_pk(project_id), "sk": marker_sk(marker_id)}),
                ReturnValues="ALL_OLD",
            )
        return to_marker(from_item(response["Attributes"])) if "Attributes" in response else None
