"""The real Sentry SDKs against the local runner over HTTP, read back through the read APIs.

sentry-sdk (Python, in this process), @sentry/node (a Node script) and @sentry/browser (headless
Chromium, the page served from a second loopback origin so the request is cross-origin) each report
to the DSN Lodge gives the project. Every error is read back with `GET /api/1/instance/{id}` (the
id is derived from the event id), its item and the AppSignal samples listing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from lodge.ids import occurrence_id_for
from lodge.protocols.sentry import outcomes
from lodge.protocols.sentry.auth import dsn
from tests.integration.conftest import ROOT, RunnerHandle

pytestmark = pytest.mark.integration
SENT: list[tuple[list[str], int]] = []
JS = Path(__file__).resolve().parent / "js"
needs_node = pytest.mark.skipif(
    shutil.which("node") is None or not (ROOT / "node_modules" / "@sentry" / "node").is_dir(),
    reason="needs Node.js and `npm install` (@sentry/node, @sentry/browser, playwright-core)",
)


class Lodge:
    """One fresh project on the runner, with its DSN and helpers for the read APIs."""

    def __init__(self, runner: RunnerHandle, name: str) -> None:
        self.runner = runner
        self.url = runner.url
        self.project_id, self.credentials = runner.new_project(name)
        self.dsn = dsn(self.url, self.credentials["sentry_dsn"], self.project_id)

    def read(self, path: str, **params: str) -> requests.Response:
        headers = {"X-Rollbar-Access-Token": self.credentials["rollbar_read"]}
        return requests.get(self.url + path, params=params, headers=headers, timeout=10)

    def event(self, event_id: str, wait: float = 10.0) -> tuple[dict[str, Any], dict[str, Any]]:
        """(item, instance data) of a stored Sentry event; waits for SDKs that send in the background."""
        instance_id = occurrence_id_for("sentry", event_id.replace("-", ""))
        deadline = time.monotonic() + wait
        while True:
            resp = self.read(f"/api/1/instance/{instance_id}")
            if resp.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert resp.status_code == 200, resp.text
        instance = resp.json()["result"]
        assert instance["data"]["uuid"] == event_id.replace("-", "")
        item = self.read(f"/api/1/item/{instance['item_id']}")
        assert item.status_code == 200, item.text
        return item.json()["result"], instance["data"]

    def sample(self, event_id: str) -> dict[str, Any]:
        """The event as an AppSignal sample (where tags are shown)."""
        ref = occurrence_id_for("sentry", event_id.replace("-", ""))
        resp = requests.get(
            f"{self.url}/api/{self.project_id}/samples/{ref}.json",
            params={"token": self.credentials["personal"]},
            timeout=10,
        )
        assert resp.status_code == 200, resp.text
        sample: dict[str, Any] = resp.json()
        return sample


@pytest.fixture(scope="module")
def lodge(runner: RunnerHandle) -> Lodge:
    return Lodge(runner, "sentry clients")


# ---- Python: sentry-sdk -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sentry(lodge: Lodge) -> Iterator[Any]:
    import sentry_sdk

    sentry_sdk.init(
        dsn=lodge.dsn,
        release="shop@1.2.3",
        environment="staging",
        server_name="web-1",
        traces_sample_rate=1.0,
        include_local_variables=True,
        default_integrations=False,  # no hooks into this pytest process (excepthook, logging, threads)
        auto_enabling_integrations=False,
        auto_session_tracking=False,
    )
    # Record what Lodge answered each envelope the SDK sent: (item types, HTTP status).
    transport = sentry_sdk.get_client().transport
    answered = transport._handle_response

    def spy(response: Any, envelope: Any) -> None:
        SENT.append(([i.type for i in envelope.items] if envelope else [], response.status))
        answered(response=response, envelope=envelope)

    transport._handle_response = spy
    yield sentry_sdk
    sentry_sdk.get_client().close(timeout=5)


def _checkout(order_id: int) -> None:
    basket = {"sku": "A-1", "quantity": 2}
    try:
        basket["price"]
    except KeyError as error:
        raise ValueError(f"order {order_id} has no price") from error


def test_python_chained_exception_with_locals_and_breadcrumbs(lodge: Lodge, sentry: Any) -> None:
    sentry.set_user({"id": "u-42", "email": "ada@example.com", "username": "ada"})
    sentry.set_tag("shard", "eu-1")
    sentry.set_extra("cart", {"items": 2})
    sentry.add_breadcrumb(category="auth", message="signed in", level="info")
    sentry.add_breadcrumb(category="http", type="http", data={"url": "/cart", "status_code": 200})
    try:
        _checkout(17)
    except ValueError as error:
        event_id = sentry.capture_exception(error)
    sentry.flush(timeout=10)
    item, data = lodge.event(event_id)
    assert item["title"] == "ValueError: order 17 has no price"
    assert item["environment"] == "staging" and item["level"] == "error"
    assert item["protocol"] == "sentry"
    chain = data["body"]["trace_chain"]
    assert [(t["exception"]["class"], t["exception"]["message"]) for t in chain] == [
        ("ValueError", "order 17 has no price"),
        ("KeyError", "'price'"),
    ]
    frame = chain[1]["frames"][-1]
    assert frame["method"] == "_checkout" and frame["filename"].endswith("test_sentry_clients.py")
    assert frame["code"].strip() == 'basket["price"]'
    assert frame["context"]["pre"][-1].strip() == "try:"
    assert frame["locals"]["order_id"] == "17" and "basket" in frame["locals"]
    assert frame["in_app"] is True and frame["abs_path"] == __file__
    assert chain[0]["exception"]["mechanism"]["type"]
    assert data["person"] == {"id": "u-42", "email": "ada@example.com", "username": "ada"}
    assert data["code_version"] == "shop@1.2.3" and data["server"]["host"] == "web-1"
    assert data["custom"] == {"cart": {"items": 2}}
    assert data["notifier"]["name"] == "sentry.python"
    crumbs = data["breadcrumbs"]["values"]
    assert [c.get("message") or c.get("category") for c in crumbs[-2:]] == ["signed in", "http"]
    sample = lodge.sample(event_id)
    assert sample["tags"] == {"shard": "eu-1"} and sample["revision"] == "shop@1.2.3"
    assert sample["exception"]["name"] == "ValueError" and sample["hostname"] == "web-1"


def test_python_capture_message(lodge: Lodge, sentry: Any) -> None:
    first = sentry.capture_message("payment provider timed out", level="warning")
    sentry.flush(timeout=10)
    item, data = lodge.event(first)
    assert item["level"] == "warning" and item["title"] == "payment provider timed out"
    assert data["body"]["message"]["body"] == "payment provider timed out"
    assert data["code_version"] == "shop@1.2.3"


def test_python_transaction_and_session_accepted_not_stored(lodge: Lodge, sentry: Any) -> None:
    before = lodge.read("/api/1/items/").json()["result"]["total_count"]
    with sentry.start_transaction(name="checkout", op="task"), sentry.start_span(op="db", name="select"):
        pass
    scope = sentry.get_isolation_scope()
    scope.start_session(session_mode="application")
    scope.end_session()
    sentry.flush(timeout=10)
    assert (["transaction"], 200) in SENT
    assert any(types == ["session"] and status == 200 for types, status in SENT), SENT
    assert lodge.read("/api/1/items/").json()["result"]["total_count"] == before


def test_python_client_report_discards_are_recorded(lodge: Lodge, sentry: Any) -> None:
    transport = sentry.get_client().transport
    transport.record_lost_event("before_send", data_category="error", quantity=3)
    transport.record_lost_event("queue_overflow", data_category="transaction")
    transport._flush_client_reports(force=True)  # what the SDK does every 60 s or at shutdown
    sentry.flush(timeout=10)
    assert (["client_report"], 200) in SENT
    days = outcomes.read(lodge.runner.target.store(), lodge.project_id)
    assert list(days.values()) == [{"before_send:error": 3, "queue_overflow:transaction": 1}]


# ---- Node: @sentry/node -------------------------------------------------------------------------


@needs_node
def test_node_handled_and_uncaught_errors(lodge: Lodge) -> None:
    done = subprocess.run(
        ["node", str(JS / "sentry_node.cjs"), lodge.dsn], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, done.stderr  # the SDK exits the process after an uncaught exception
    sent = {line["kind"]: line["id"] for line in map(json.loads, done.stdout.splitlines())}
    assert set(sent) == {"handled", "uncaught"}, done.stdout

    item, data = lodge.event(sent["handled"])
    assert item["title"] == "RangeError: amount 250 over limit"
    assert item["environment"] == "staging"
    frame = data["body"]["trace"]["frames"][-1]
    assert frame["method"] == "chargeCard" and frame["filename"].endswith("sentry_node.cjs")
    assert frame["code"].strip() == "throw new RangeError(`amount ${amount} over limit`);"
    assert frame["context"]["pre"][-1].strip() == "if (amount > limit) {"
    assert isinstance(frame["lineno"], int) and isinstance(frame["colno"], int) and frame["in_app"] is True
    assert data["person"]["id"] == "u-7" and data["person"]["email"] == "grace@example.com"
    assert data["code_version"] == "shop-node@2.0.0" and data["server"]["host"] == "node-1"
    assert data["notifier"]["name"] == "sentry.javascript.node"
    assert data["body"]["trace"]["exception"]["mechanism"] == {"type": "generic", "handled": True}
    assert lodge.sample(sent["handled"])["tags"] == {"region": "eu-west"}

    item, data = lodge.event(sent["uncaught"])
    assert item["title"] == "TypeError: uncaught boom" and item["level"] in ("critical", "error")
    trace = data["body"]["trace"]
    assert trace["exception"]["mechanism"]["handled"] is False
    assert trace["frames"][-1]["method"] == "Timeout.failLater [as _onTimeout]"  # as V8 names it
    assert trace["frames"][-1]["code"].strip() == "throw new TypeError('uncaught boom');"
    assert data["person"]["id"] == "u-7" and data["code_version"] == "shop-node@2.0.0"
    assert lodge.sample(sent["uncaught"])["tags"] == {"region": "eu-west"}


# ---- Browser: @sentry/browser in headless Chromium ------------------------------------------------


@needs_node
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium (make install-browser)")
def test_browser_uncaught_error_from_another_origin(lodge: Lodge) -> None:
    done = subprocess.run(
        ["node", str(JS / "sentry_browser.mjs"), lodge.dsn], cwd=ROOT, capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stderr
    sent = json.loads(done.stdout)
    assert sent["origin"] != lodge.url  # cross-origin: CORS is enforced on every envelope
    assert sent["failed"] == [] and sent["envelopes"] and set(sent["envelopes"]) == {200}, sent
    assert [m["type"] for m in sent["console"]] == ["pageerror"], sent["console"]  # no CORS error, only the test's

    item, data = lodge.event(sent["id"])
    assert item["title"] == "TypeError: Cannot read properties of undefined (reading 'toFixed')"
    assert item["environment"] == "staging" and data["platform"] == "javascript"
    trace = data["body"]["trace"]
    assert trace["exception"]["mechanism"]["handled"] is False
    assert [(f.get("method"), f.get("lineno"), f.get("code", "").strip()) for f in trace["frames"]] == [
        ("onCheckout", 21, "renderBasket([{ price: 1 }, {}]);"),
        ("renderBasket", 18, "return items.map((item) => item.price.toFixed(2));"),
        ("Array.map", None, ""),  # native code: no file, no line
        ("?", 18, "return items.map((item) => item.price.toFixed(2));"),  # the anonymous arrow function
    ]
    frame = trace["frames"][-1]
    assert frame["filename"] == sent["origin"] + "/" and isinstance(frame["colno"], int) and frame["in_app"] is True
    assert frame["context"]["pre"][-1].strip() == "function renderBasket(items) {"
    assert data["person"]["id"] == "u-9" and data["person"]["username"] == "linus"
    assert data["code_version"] == "shop-web@3.1.0"
    assert data["request"]["url"] == sent["origin"] + "/"
    assert data["notifier"]["name"] == "sentry.javascript.browser"
    assert lodge.sample(sent["id"])["tags"] == {"page": "checkout"}
    # The browser SDK puts its key in the query string; the runner's request log (like API Gateway's
    # access log, which records $context.path) must not repeat it.
    assert lodge.credentials["sentry_dsn"] not in lodge.runner.log()


def test_cors_preflight_for_sdks_that_send_x_sentry_auth(lodge: Lodge) -> None:
    number = lodge.dsn.rsplit("/", 1)[1]
    url = f"{lodge.url}/api/{number}/envelope/"
    preflight = requests.options(
        url,
        headers={
            "Origin": "http://shop.localhost:8080",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-sentry-auth",
        },
        timeout=10,
    )
    assert preflight.status_code in (200, 204)
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "x-sentry-auth" in preflight.headers["Access-Control-Allow-Headers"].lower()
    refused = requests.post(url, data=b"{}\n", headers={"Origin": "http://shop.localhost:8080"}, timeout=10)
    assert refused.status_code == 401 and refused.json() == {"detail": "missing authorization information"}
    assert refused.headers["Access-Control-Allow-Origin"] == "*"  # the browser SDK can read the status
    assert "x-sentry-rate-limits" in refused.headers["Access-Control-Expose-Headers"].lower()
