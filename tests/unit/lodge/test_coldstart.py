"""lodge.coldstart.init_done: freezes the objects init built, once, and only in a Lambda runtime."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from lodge import coldstart


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    gc.unfreeze()
    coldstart._frozen = False
    yield
    gc.unfreeze()  # the rest of the session keeps an ordinary collector
    coldstart._frozen = False


def test_in_a_lambda_runtime_the_objects_of_init_leave_the_collectors_scans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "rollbar_item")
    coldstart.init_done()
    assert gc.get_freeze_count() > 1000
    assert gc.isenabled()


def test_it_freezes_once_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "rollbar_item")
    coldstart.init_done()
    frozen = gc.get_freeze_count()
    later = [[object()] for _ in range(100)]  # built after init: left to the collector
    coldstart.init_done()
    assert gc.get_freeze_count() == frozen
    assert later


def test_outside_a_lambda_runtime_nothing_is_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    coldstart.init_done()
    assert gc.get_freeze_count() == 0
