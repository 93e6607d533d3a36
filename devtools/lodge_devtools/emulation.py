"""Create Lodge's table and bucket from template.yaml's own properties, in moto or any endpoint.

Tests (moto's mock_aws) and the local runner (moto's server, or AWS_ENDPOINT_URL pointing at
DynamoDB Local or a real account) share this, so what runs locally is what the template deploys.
"""

from __future__ import annotations

import contextlib
from typing import Any

from lodge_devtools import template as tpl

TABLE_KEYS = (
    "AttributeDefinitions",
    "KeySchema",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "BillingMode",
    "StreamSpecification",
)


def table_properties(template: dict[str, Any] | None = None) -> dict[str, Any]:
    template = template or tpl.load()
    (props,) = [r["Properties"] for r in tpl.resources(template, "AWS::DynamoDB::Table").values()]
    return props


def create_table(client: Any, table_name: str, template: dict[str, Any] | None = None) -> None:
    """Create the table (and enable TTL) unless it exists."""
    props = table_properties(template)
    if table_name in client.list_tables().get("TableNames", []):
        return
    args = {k: props[k] for k in TABLE_KEYS if k in props}
    if "StreamSpecification" in args:  # CloudFormation implies StreamEnabled; the API wants it said
        args["StreamSpecification"] = {"StreamEnabled": True, **args["StreamSpecification"]}
    client.create_table(TableName=table_name, **args)
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        # Some emulators lack TTL; retention is then simply not enforced locally.
        with contextlib.suppress(client.exceptions.ClientError):
            client.update_time_to_live(
                TableName=table_name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )


def create_bucket(client: Any, bucket_name: str) -> None:
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if bucket_name not in existing:
        client.create_bucket(Bucket=bucket_name)


def provision(dynamodb: Any, s3: Any, table_name: str, bucket_name: str) -> None:
    create_table(dynamodb, table_name)
    create_bucket(s3, bucket_name)
