"""The table and bucket behind every storage module: clients, settings and paged queries."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from lodge import aws
from lodge.config import Settings, settings
from lodge.dynamo import from_item, to_attr, to_item
from lodge.storage.errors import StorageError, failing_as

BATCH_GET_KEYS = 100
"""BatchGetItem's limit of keys per call."""
BATCH_GET_ATTEMPTS = 5
"""Calls per 100 keys while DynamoDB leaves some unprocessed (throttling), then a storage error."""


class Table:
    """Lodge's DynamoDB table and S3 bucket. One instance per process is enough."""

    def __init__(self, config: Settings | None = None, dynamodb: Any = None, s3: Any = None) -> None:
        self.config = config or settings()
        self._ddb = dynamodb
        self._s3 = s3

    @property
    def ddb(self) -> Any:
        if self._ddb is None:
            self._ddb = aws.dynamodb()
        return self._ddb

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = aws.s3()
        return self._s3

    @property
    def table(self) -> str:
        return self.config.table_name

    def _query_prefix(self, pk: str, prefix: str) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": to_attr(pk), ":prefix": to_attr(prefix)},
        }
        while True:
            response = self.ddb.query(**request)
            for raw in response.get("Items", []):
                yield from_item(raw)
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _batch_get(self, keys: Sequence[dict[str, Any]], what: str) -> Iterator[dict[str, Any]]:
        """The items of `keys` (plain dicts), BATCH_GET_KEYS a call, unprocessed keys asked again at
        most BATCH_GET_ATTEMPTS times; absent items are left out. Fails as "could not read <what>"."""
        for start in range(0, len(keys), BATCH_GET_KEYS):
            request: dict[str, Any] = {self.table: {"Keys": [to_item(k) for k in keys[start : start + BATCH_GET_KEYS]]}}
            for _attempt in range(BATCH_GET_ATTEMPTS):
                with failing_as(f"could not read {what}"):
                    response = self.ddb.batch_get_item(RequestItems=request)
                for raw in response.get("Responses", {}).get(self.table, []):
                    yield from_item(raw)
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise StorageError(f"could not read {what}: the table kept throttling")

    def _put_all(self, items: Sequence[dict[str, Any]], what: str) -> int:
        """PutItem each item (plain dicts), in order; fails as "could not write <what>". Returns how many."""
        with failing_as(f"could not write {what}"):
            for item in items:
                self.ddb.put_item(TableName=self.table, Item=to_item(item))
        return len(items)
