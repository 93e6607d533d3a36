"""Fixed-window request counters, only for credentials that have a limit (no write otherwise)."""

from __future__ import annotations

import time

from lodge.dynamo import to_attr, to_item
from lodge.storage.errors import failing_as
from lodge.storage.keys import rate_limit_pk
from lodge.storage.table import Table


class RateLimits(Table):
    def hit_rate_limit(self, token_hash: str, limit: int, window_seconds: int = 60) -> tuple[bool, int, int]:
        """Count one request in a fixed window; returns (allowed, remaining, window reset epoch)."""
        now = int(time.time())
        start = now - now % window_seconds
        reset = start + window_seconds
        with failing_as("could not count the request against the rate limit"):
            try:
                response = self.ddb.update_item(
                    TableName=self.table,
                    Key=to_item({"pk": rate_limit_pk(token_hash), "sk": str(start)}),
                    UpdateExpression="ADD #c :one SET #ttl = :ttl",
                    ConditionExpression="attribute_not_exists(#c) OR #c < :limit",
                    ExpressionAttributeNames={"#c": "c", "#ttl": "ttl"},
                    ExpressionAttributeValues={
                        ":one": to_attr(1),
                        ":limit": to_attr(limit),
                        ":ttl": to_attr(reset + 60),
                    },
                    ReturnValues="UPDATED_NEW",
                )
            except self.ddb.exceptions.ConditionalCheckFailedException:
                return False, 0, reset
        used = int(response["Attributes"]["c"]["N"])
        return True, max(0, limit - used), reset
