"""The console in Debian's headless Chromium against the local runner (js/console_driver.mjs).

Real clients report first - pyrollbar, rollbar.js on Node, a CrashLog-signed request (the test's own
signer) and an AppSignal gem batch - then the browser signs in, filters, searches, opens an issue,
triages it, the client reports again, and the browser signs out. A second project receives XSS
payloads in every client-controlled field; the browser must run none of them and the page's CSP
must report no violation. Screenshots land in tests/integration/artifacts/ (git-ignored).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from lodge import auth
from lodge.models.issues import Issue
from tests.fixtures.crashlog.signer import fixture as crashlog_fixture
from tests.fixtures.crashlog.signer import signed_headers
from tests.integration.conftest import ROOT, RunnerHandle

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("node") is None
        or not (ROOT / "node_modules" / "playwright-core").is_dir()
        or not Path("/usr/bin/chromium").exists(),
        reason="needs Node.js, npm playwright-core and Debian's chromium",
    ),
]
JS = Path(__file__).resolve().parent / "js"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
APPSIGNAL = ROOT / "tests" / "fixtures" / "appsignal"


def drive(phase: str, workdir: Path, **options: Any) -> dict[str, Any]:
    ARTIFACTS.mkdir(exist_ok=True)
    path = workdir / f"{phase}.json"
    path.write_text(json.dumps({"artifacts": str(ARTIFACTS), **options}))
    done = subprocess.run(
        ["node", str(JS / "console_driver.mjs"), phase, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    assert "error" not in result, result["error"]
    return result


def assert_clean(result: dict[str, Any]) -> None:
    """No CSP violation, no executed payload, no javascript: link or inline handler, no JS error."""
    assert result["pages"], "nothing observed"
    for seen in result["pages"]:
        assert seen["csp"] == [], (seen["label"], seen["csp"])
        assert seen["xss"] is None, (seen["label"], seen["xss"])
        assert seen["jsLinks"] == 0 and seen["inlineHandlers"] == 0, seen
    assert result["dialogs"] == []
    assert [m for m in result["messages"] if m["type"] in ("error", "pageerror")] == []


class Clients:
    """One fresh project on the runner and the real clients reporting to it."""

    def __init__(self, runner: RunnerHandle, name: str) -> None:
        self.runner = runner
        self.url = runner.url
        self.project_id, self.credentials = runner.new_project(name)

    def groups(self) -> list[Issue]:
        return self.runner.target.store().issues(self.project_id)

    def group(self, title: str) -> Issue:
        (found,) = [g for g in self.groups() if g.title == title]
        return found

    def pyrollbar(self) -> Any:
        import rollbar

        rollbar._initialized = False  # pyrollbar ignores a second init(); this module configures its own
        rollbar.init(
            self.credentials["rollbar_post_server_item"],
            environment="staging",
            endpoint=self.url + "/api/1/",
            handler="blocking",
            code_version="1.2.3",
            timeout=10,
        )
        return rollbar

    def report_pyrollbar(self) -> str:
        rollbar = self.pyrollbar()
        try:
            _checkout()
        except ValueError:
            uuid: str = rollbar.report_exc_info(extra_data={"order_id": "ord-8841", "cart_total": 99.5})
        rollbar._initialized = False
        return uuid

    def report_rollbar_js(self) -> None:
        done = subprocess.run(
            [
                "node",
                str(JS / "node_client.cjs"),
                self.url + "/api/1/item/",
                self.credentials["rollbar_post_server_item"],
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert all("error" not in r for r in json.loads(done.stdout)["responses"])

    def report_crashlog(self) -> None:
        body = crashlog_fixture("ruby_1.0.7.json")
        headers = signed_headers(
            self.credentials["crashlog"], self.credentials["crashlog_secret"], "POST", "/events", body=body
        )
        response = requests.post(self.url + "/events", data=body, headers=headers, timeout=10)
        assert response.status_code == 200, response.text

    def report_appsignal(self) -> None:
        key = self.credentials["appsignal_push"]
        response = requests.post(
            f"{self.url}/api/1/log_entries?api_key={key}&gem_version=0.5.5",
            data=(APPSIGNAL / "gem_0_5_batch.json").read_bytes(),
            headers={"Content-Type": "application/json; charset=UTF-8"},
            timeout=10,
        )
        assert response.status_code == 200, response.text

    def deploy(self, revision: str, environment: str = "staging") -> None:
        response = requests.post(
            self.url + "/api/1/deploy",
            json={
                "access_token": self.credentials["rollbar_post_server_item"],
                "environment": environment,
                "revision": revision,
            },
            timeout=10,
        )
        assert response.status_code == 200, response.text

    def item(self, data: dict[str, Any]) -> None:
        response = requests.post(
            self.url + "/api/1/item/",
            json={"access_token": self.credentials["rollbar_post_server_item"], "data": data},
            timeout=10,
        )
        assert response.status_code == 200, response.text


def _checkout() -> None:
    def charge_card() -> None:
        cards: dict[str, str] = {}
        cards["card"]  # KeyError: the cause

    try:
        charge_card()
    except KeyError as error:
        raise ValueError("payment declined") from error


def test_console_end_to_end(runner: RunnerHandle, tmp_path: Path) -> None:
    clients = Clients(runner, "console e2e")
    first_uuid = clients.report_pyrollbar()
    clients.report_rollbar_js()
    clients.report_crashlog()
    clients.report_appsignal()
    clients.deploy("c0ffee1")
    groups = [g for g in clients.groups() if g.kind != "performance"]
    protocols = {g.protocol for g in groups}
    assert {"rollbar", "crashlog", "appsignal"} <= protocols, protocols
    mine = clients.group("ValueError: payment declined")
    token = clients.credentials["personal"]
    state = tmp_path / "state.json"

    first = drive(
        "first",
        tmp_path,
        url=clients.url,
        token=token,
        issue=mine.id,
        search="payment",
        level="info",
        saveState=str(state),
    )
    assert_clean(first)
    assert first["unsignedUrl"].startswith(clients.url + "/console/signin?next=")
    assert first["signedInUrl"] == clients.url + "/console/issues"
    assert first["html"] is False and first["settingsHasToken"] is False
    titles = {r["title"] for r in first["rows"]}
    assert {g.title for g in groups if g.status == "active"} == titles
    assert {"ValueError: payment declined", "Error: wrapper", "Hello from node"} <= titles  # pyrollbar, rollbar.js
    assert any(g.protocol == "crashlog" and g.title in titles for g in groups)
    assert any(g.protocol == "appsignal" and g.title in titles for g in groups)
    assert all(r["spark"] for r in first["rows"])
    by_title = {r["title"]: r for r in first["rows"]}
    assert by_title["ValueError: payment declined"]["badges"] == ["new"]  # the fixtures' clocks are years old
    assert "Hello from node" in {r["title"] for r in first["levelRows"]}
    assert all(r["level"] == "info" for r in first["levelRows"])
    assert [r["title"] for r in first["searchRows"]] == ["ValueError: payment declined"]

    issue = first["issue"]
    assert issue["title"] == "ValueError: payment declined" and issue["status"] == "active"
    assert issue["exceptions"][0].startswith("ValueError: payment declined")
    assert "KeyError" in issue["exceptions"][1]
    assert {"charge_card", "_checkout"} <= set(issue["methods"])
    assert issue["appFrames"] >= 2 and issue["appFramesOpen"] == issue["appFrames"]
    assert issue["libFramesOpen"] == 0
    assert "ord-8841" in issue["custom"] and "cart_total" in issue["custom"]
    assert issue["trend"] and issue["occurrences"] == 1
    assert first["muted"] == "muted"
    assert [r["title"] for r in first["mutedRows"]] == ["ValueError: payment declined"]
    assert first["resolved"]["status"] == "resolved"
    assert [r["title"] for r in first["resolvedRows"]] == ["ValueError: payment declined"]
    assert any("c0ffee1" in d and "rollbar" in d for d in first["deploys"])
    assert first["credentials"] == len(auth.KINDS)
    assert (ARTIFACTS / "console-issues.png").stat().st_size > 10_000
    assert (ARTIFACTS / "console-issue.png").stat().st_size > 10_000

    time.sleep(0.01)
    clients.report_pyrollbar()  # the same error again, after it was resolved
    again = drive(
        "again", tmp_path, url=clients.url, issue=mine.id, occurrence=mine.first_occurrence_id, state=str(state)
    )
    assert_clean(again)
    assert again["again"]["count"] == "2" and again["again"]["occurrences"] == 2
    # The triage model reopened it at ingest: active again, and badged "regressed".
    assert again["again"]["status"] == "active" and "regressed" in again["again"]["badges"]
    assert again["resolvedRows"] == []
    assert first_uuid in again["occurrence"]["raw"]
    assert "via rollbar from pyrollbar" in again["occurrence"]["meta"]
    assert again["signedOutUrl"].startswith(clients.url + "/console/signin")
    assert set(again["afterSignOut"].values()) == {"/console/signin"}, again["afterSignOut"]


SCRIPT = "<script>window.__xss='script'</script>"
IMG = '"><img src=x onerror="window.__xss=\'img\'">'
JS_URL = "javascript:window.__xss='href'"


def test_console_runs_no_client_supplied_markup(runner: RunnerHandle, tmp_path: Path) -> None:
    clients = Clients(runner, "console xss")
    payload = f"{SCRIPT} {IMG} {JS_URL}"
    clients.item(
        {
            "environment": f"prod{IMG}",
            "level": "error",
            "body": {
                "trace": {
                    "exception": {"class": f"Evil{IMG}", "message": payload},
                    "frames": [
                        {
                            "filename": f"{JS_URL}/{IMG}.py",
                            "lineno": 3,
                            "method": SCRIPT,
                            "code": payload,
                            "context": {"pre": [SCRIPT], "post": [IMG]},
                            "locals": {IMG: SCRIPT},
                        }
                    ],
                }
            },
            "request": {"url": JS_URL, "method": "GET", "headers": {"Referer": JS_URL, IMG: SCRIPT}},
            "person": {"id": "1", "username": SCRIPT, "email": IMG},
            "custom": {"link": JS_URL, "html": SCRIPT, IMG: [IMG, {"deep": SCRIPT}]},
            "context": IMG,
            "fingerprint": "xss-trace",
        }
    )
    clients.item({"environment": "production", "body": {"message": {"body": payload, "extra": IMG}}})
    clients.deploy(revision=SCRIPT, environment=IMG)
    ids = [g.id for g in clients.groups()]
    assert len(ids) == 2

    result = drive("xss", tmp_path, url=clients.url, token=clients.credentials["personal"], issues=ids)
    assert_clean(result)
    assert len(result["rows"]) == 2
    texts = json.dumps(result["issueTexts"])
    assert "<script>" in texts and "onerror" in texts  # shown as text, not run
    assert any(JS_URL in seen["request"] for seen in result["issueTexts"])
    assert result["probe"] == {"added": 1, "ran": None}, "the CSP listener must see a refused inline script"


def _alert_me(kind: str) -> None:
    raise LookupError(f"console alert {kind}")


def _after_removal() -> None:
    raise OSError("console alert after removal")  # another issue (its own class and frames)


def test_console_alert_rule_end_to_end(runner: RunnerHandle, tmp_path: Path) -> None:
    """Add a signed-webhook rule in Settings, copy the secret shown once, send a test; the real
    pyrollbar reports a new error and the loopback receiver gets exactly one alert that verifies
    with that secret; then remove the rule in Settings and the next new error alerts nobody."""
    from lodge.alerts import signing
    from tests.alert_receiver import receiver

    clients = Clients(runner, "console alerts")
    state = tmp_path / "alerts-state.json"
    name = f"ops {SCRIPT}{IMG}"
    with receiver() as hook:
        added = drive(
            "alerts-add",
            tmp_path,
            url=clients.url,
            token=clients.credentials["personal"],
            hookUrl=hook.url,
            name=name,
            saveState=str(state),
        )
        assert_clean(added)
        secret = added["secret"]
        assert secret.startswith("whsec_") and added["addedUrl"] == clients.url + "/console/settings/alerts#alerts"
        assert added["listedSecret"] is False and added["listedUrl"] is False
        (listed,) = added["rules"]
        assert listed["name"] == name and listed["signed"] and listed["triggers"] == "New issue"
        assert listed["where"] == hook.url.rsplit("/", 1)[0] + "/…"  # http://127.0.0.1:PORT/… (path too short)
        (rule,) = clients.runner.target.store().alert_rules(clients.project_id)
        assert rule.id == listed["id"] and rule.secret == secret and rule.kinds == {"new_issue"}
        assert added["test"]["ok"] == "yes" and "delivered" in added["test"]["text"], added["test"]
        (test_alert,) = hook.wait_for(1)
        assert signing.verify(secret, test_alert.body, test_alert.headers[signing.HEADER])
        assert "a test alert" in json.loads(test_alert.body)["issue"]["title"]
        hook.requests.clear()

        rollbar = clients.pyrollbar()
        try:
            _alert_me("new")
        except LookupError:
            assert rollbar.report_exc_info()
        (delivered,) = hook.wait_for(1)
        time.sleep(2)  # time for a wrong second alert to arrive
        assert len(hook.requests) == 1
        assert signing.verify(secret, delivered.body, delivered.headers[signing.HEADER])
        body = json.loads(delivered.body)
        assert body["kind"] == "new_issue" and body["project"]["id"] == clients.project_id
        assert body["issue"]["title"] == "LookupError: console alert new"
        assert body["occurrence"]["frames"][0].endswith("in _alert_me")
        tampered = delivered.body.replace(b"new_issue", b"regression")
        with pytest.raises(signing.SignatureError):
            signing.verify(secret, tampered, delivered.headers[signing.HEADER])

        removed = drive("alerts-remove", tmp_path, url=clients.url, state=str(state), acceptConfirms=True)
        assert_clean(removed)
        assert removed["confirmed"] == ["Really remove?"]  # one question (console.js), no second page
        assert removed["removedUrl"] == clients.url + "/console/settings?flash=alert-removed#alerts"
        assert removed["flash"] == "Alert rule removed." and removed["rules"] == [] and removed["empty"]
        assert clients.runner.target.store().alert_rules(clients.project_id) == []
        try:
            _after_removal()
        except OSError:
            assert rollbar.report_exc_info()
        rollbar._initialized = False
        time.sleep(2)
        assert len(hook.requests) == 1, "no alert once the rule is gone"
    assert len(clients.runner.target.store().issues(clients.project_id)) == 2, "the second one was a new issue too"
