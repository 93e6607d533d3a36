"""The real Rollbar clients against the local runner over HTTP, read back through the read API.

pyrollbar (PyPI `rollbar`, blocking handler), rollbar.js on Node and the rollbar.js browser build
under jsdom (npm `rollbar@3.1.0`, `jsdom`; run `npm install` first) each report to Lodge; each
report is then fetched with `GET /api/1/item/?uuid=` and `GET /api/1/instance/{id}` and must come
back with its frames, messages, levels and custom data intact.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.conftest import ROOT, RunnerHandle

pytestmark = pytest.mark.integration
JS = Path(__file__).resolve().parent / "js"
needs_node = pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "node_modules" / "rollbar").is_dir(),
    reason="needs Node.js and `npm install` (rollbar, jsdom)",
)


class Lodge:
    """One fresh project on the runner, with helpers for the read API."""

    def __init__(self, runner: RunnerHandle, name: str) -> None:
        self.url = runner.url
        self.project_id, self.credentials = runner.new_project(name)

    def read(self, path: str, **params: str) -> requests.Response:
        headers = {"X-Rollbar-Access-Token": self.credentials["rollbar_read"]}
        return requests.get(self.url + path, params=params, headers=headers, timeout=10)

    def item_and_instance(self, uuid: str) -> tuple[dict[str, Any], dict[str, Any]]:
        resp = self.read("/api/1/item/", uuid=uuid)
        assert resp.status_code == 200, resp.text
        assert resp.json()["err"] == 0
        item: dict[str, Any] = resp.json()["result"]
        assert item["project_id"] == self.project_id
        inst = self.read(f"/api/1/instance/{item['last_occurrence_id']}")
        assert inst.status_code == 200, inst.text
        instance: dict[str, Any] = inst.json()["result"]
        assert instance["item_id"] == item["id"]
        assert instance["data"]["uuid"] == uuid
        return item, instance


@pytest.fixture(scope="module")
def lodge(runner: RunnerHandle) -> Lodge:
    return Lodge(runner, "rollbar clients")


@pytest.fixture(scope="module")
def pyrollbar(lodge: Lodge) -> Any:
    import rollbar

    rollbar._initialized = False  # pyrollbar ignores a second init(); this module configures its own
    rollbar.init(
        lodge.credentials["rollbar_post_server_item"],
        environment="staging",
        endpoint=lodge.url + "/api/1/",
        handler="blocking",
        code_version="1.2.3",
        timeout=10,
    )
    yield rollbar
    rollbar._initialized = False


def _chained() -> None:
    def inner() -> None:
        {}["missing"]

    try:
        inner()
    except KeyError as error:
        raise ValueError("wrapped") from error


def test_pyrollbar_chained_exception(lodge: Lodge, pyrollbar: Any) -> None:
    try:
        _chained()
    except ValueError:
        uuid = pyrollbar.report_exc_info(extra_data={"order": 17}, payload_data={"context": "checkout#pay"})
    assert uuid
    item, instance = lodge.item_and_instance(uuid)
    assert item["level"] == "error" and item["environment"] == "staging"
    assert item["title"] == "ValueError: wrapped"
    data = instance["data"]
    chain = data["body"]["trace_chain"]
    assert [t["exception"]["class"] for t in chain] == ["ValueError", "KeyError"]
    assert chain[0]["exception"]["message"] == "wrapped"
    assert chain[1]["frames"][-1]["method"] == "inner"
    assert chain[1]["frames"][-1]["filename"] == __file__
    assert chain[0]["frames"][-1]["method"] == "_chained"
    assert data["custom"] == {"order": 17}
    assert data["context"] == "checkout#pay"
    assert data["notifier"]["name"] == "pyrollbar"
    assert data["code_version"] == "1.2.3"
    assert "access_token" not in data


def test_pyrollbar_message_with_extra_keys(lodge: Lodge, pyrollbar: Any) -> None:
    uuid = pyrollbar.report_message("Hello from pyrollbar", "warning", extra_data={"route": "home#index", "n": 1.5})
    item, instance = lodge.item_and_instance(uuid)
    assert item["level"] == "warning" and item["title"] == "Hello from pyrollbar"
    message = instance["data"]["body"]["message"]
    assert message == {"body": "Hello from pyrollbar", "route": "home#index", "n": 1.5}
    assert instance["data"]["custom"] == {"route": "home#index", "n": 1.5}
    assert instance["data"]["level"] == "warning"


def _node(script: str, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        ["node", str(JS / script), *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@needs_node
def test_rollbar_js_node(lodge: Lodge) -> None:
    sent = _node("node_client.cjs", lodge.url + "/api/1/item/", lodge.credentials["rollbar_post_server_item"])
    assert all("error" not in r for r in sent["responses"]), sent
    item, instance = lodge.item_and_instance(sent["error"])
    assert item["level"] == "error" and item["framework"] == "node-js"
    chain = instance["data"]["body"]["trace_chain"]
    assert [(t["exception"]["class"], t["exception"]["message"]) for t in chain] == [
        ("Error", "wrapper"),
        ("TypeError", "root cause"),
    ]
    assert chain[1]["frames"][-1]["method"] == "inner"
    assert chain[1]["frames"][-1]["filename"].endswith("node_client.cjs")
    assert isinstance(chain[1]["frames"][-1]["lineno"], int)
    assert instance["data"]["custom"] == {"custom_key": "v"}
    assert instance["data"]["custom_key"] == "v"  # Node copies custom keys to the top level; kept

    item, instance = lodge.item_and_instance(sent["message"])
    assert item["level"] == "info" and item["title"] == "Hello from node"
    data = instance["data"]
    assert data["body"]["message"]["body"] == "Hello from node"
    assert data["level"] == "info"
    assert data["server"]["host"] == "node-1"


@needs_node
def test_rollbar_js_browser_build_under_jsdom(lodge: Lodge) -> None:
    sent = _node("browser_client.cjs", lodge.url + "/api/1/item/", lodge.credentials["rollbar_post_client_item"])
    assert sent.get("error") is None, sent
    item, instance = lodge.item_and_instance(sent["uuid"])
    assert item["platform"] == "browser" and item["framework"] == "browser-js"
    assert item["level"] == "error" and item["title"] == "TypeError: browser boom"
    data = instance["data"]
    trace = data["body"]["trace"]
    assert trace["exception"] == {"class": "TypeError", "message": "browser boom", "description": "Something failed"}
    assert [f["method"] for f in trace["frames"][-2:]] == ["outer", "inner"]
    assert data["custom"] == {"page_custom": "yes"}
    assert data["request"]["user_ip"] == "127.0.0.1"  # "$remote_ip" replaced by the caller's address
    assert data["request"]["url"] == "http://localhost:8000/app/page?x=1"
    assert any(t.get("body", {}).get("message") == "telemetry test" for t in data["body"]["telemetry"])
    assert data["client"]["javascript"]["code_version"] == "abc123"
    assert isinstance(data["timestamp"], int)


@needs_node
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium (make install-browser)")
def test_rollbar_js_browser_build_in_chromium_reports_with_no_console_error(lodge: Lodge) -> None:
    """The real browser build, cross-origin in headless Chromium: both reports stored and read back,
    and the page's console stays clean (rollbar.js reads Rollbar-Replay-* and X-Rate-Limit-* on every
    answer; Chrome logs "Refused to get unsafe header" for each one Lodge does not expose)."""
    done = subprocess.run(
        [
            "node",
            str(JS / "rollbar_browser.mjs"),
            lodge.url + "/api/1/item/",
            lodge.credentials["rollbar_post_client_item"],
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr
    sent = json.loads(done.stdout)
    assert sent["origin"] != lodge.url and sent["failed"] == [] and sent["items"] == [200, 200], sent
    assert sent["console"] == [], sent["console"]
    titles = set()
    for uuid in sent["uuids"]:
        item, instance = lodge.item_and_instance(uuid)
        assert item["platform"] == "browser" and item["environment"] == "staging"
        assert instance["data"]["client"]["javascript"]["code_version"] == "web-7"
        titles.add(item["title"])
    assert titles == {
        "SyntaxError: Expected property name or '}' in JSON at position 1 (line 1 column 2)",
        "basket is empty",
    }


def test_client_token_cannot_post_server_items(lodge: Lodge) -> None:
    payload = {"data": {"environment": "e", "body": {"message": {"body": "x"}}}}
    resp = requests.post(
        lodge.url + "/api/1/item/",
        json=payload,
        headers={"X-Rollbar-Access-Token": lodge.credentials["rollbar_post_client_item"], "Origin": "http://x.test"},
        timeout=10,
    )
    assert resp.status_code == 403
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.json() == {
        "err": 1,
        "message": "insufficient privileges: post_server_item scope is required but the access token only has "
        "post_client_item.",
    }


def test_cors_preflight_and_form_encoded_item(lodge: Lodge) -> None:
    preflight = requests.options(
        lodge.url + "/api/1/item/",
        headers={
            "Origin": "http://localhost:8000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-Rollbar-Access-Token,Content-Type",
        },
        timeout=10,
    )
    assert preflight.status_code in (200, 204)
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    payload = {
        "access_token": lodge.credentials["rollbar_post_server_item"],
        "data": {"environment": "e", "uuid": "form-1", "body": {"message": {"body": "from a form"}}},
    }
    resp = requests.post(lodge.url + "/api/1/item", data={"payload": json.dumps(payload)}, timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"err": 0, "result": {"id": None, "uuid": "form-1"}}
    _, instance = lodge.item_and_instance("form-1")
    assert instance["data"]["body"]["message"] == {"body": "from a form"}


def test_another_project_cannot_read(runner: RunnerHandle, lodge: Lodge) -> None:
    payload = {"data": {"environment": "e", "uuid": "mine-1", "body": {"message": {"body": "private"}}}}
    headers = {"X-Rollbar-Access-Token": lodge.credentials["rollbar_post_server_item"]}
    assert requests.post(lodge.url + "/api/1/item/", json=payload, headers=headers, timeout=10).status_code == 200
    item, _ = lodge.item_and_instance("mine-1")
    other = Lodge(runner, "someone else")
    assert other.read("/api/1/item/", uuid="mine-1").status_code == 404
    assert other.read(f"/api/1/item/{item['id']}").status_code == 404
    assert other.read(f"/api/1/instance/{item['last_occurrence_id']}").status_code == 404


def test_deploy_report_and_update(lodge: Lodge) -> None:
    token = lodge.credentials["rollbar_post_server_item"]
    resp = requests.post(
        lodge.url + "/api/1/deploy/",
        files={
            k: (None, v)
            for k, v in {
                "access_token": token,
                "environment": "production",
                "revision": "aaaafff",
                "rollbar_username": "brianr",
                "status": "started",
            }.items()
        },
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    deploy_id = resp.json()["data"]["deploy_id"]
    patch = requests.patch(
        f"{lodge.url}/api/1/deploy/{deploy_id}",
        params={"access_token": token},
        json={"status": "succeeded"},
        timeout=10,
    )
    assert patch.status_code == 200, patch.text
    assert patch.json()["result"]["id"] == deploy_id
    assert patch.json()["result"]["status"] == "succeeded"
