"""Triage with real clients over HTTP (docs/triage.md): pyrollbar, CrashLog (the test's own signer)
and the AppSignal push API report; PATCH /api/1/item/{id} resolves and mutes as Rollbar's API
clients send it (JSON, write token in X-Rollbar-Access-Token); the read APIs show the status."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import requests

from tests.fixtures.crashlog.signer import fixture, signed_headers
from tests.integration.conftest import RunnerHandle
from tests.integration.test_appsignal_http import text

pytestmark = pytest.mark.integration


class Triage:
    def __init__(self, runner: RunnerHandle, name: str) -> None:
        self.url = runner.url
        self.project_id, self.credentials = runner.new_project(name)

    def patch(self, item_id: str, body: dict[str, Any], token: str | None = None) -> requests.Response:
        headers = {
            "X-Rollbar-Access-Token": token or self.credentials["rollbar_write"],
            "Content-Type": "application/json",
        }
        return requests.patch(f"{self.url}/api/1/item/{item_id}", data=json.dumps(body), headers=headers, timeout=10)

    def resolve(self, item_id: str, **fields: Any) -> None:
        response = self.patch(item_id, {"status": "resolved", **fields})
        assert response.status_code == 200, response.text
        assert response.json()["result"]["status"] == "resolved"

    def mute(self, item_id: str, more: int) -> None:
        response = self.patch(item_id, {"status": "muted", "mute_occurrences": more})
        assert response.status_code == 200, response.text

    def item(self, item_id: str) -> dict[str, Any]:
        headers = {"X-Rollbar-Access-Token": self.credentials["rollbar_read"]}
        response = requests.get(f"{self.url}/api/1/item/{item_id}", headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()["result"]
        return result

    def appsignal_issue(self) -> dict[str, Any]:
        """The issue of the newest error sample, as AppSignal's samples/errors.json shows it."""
        response = requests.get(
            f"{self.url}/api/{self.project_id}/samples/errors.json",
            params={"token": self.credentials["personal"]},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        newest = response.json()["log_entries"][0]
        detail = requests.get(
            f"{self.url}/api/{self.project_id}/samples/{newest['id']}.json",
            params={"token": self.credentials["personal"]},
            timeout=10,
        ).json()
        assert detail["lodge"]["issue"] == newest["issue"]
        issue: dict[str, Any] = newest["issue"]
        return issue


def test_pyrollbar_resolve_regress_version_mute(runner: RunnerHandle) -> None:
    import rollbar

    lodge = Triage(runner, "pyrollbar triage")
    rollbar._initialized = False
    rollbar.init(
        lodge.credentials["rollbar_post_server_item"],
        environment="production",
        endpoint=lodge.url + "/api/1/",
        handler="blocking",
        code_version="1.0.0",
        timeout=10,
    )

    def report(version: str) -> dict[str, Any]:
        rollbar.SETTINGS["code_version"] = version
        try:
            raise LookupError("no such order")
        except LookupError:
            occurrence_uuid = rollbar.report_exc_info()
        headers = {"X-Rollbar-Access-Token": lodge.credentials["rollbar_read"]}
        response = requests.get(
            f"{lodge.url}/api/1/item/", params={"uuid": occurrence_uuid}, headers=headers, timeout=10
        )
        assert response.status_code == 200, response.text
        item: dict[str, Any] = response.json()["result"]
        return item

    try:
        item_id = report("1.0.0")["id"]
        assert lodge.patch(item_id, {"status": "resolved"}, lodge.credentials["rollbar_read"]).status_code == 403
        lodge.resolve(item_id)
        again = report("1.0.0")
        assert again["status"] == "active" and again["regressed"] is True
        assert again["regression"]["code_version"] == "1.0.0"
        assert again["activating_occurrence_id"] == again["last_occurrence_id"]

        lodge.resolve(item_id, resolved_in_version="2.0.0")
        old = report("1.9.0")
        assert old["status"] == "resolved" and old["resolved_in_version"] == "2.0.0"
        new = report("2.0.1")
        assert new["status"] == "active" and new["regressed"] and new["regression"]["code_version"] == "2.0.1"

        lodge.mute(item_id, 3)
        assert [report("2.0.1")["status"] for _ in range(3)] == ["muted"] * 3
        fourth = report("2.0.1")
        assert fourth["status"] == "active" and fourth["total_occurrences"] == 8
        assert [h["status"] for h in fourth["status_history"]][-2:] == ["muted", "active"]
    finally:
        rollbar._initialized = False


def test_crashlog_resolve_regress_mute(runner: RunnerHandle) -> None:
    lodge = Triage(runner, "crashlog triage")

    def report() -> dict[str, Any]:
        body = fixture("ruby_1.0.7.json")
        headers = signed_headers(
            lodge.credentials["crashlog"], lodge.credentials["crashlog_secret"], "POST", "/events", body=body
        )
        response = requests.post(lodge.url + "/events", data=body, headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        return lodge.appsignal_issue()

    issue = report()
    assert issue["status"] == "active" and not issue["regressed"]
    lodge.resolve(issue["id"])
    assert lodge.appsignal_issue()["status"] == "resolved"
    assert report() == {"id": issue["id"], "status": "active", "regressed": True}
    lodge.mute(issue["id"], 3)
    assert [report()["status"] for _ in range(3)] == ["muted"] * 3
    assert report()["status"] == "active"
    assert lodge.item(issue["id"])["total_occurrences"] == 6


def _fresh_ids(entries: Any) -> Any:
    for entry in entries:
        entry["request_id"] = str(uuid.uuid4())
    return entries


def test_appsignal_resolve_regress_mute(runner: RunnerHandle) -> None:
    lodge = Triage(runner, "appsignal triage")
    failed_only = [e for e in json.loads(text("gem_0_5_batch.json")) if e.get("exception")]

    def report() -> dict[str, Any]:
        response = requests.post(
            f"{lodge.url}/api/1/log_entries?api_key={lodge.credentials['appsignal_push']}&gem_version=0.5.5",
            data=json.dumps(_fresh_ids(failed_only)).encode(),
            headers={"Content-Type": "application/json; charset=UTF-8"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return lodge.appsignal_issue()

    issue = report()
    assert issue["status"] == "active"
    lodge.resolve(issue["id"])
    assert report() == {"id": issue["id"], "status": "active", "regressed": True}
    lodge.mute(issue["id"], 3)
    assert [report()["status"] for _ in range(3)] == ["muted"] * 3
    assert report()["status"] == "active"
