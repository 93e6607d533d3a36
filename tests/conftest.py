"""Shared fixtures: fake AWS credentials, moto's mock_aws with the table and bucket built from
template.yaml, a store, and a project with a full set of credentials."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

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

from lodge import auth, aws, config, scrubbing  # noqa: E402
from lodge.storage import Store  # noqa: E402
from lodge_devtools import emulation  # noqa: E402


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
        config.settings.cache_clear()
        emulation.provision(aws.dynamodb(), aws.s3(), os.environ["TABLE_NAME"], os.environ["BUCKET_NAME"])
        yield
        aws.reset()
        auth.clear_cache()
    _forget_cached_sessions()


@pytest.fixture
def store(aws_mock: None) -> Store:
    return Store()


@dataclass
class Project:
    id: str
    credentials: dict[str, str]


@pytest.fixture
def project(store: Store) -> Project:
    project_id, credentials = auth.create_project(store, "Test project")
    return Project(project_id, credentials)


@pytest.fixture
def other_project(store: Store) -> Project:
    project_id, credentials = auth.create_project(store, "Someone else's project")
    return Project(project_id, credentials)
