"""bench.meter: what a request asks of AWS, S3 bytes and tags included (issue 16: they read 0)."""

from __future__ import annotations

import os

import botocore.session
import pytest

from bench import env
from bench.meter import SIMULATED_LATENCY_MS, Meter
from lodge import aws


@pytest.fixture
def meter(aws_mock: None) -> Meter:
    inspector = botocore.session.Session().create_client("dynamodb", region_name="us-east-1")
    key_names, index = env.table_keys()
    clients = {"dynamodb": aws.dynamodb(), "s3": aws.s3()}
    return Meter(clients, inspector, os.environ["TABLE_NAME"], key_names, index)


def test_the_bytes_and_tags_of_an_s3_put_are_measured(meter: Meter) -> None:
    meter.start()
    aws.s3().put_object(
        Bucket=os.environ["BUCKET_NAME"], Key="p/r", Body=b"x" * 5000, Tagging="lodge-expire=true&kind=detail"
    )
    summary = meter.stop().summary()
    assert summary["s3_puts"] == 1
    assert summary["s3_bytes"] == 5000
    assert summary["s3_tags"] == 2


def test_the_wait_for_aws_is_the_simulated_latency_of_each_sequential_round_trip(meter: Meter) -> None:
    meter.start()
    item = {"pk": {"S": "PRJ#x"}, "sk": {"S": "REC#1"}}
    aws.dynamodb().put_item(TableName=os.environ["TABLE_NAME"], Item=item)
    aws.s3().put_object(Bucket=os.environ["BUCKET_NAME"], Key="p/r", Body=b"x")
    summary = meter.stop().summary()
    assert summary["round_trips"] == 2
    assert summary["aws_wait_ms"] == SIMULATED_LATENCY_MS["dynamodb"] + SIMULATED_LATENCY_MS["s3"]
