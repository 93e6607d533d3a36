"""The console's signing key: 32 random bytes made once per deployment, kept in the table
(encrypted at rest) under its own key, outside every project's partition."""

from __future__ import annotations

import secrets
import time

from lodge.dynamo import from_item, to_item
from lodge.storage.errors import failing_as
from lodge.storage.table import Table

SESSION_KEY_PK = "LODGE#CONSOLE"
SESSION_KEY_SK = "SESSION_KEY"


class Console(Table):
    def console_session_key(self) -> bytes:
        """The key, made by the first process to ask (a conditional put); every other reads that one."""
        key = to_item({"pk": SESSION_KEY_PK, "sk": SESSION_KEY_SK})
        with failing_as("could not read the console's session key"):
            found = self.ddb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
            if found is None:
                fresh = secrets.token_bytes(32)
                item = {"pk": SESSION_KEY_PK, "sk": SESSION_KEY_SK, "key": fresh, "created": int(time.time())}
                try:
                    self.ddb.put_item(
                        TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)"
                    )
                except self.ddb.exceptions.ConditionalCheckFailedException:
                    found = self.ddb.get_item(TableName=self.table, Key=key, ConsistentRead=True)["Item"]
                else:
                    return fresh
        return bytes(from_item(found)["key"])
