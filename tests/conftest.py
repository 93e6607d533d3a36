"""Shared fixtures: fake AWS credentials, moto's mock_aws with the table and bucket built from
template.yaml, a store, and a project with a full set of credentials."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

# Never let a test reach a real account or a stray endpoint.
for _name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL") or n in ("AWS_PROFILE", "AWS_SESSION_TOKEN")]:
    del os.environ[_name]
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_EC2_METADATA_DISABLED="true",
    TABLE_NAME="lodge-test",
    BUCKET_NAME="lodge-test-payloads",
    POWERTOOLS_METRICS_NAMESPACE="LodgeTest",
    POWERTOOLS_SERVICE_NAME="lodge-test",
)

from lodge import auth, aws, config, flood, scrubbing  # noqa: E402
from lodge.storage import PutOutcome, Store  # noqa: E402
from lodge.storage.records import Records  # noqa: E402
from lodge_devtools import emulation  # noqa: E402
from lodge_devtools.streams import StreamPoller, in_process_invoke  # noqa: E402


def _forget_cached_sessions() -> None:
    """Sessions made before mock_aws started would bypass it and reach real AWS: drop them."""
    import sys

    target = sys.modules.get("lodge_devtools.target")
    if target is not None:
        target.botocore_session.cache_clear()


@pytest.fixture
def aws_mock() -> Iterator[None]:
    """moto in-process, with Lodge's table and bucket created from template.yaml."""
    from moto import mock_aws

    _forget_cached_sessions()
    with mock_aws():
        aws.reset()
        auth.clear_cache()
        scrubbing.clear_cache()
        flood.clear_cache()  # issue 15 point 8: the container's flood view and pending counts
        config.settings.cache_clear()
        emulation.provision(aws.dynamodb(), aws.s3(), os.environ["TABLE_NAME"], os.environ["BUCKET_NAME"])
        yield
        aws.reset()
        auth.clear_cache()
    _forget_cached_sessions()


@pytest.fixture
def store(aws_mock: None) -> Store:
    return Store()


@pytest.fixture
def digest(aws_mock: None) -> StreamPoller:
    """The digest's event source mapping over moto's stream; `digest.drain()` digests all so far."""
    return StreamPoller(aws.dynamodb(), os.environ["TABLE_NAME"], in_process_invoke())


@pytest.fixture(autouse=True)
def _digest_each_put(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests on moto read counts and listings right after a write: digest every stored record at
    once (the stream is drained synchronously after each put). Tests of the digest itself mark
    themselves `@pytest.mark.manual_digest` and drain when they choose."""
    if "aws_mock" not in request.fixturenames or request.node.get_closest_marker("manual_digest"):
        yield
        return
    poller: StreamPoller = request.getfixturevalue("digest")
    put_record = Records.put_record

    def put_then_digest(self: Records, *args: Any, **kwargs: Any) -> PutOutcome:
        outcome = put_record(self, *args, **kwargs)
        poller.drain()
        return outcome

    with pytest.MonkeyPatch.context() as patch:  # its own: a test's monkeypatch.undo() keeps it
        patch.setattr(Records, "put_record", put_then_digest)
        yield


@dataclass
class Project:
    id: str
    credentials: dict[str, str]


@pytest.fixture
def steady_rate_window(monkeypatch: pytest.MonkeyPatch) -> int:
    """The rate limiter's clock held in the middle of the current minute: a test that sends a few
    requests must not see them split over two fixed windows when the wall clock turns a minute."""
    import time
    from types import SimpleNamespace

    from lodge.storage import rate_limits

    mid_minute = int(time.time()) // 60 * 60 + 30
    monkeypatch.setattr(rate_limits, "time", SimpleNamespace(time=lambda: mid_minute))
    return mid_minute


@pytest.fixture
def project(store: Store) -> Project:
    project_id, credentials = auth.create_project(store, "Test project")
    return Project(project_id, credentials)


@pytest.fixture
def other_project(store: Store) -> Project:
    project_id, credentials = auth.create_project(store, "Someone else's project")
    return Project(project_id, credentials)
