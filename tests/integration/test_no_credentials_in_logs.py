"""No credential in any log line: a realistic session through the local runner, every log read back.

One project with every kind of credential; each protocol's credential presented every way its
clients do (header, query string, body, HMAC signature, console form, Sentry auth header and query),
the read APIs, the console sign-in, and an alert webhook with its signing secret delivered to a
receiver. Then every file the runner wrote as a log (its own output with
the access log, the functions' logs) must hold none of the credentials the run created.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from lodge.protocols.sentry.auth import dsn_project_number
from lodge_devtools import cli
from tests.alert_receiver import receiver
from tests.fixtures.crashlog.signer import signed_headers
from tests.integration.conftest import RunnerHandle, launch_runner
from tests.unit.functions.test_rollbar_read import fixture

pytestmark = pytest.mark.integration
KNOBS = {"LODGE_ALERT_RETRY_DELAYS": "0"}
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def session_runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunnerHandle, Path]]:
    saved = {k: os.environ.get(k) for k in KNOBS}
    os.environ.update(KNOBS)
    workdir = tmp_path_factory.mktemp("credentials")
    try:
        with launch_runner(workdir) as handle:
            yield handle, workdir
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def rollbar_item(token_field: str | None = None) -> dict[str, object]:
    payload = fixture("e1_pyrollbar_exc_info")
    payload["data"]["uuid"] = str(uuid.uuid4())
    if token_field:
        payload["access_token"] = token_field
    return payload


def run_session(runner: RunnerHandle, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """Everything a team does in its first hour; returns every credential it created."""
    url = runner.url
    project_id, credentials = runner.new_project("credentials")
    post_token = credentials["rollbar_post_server_item"]
    answers: list[int] = []
    client = requests.Session()  # one client, no cookies kept between calls that matter here

    def keep(response: requests.Response) -> requests.Response:
        answers.append(response.status_code)
        return response

    # Alert webhook with its signing secret, before the first report (a new issue alerts).
    capsys.readouterr()
    with receiver() as hook:
        assert cli.main(["--state-file", str(runner.state_file), "alert", "add", project_id, "webhook", hook.url,
                         "--kinds", "new_issue", "--json"]) == 0  # fmt: skip
        webhook_secret = json.loads(capsys.readouterr().out)["secret"]
        # Rollbar: header, body, query string (and a wrong token, whose refusal is logged too).
        keep(client.post(f"{url}/api/1/item/", json=rollbar_item(), headers={"X-Rollbar-Access-Token": post_token}))
        keep(client.post(f"{url}/api/1/item/", json=rollbar_item(post_token)))
        keep(client.post(f"{url}/api/1/item/?access_token={post_token}", json=rollbar_item()))
        keep(
            client.post(f"{url}/api/1/item/", json=rollbar_item(), headers={"X-Rollbar-Access-Token": post_token[:-1]})
        )
        hook.wait_for(1)
    # AppSignal push: the api key in the query string.
    batch = json.loads((FIXTURES / "appsignal" / "gem_0_11_18_batch.json").read_text())
    keep(client.post(f"{url}/1/log_entries?api_key={credentials['appsignal_push']}&name=x&environment=production",
                       json=batch))  # fmt: skip
    # CrashLog: HMAC-signed, key in the Authorization header.
    body = (FIXTURES / "crashlog" / "ruby_1.0.7.json").read_bytes()
    headers = signed_headers(credentials["crashlog"], credentials["crashlog_secret"], "POST", "/events", body=body)
    keep(client.post(f"{url}/events", data=body, headers=headers))
    # Sentry: the auth header (server SDKs) and the query string (browser SDK).
    number = dsn_project_number(project_id)
    envelope = (FIXTURES / "sentry" / "python_exception.envelope").read_bytes()
    key = credentials["sentry_dsn"]
    keep(client.post(f"{url}/api/{number}/envelope/", data=envelope,
                       headers={"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7"}))  # fmt: skip
    keep(client.post(f"{url}/api/{number}/envelope/?sentry_key={key}&sentry_version=7", data=envelope))
    # Read APIs: Rollbar's header and query, AppSignal's token query, CrashLog's locate.
    read = credentials["rollbar_read"]
    keep(client.get(f"{url}/api/1/items/", headers={"X-Rollbar-Access-Token": read}))
    keep(client.get(f"{url}/api/1/items/?access_token={read}"))
    keep(client.get(f"{url}/api/{project_id}/samples.json?token={credentials['personal']}"))
    keep(client.get(f"{url}/locate/{uuid.uuid4()}?token={credentials['personal']}", allow_redirects=False))
    # The console: sign in with the personal token, look around, sign out.
    browser = requests.Session()
    form = browser.get(f"{url}/console/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf
    keep(browser.post(f"{url}/console/signin", data={"csrf": csrf[1], "token": credentials["personal"]}))
    keep(browser.get(f"{url}/console/issues"))
    keep(browser.get(f"{url}/console/settings"))
    assert answers.count(200) >= 10, answers
    return {**credentials, "webhook_secret": webhook_secret, "project_id": project_id}


def test_no_credential_the_session_created_is_in_any_log_line(
    session_runner: tuple[RunnerHandle, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    runner, workdir = session_runner
    created = run_session(runner, capsys)
    time.sleep(1.0)  # the functions' log lines are flushed by their workers
    logs = [path for path in workdir.rglob("*") if path.is_file() and (path.suffix == ".log" or "logs" in path.parts)]
    assert runner.log_path in logs
    text = "\n".join(path.read_text(encoding="utf-8", errors="replace") for path in logs)
    project_id = created.pop("project_id")
    # Not blind: this session's requests (by its project id) and the functions' own lines are there.
    assert f"GET /api/{project_id}/samples.json?token=*** 200" in text
    assert "POST /console/signin" in text
    assert len(text.splitlines()) > 30
    leaks = [
        f"{kind} in {path.name}: {line[:200]}"
        for path in logs
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
        for kind, secret in created.items()
        if secret and secret in line
    ]
    assert not leaks, "\n".join(leaks)
