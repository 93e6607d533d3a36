"""The fixed-seed fuzz subset `make test` runs: a few dozen cases per endpoint in-process and a
few over HTTP through the local runner. Any 500, escaped exception, timeout, malformed response
or traceback whose class is not a known open finding (tests.fuzz.findings) fails the test.
`make fuzz` runs the full 10,000 per endpoint with a fresh seed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fuzz.driver import InProcess, log_tracebacks
from tests.fuzz.endpoints import ENDPOINTS, Endpoint
from tests.fuzz.findings import KNOWN
from tests.fuzz.run import Tally, fuzz_endpoint, fuzz_http

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

SEED = 20261201
CASES = 60
HTTP_CASES = 8


def unexpected(tally: Tally) -> list[str]:
    """Failing outcomes not explained by a known finding, with the case that produced each."""
    found = [f"{sig}: {tally.examples[sig].describe()[:300]}" for sig in tally.tracebacks if sig not in KNOWN]
    explained = sum(n for sig, n in tally.tracebacks.items() if sig in KNOWN)
    for status, count in tally.statuses.items():
        if isinstance(status, str):
            found.append(f"{count}x {status}: {tally.examples[f'status {status}'].describe()[:300]}")
    if tally.answered_500 > explained:
        found.append(f"{tally.answered_500 - explained} answers of 500 without a known traceback")
    return found


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.name)
def test_fixed_seed_subset_in_process(harness: InProcess, endpoint: Endpoint) -> None:
    tally = fuzz_endpoint(harness, endpoint, CASES, SEED)
    assert tally.cases == CASES
    if endpoint.function == "protocol_fallback":  # its one answer, whatever the request
        assert set(tally.statuses) == {404}, tally.histogram()
    else:
        assert len(tally.statuses) > 1, f"every case got the same answer: {tally.histogram()}"
    assert not unexpected(tally), unexpected(tally)


@pytest.fixture(scope="module")
def http_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Tally], dict[str, int]]]:
    tallies, logged = fuzz_http(list(ENDPOINTS), HTTP_CASES, SEED, Path(tmp_path_factory.mktemp("fuzz-runner")))
    yield tallies, dict(logged)


@pytest.mark.integration
def test_fixed_seed_subset_over_http(http_run: tuple[list[Tally], dict[str, int]]) -> None:
    tallies, logged = http_run
    assert [t.cases for t in tallies] == [HTTP_CASES] * len(ENDPOINTS)
    problems = [(t.endpoint, t.histogram()) for t in tallies if any(isinstance(s, str) for s in t.statuses)]
    assert not problems, problems
    # The runner's own log: tracebacks there are known classes (the same handlers) or new ones.
    assert not [signature for signature in logged if signature not in KNOWN], logged


def test_the_harness_sees_a_traceback_when_there_is_one(harness: InProcess) -> None:
    """The tally must not be blind: a handler that raises is a 500 with its signature counted."""
    from lodge import http

    def broken(request: http.Request) -> dict[str, object]:
        raise ZeroDivisionError("boom")

    import logging

    log = logging.getLogger("lodge.fuzz.selftest")
    response = http.handle({}, broken, log=log)
    assert response["statusCode"] == 500
    assert [s for s in harness.catcher.take() if s.startswith("ZeroDivisionError @ ")]


def test_runner_log_tracebacks_are_classified() -> None:
    root = str(Path(__file__).resolve().parents[2])
    text = (
        "noise\nTraceback (most recent call last):\n"
        f'  File "{root}/layers/lodge/python/lodge/occurrence.py", line 196, in to_detail\n'
        "    return self.model_dump()\n"
        f'  File "{root}/.venv/lib/python3.11/site-packages/pydantic/main.py", line 520, in model_dump\n'
        "    return self.__pydantic_serializer__.to_python(\n"
        "UnicodeEncodeError: 'utf-8' codec can't encode\n"
    )
    record = {
        "level": "ERROR",
        "message": "unhandled error",
        "exception": "Traceback (most recent call last):\n"
        f'  File "{root}/layers/lodge/python/lodge/protocols/rollbar.py", line 336, in _frame\n'
        "    return Frame.model_validate()\npydantic_core._pydantic_core.ValidationError: 1",
        "exception_name": "ValidationError",
    }
    text += "[RollbarItemFunction] " + json.dumps(record) + "\n"
    assert log_tracebacks(text) == {
        "UnicodeEncodeError @ layers/lodge/python/lodge/occurrence.py:to_detail": 1,
        "ValidationError @ layers/lodge/python/lodge/protocols/rollbar.py:_frame": 1,
    }
