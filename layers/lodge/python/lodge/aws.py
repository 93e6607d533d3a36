"""Low-level AWS clients, created once per process.

Clients come straight from botocore: they are the same objects `boto3.client()` returns, without
importing boto3's resource layer, which costs ~60 ms of cold start (see bench/). Endpoint overrides
(`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`, ...) are honoured by botocore itself.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client


@lru_cache(maxsize=1)
def _session() -> Any:
    import botocore.session

    return botocore.session.get_session()


def _config() -> Any:
    from botocore.config import Config

    # Lambda's own timeout is short; fail fast and let the client retry rather than hang.
    return Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})


@lru_cache(maxsize=1)
def dynamodb() -> DynamoDBClient:
    client: DynamoDBClient = _session().create_client("dynamodb", config=_config())
    return client


@lru_cache(maxsize=1)
def s3() -> S3Client:
    client: S3Client = _session().create_client("s3", config=_config())
    return client


# ---- alerts: the hand-off queue and the email topic (issue 11)
@lru_cache(maxsize=1)
def sqs() -> Any:
    from botocore.config import Config

    # The hand-off runs on the ingest path: one quick try and one retry, never a long stall.
    config = Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 2, "mode": "standard"})
    return _session().create_client("sqs", config=config)


@lru_cache(maxsize=1)
def sns() -> Any:
    return _session().create_client("sns", config=_config())


def reset() -> None:
    """Forget cached clients (tests switch endpoints and credentials between cases)."""
    dynamodb.cache_clear()
    s3.cache_clear()
    sqs.cache_clear()
    sns.cache_clear()
    _session.cache_clear()
