"""The table and bucket behind every storage module: clients, settings and paged queries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lodge import aws
from lodge.config import Settings, settings
from lodge.dynamo import from_item, to_attr


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
