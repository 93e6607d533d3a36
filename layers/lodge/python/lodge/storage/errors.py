"""Storage errors: every AWS failure is translated into `StorageError` here, once, at the boundary.

The policy every handler follows (`lodge.http.handle`): a `StorageError` is answered 503 (the
client retries); any other exception is a bug, answered 500 with a generic JSON body and logged
with its traceback. Only the AWS and network failures below count as storage failures, never a
bare `Exception`: a bug answered "please retry" is retried by its client forever.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

from botocore.exceptions import BotoCoreError, ClientError

STORAGE_FAILURES = (BotoCoreError, ClientError, OSError)
"""What DynamoDB and S3 raise when they fail (throttling, timeouts, a dropped connection)."""

_T = TypeVar("_T")


class StorageError(Exception):
    """Storage failed; the request must be answered 5xx so the client retries."""


def error_code(error: BaseException) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


@contextmanager
def failing_as(what: str) -> Iterator[None]:
    """Translate AWS failures inside the block into StorageError(`what`); bugs pass unchanged."""
    try:
        yield
    except STORAGE_FAILURES as error:
        raise StorageError(what) from error


@contextmanager
def relabelled(what: str) -> Iterator[None]:
    """Give a storage failure the caller's own wording (a protocol's documented message)."""
    try:
        yield
    except (StorageError, *STORAGE_FAILURES) as error:
        raise StorageError(what) from error


def iterate_failing_as(what: str, items: Iterator[_T]) -> Iterator[_T]:
    """A lazily paged read with its AWS failures as StorageError."""
    with failing_as(what):
        yield from items
