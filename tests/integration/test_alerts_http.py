"""Alerts end to end through the local runner: real pyrollbar -> ingest -> alert queue (moto SQS)
-> the runner's SQS event source -> alert_deliver -> a loopback receiver; retries, DLQ, CLI redrive."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lodge.alerts import signing
from lodge_devtools import cli
from tests.alert_receiver import receiver
from tests.integration.conftest import RunnerHandle, launch_runner

pytestmark = pytest.mark.integration
KNOBS = {"LODGE_ALERT_RETRY_DELAYS": "0", "LODGE_ALERT_HTTP_TIMEOUT": "0.5"}


@pytest.fixture(scope="module")
def alert_runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunnerHandle]:
    """A runner whose delivery retries at once (visibility 0) and gives a receiver 0.5 s."""
    saved = {k: os.environ.get(k) for k in KNOBS}
    os.environ.update(KNOBS)
    try:
        with launch_runner(tmp_path_factory.mktemp("alerts")) as handle:
            yield handle
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def lodge_cli(runner: RunnerHandle, *args: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert cli.main(["--state-file", str(runner.state_file), *args]) == 0
    return capsys.readouterr().out


def add_webhook(runner: RunnerHandle, project: str, url: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    out = lodge_cli(runner, "alert", "add", project, "webhook", url, "--kinds", "new_issue", "--json", capsys=capsys)
    result: dict[str, Any] = json.loads(out)
    return result


@contextlib.contextmanager
def pyrollbar_for(runner: RunnerHandle, token: str) -> Iterator[Any]:
    import rollbar

    rollbar._initialized = False
    rollbar.init(token, environment="production", endpoint=runner.url + "/api/1/", handler="blocking", timeout=10)
    try:
        yield rollbar
    finally:
        rollbar._initialized = False


def _raise(kind: str) -> None:
    raise RuntimeError(f"alert test {kind}")


def report_new_issue(rollbar: Any, kind: str) -> None:
    try:
        _raise(kind)
    except RuntimeError:
        assert rollbar.report_exc_info()


def test_new_issue_from_pyrollbar_is_one_signed_webhook(
    alert_runner: RunnerHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    project_id, credentials = alert_runner.new_project("alerts-new")
    with receiver() as hook:
        rule = add_webhook(alert_runner, project_id, hook.url, capsys)
        with pyrollbar_for(alert_runner, credentials["rollbar_post_server_item"]) as rollbar:
            report_new_issue(rollbar, "new")
            report_new_issue(rollbar, "new")  # same issue again: no second new-issue alert
            (delivered,) = hook.wait_for(1)
            time.sleep(2)  # time for a wrong second alert to arrive
    assert len(hook.requests) == 1
    header = delivered.headers[signing.HEADER]
    assert signing.verify(rule["secret"], delivered.body, header)
    body = json.loads(delivered.body)
    assert body["kind"] == "new_issue" and body["project"]["id"] == project_id
    assert body["issue"]["title"] == "RuntimeError: alert test new"
    assert body["occurrence"]["frames"][0].endswith("in _raise")
    assert delivered.headers["Lodge-Alert-Id"] == body["id"]
    tampered = delivered.body.replace(b"new_issue", b"regression")
    with pytest.raises(signing.SignatureError):
        signing.verify(rule["secret"], tampered, header)
    with pytest.raises(signing.SignatureError):  # a replay an hour later
        signing.verify(rule["secret"], delivered.body, header, now=time.time() + 3600)


def test_a_receiver_failing_three_times_gets_the_alert_on_the_fourth_try(
    alert_runner: RunnerHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    project_id, credentials = alert_runner.new_project("alerts-retry")
    with receiver() as hook:
        hook.statuses = [500, 500, 500]
        add_webhook(alert_runner, project_id, hook.url, capsys)
        with pyrollbar_for(alert_runner, credentials["rollbar_post_server_item"]) as rollbar:
            report_new_issue(rollbar, "retry")
            tries = hook.wait_for(4)
            time.sleep(1.5)
    assert len(hook.requests) == 4
    assert len({json.loads(t.body)["id"] for t in tries}) == 1, "every try carries the same alert id"


def test_a_receiver_that_never_answers_ends_in_the_dlq_and_is_redriven(
    alert_runner: RunnerHandle, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    project_id, credentials = alert_runner.new_project("alerts-dlq")
    with receiver() as hook:
        hook.hang = True
        add_webhook(alert_runner, project_id, hook.url, capsys)
        with pyrollbar_for(alert_runner, credentials["rollbar_post_server_item"]) as rollbar:
            report_new_issue(rollbar, "dlq")
        hook.wait_for(6, timeout=60)
        deadline = time.monotonic() + 30
        listed: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not listed:
            listed = json.loads(lodge_cli(alert_runner, "alert", "dlq", "list", "--json", capsys=capsys))
            time.sleep(0.5)
        assert len(hook.requests) == 6, "6 tries (maxReceiveCount), then the dead-letter queue"
        assert [row["project"] for row in listed] == [project_id]
        assert listed[0]["kind"] == "new_issue"
        hook.hang = False
        hook.stop_hanging.set()
        time.sleep(1.5)  # let the dead-letter listing's visibility lapse
        assert "Redrove 1 alert(s)" in lodge_cli(alert_runner, "alert", "dlq", "redrive", capsys=capsys)
        hook.wait_for(7)
    assert len(hook.requests) == 7
    assert json.loads(lodge_cli(alert_runner, "alert", "dlq", "list", "--json", capsys=capsys)) == []
