"""The ingest handlers' EMF metrics (issue 16): a stored event writes no metric line (the digest counts
what is stored, Lambda counts invocations); only what never reaches the table's stream is counted
here: refusals, duplicates (a client's retry) and Sentry items Lodge does not store."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bench.workload import load
from tests.conftest import Project
from tests.helpers import invoke

pytestmark = pytest.mark.filterwarnings("error:No application metrics to publish")


def emf_metrics(stdout: str) -> list[str]:
    """The metric names of every EMF line written."""
    names = []
    for line in stdout.splitlines():
        if '"_aws"' not in line:
            continue
        blob: dict[str, Any] = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            names += [m["Name"] for m in directive["Metrics"]]
    return names


def credentials(project: Project) -> dict[str, str]:
    return {**project.credentials, "project_id": project.id}


@pytest.mark.parametrize(
    "workload", ["rollbar_python_chained", "appsignal_batch20", "crashlog_ruby", "sentry_python_chained"]
)
def test_a_stored_event_writes_no_metric_line(
    workload: str, project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    captured = load(workload)
    response = invoke(captured.function, captured.request(credentials(project)).event())
    assert response["statusCode"] == 200, response
    assert emf_metrics(capsys.readouterr().out) == []


@pytest.mark.parametrize("workload", ["rollbar_python_chained", "appsignal_batch20", "sentry_python_chained"])
def test_a_duplicate_is_counted_once(workload: str, project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    captured = load(workload)
    first = captured.request(credentials(project))
    assert invoke(captured.function, first.event())["statusCode"] == 200
    capsys.readouterr()
    retry = captured.request(credentials(project), ids=first.ids)
    assert invoke(captured.function, retry.event())["statusCode"] == 200
    assert emf_metrics(capsys.readouterr().out) == ["OccurrencesDuplicate"]


@pytest.mark.parametrize(
    ("workload", "metric"),
    [("rollbar_python_chained", "ItemsRejected"), ("crashlog_ruby", "RequestsRejected")],
)
def test_a_refusal_is_counted(workload: str, metric: str, project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    captured = load(workload)
    wrong = {**credentials(project), captured.credential_kind: "0" * 32}
    response = invoke(captured.function, captured.request(wrong).event())
    assert response["statusCode"] in (401, 403), response
    assert emf_metrics(capsys.readouterr().out) == [metric]
