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


# ---- the time budget: every storage call ends (answered or failed) well inside the function's timeout
FUNCTION_TIMEOUT_ENV = "LODGE_FUNCTION_TIMEOUT_SECONDS"
DEFAULT_FUNCTION_TIMEOUT = 10.0
"""template.yaml's Globals Function Timeout (a test keeps them equal); a deployment with another
timeout sets LODGE_FUNCTION_TIMEOUT_SECONDS and the client timeouts follow."""
HEADROOM_SECONDS = 3.0
"""Left for the rest of the invocation after one call's worst case: the calls before it, parsing,
rolling back and answering 503."""
CONNECT_TIMEOUT = 1.0
ATTEMPTS = 2
"""Total attempts per call (botocore's `total_max_attempts`): one retry rides out a dropped
connection or a throttle; more would not fit the budget."""
RETRY_DELAY_MAX = 1.0
"""Standard mode waits rand(0, 1) x 1 s before the first retry of a throttle (25-50 ms otherwise);
the `x-amz-retry-after` hint, which could add 5 s, is ignored (see `_no_retry_after`)."""
MAX_READ_TIMEOUT = 2.0
"""DynamoDB answers in milliseconds and S3 in well under a second: 2 s is a stall, not a slow call."""


def function_timeout() -> float:
    import os

    try:
        value = float(os.environ.get(FUNCTION_TIMEOUT_ENV, DEFAULT_FUNCTION_TIMEOUT))
    except ValueError:
        value = DEFAULT_FUNCTION_TIMEOUT
    return value if value > 0 else DEFAULT_FUNCTION_TIMEOUT


def read_timeout(timeout: float | None = None) -> float:
    """The read timeout that keeps one call's worst case inside `timeout - HEADROOM_SECONDS`."""
    budget = (timeout if timeout is not None else function_timeout()) - HEADROOM_SECONDS
    per_attempt = (budget - (ATTEMPTS - 1) * RETRY_DELAY_MAX) / ATTEMPTS - CONNECT_TIMEOUT
    return max(0.2, min(MAX_READ_TIMEOUT, per_attempt))


def worst_case_call_seconds(timeout: float | None = None) -> float:
    """The longest one storage call can take before it raises: every attempt hitting both
    timeouts, plus the waits between them."""
    return ATTEMPTS * (CONNECT_TIMEOUT + read_timeout(timeout)) + (ATTEMPTS - 1) * RETRY_DELAY_MAX


def _config() -> Any:
    from botocore.config import Config

    return Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=read_timeout(),
        retries={"total_max_attempts": ATTEMPTS, "mode": "standard"},
    )


def _no_retry_after(response: Any = None, **_: Any) -> None:
    """Drop `x-amz-retry-after` before botocore's retry handler reads it (it may add up to 5 s)."""
    if isinstance(response, tuple) and response and response[0] is not None:
        response[0].headers.pop("x-amz-retry-after", None)


def _create(service: str) -> Any:
    client = _session().create_client(service, config=_config())
    client.meta.events.register_first(
        f"needs-retry.{client.meta.service_model.service_id.hyphenize()}", _no_retry_after
    )
    return client


@lru_cache(maxsize=1)
def dynamodb() -> DynamoDBClient:
    client: DynamoDBClient = _create("dynamodb")
    return client


@lru_cache(maxsize=1)
def s3() -> S3Client:
    client: S3Client = _create("s3")
    return client


# ---- alerts: the hand-off queue and the email topic (issue 11)
@lru_cache(maxsize=1)
def sqs() -> Any:
    # The hand-off runs on the ingest path: the same budget as storage, one quick try and one retry.
    return _create("sqs")


@lru_cache(maxsize=1)
def sns() -> Any:
    return _create("sns")


def reset() -> None:
    """Forget cached clients (tests switch endpoints and credentials between cases)."""
    dynamodb.cache_clear()
    s3.cache_clear()
    sqs.cache_clear()
    sns.cache_clear()
    _session.cache_clear()
