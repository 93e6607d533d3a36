"""One in-process harness (moto, the demo project, seeded data) per test module of tests/fuzz."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fuzz.driver import InProcess


@pytest.fixture(scope="module")
def harness() -> Iterator[InProcess]:
    with InProcess() as running:
        yield running
