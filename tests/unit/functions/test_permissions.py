"""Every DynamoDB call the handlers make, checked against their function's statements in template.yaml.

Neither moto nor the local runner enforces IAM, so this records each call the real handlers make on
sample requests of every function (each with the environment the template gives it, READS_SECRETS
included) and evaluates it with `lodge_devtools.iam` against that function's `dynamodb:LeadingKeys`,
`dynamodb:Attributes` and `dynamodb:ReturnValues` conditions. A call a grant does not admit would be
AccessDenied (a 503) in AWS; here it fails the test. Issue 15, point 9; docs/deploy.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lodge import auth, aws, config, flood
from lodge.protocols.sentry.auth import dsn_project_number
from lodge.storage import Store
from lodge_devtools import iam
from lodge_devtools.apigw import build_event
from lodge_devtools.demo import DEMO_CREDENTIALS, DEMO_PROJECT_ID, DEMO_PROJECT_NAME
from lodge_devtools.streams import StreamPoller
from lodge_devtools.template import load, resources
from tests.conftest import Project
from tests.helpers import invoke

pytestmark = pytest.mark.manual_digest

EVENTS = Path(__file__).resolve().parents[3] / "events"
TEMPLATE = load()
FUNCTIONS = {
    str(spec["Properties"]["CodeUri"]).strip("/").split("/")[-1]: spec
    for spec in resources(TEMPLATE, "AWS::Serverless::Function").values()
}
GLOBAL_ENV = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]


def statements(function: str) -> list[dict[str, Any]]:
    found = []
    for policy in FUNCTIONS[function]["Properties"].get("Policies", []):
        for statement in policy["Statement"]:
            if any(str(action).startswith("dynamodb:") for action in statement["Action"]):
                found.append(statement)
    return found


def reads_secrets(function: str) -> str:
    variables = FUNCTIONS[function]["Properties"].get("Environment", {}).get("Variables", {})
    return str(variables.get("READS_SECRETS", GLOBAL_ENV["READS_SECRETS"]))


class Audit:
    """Records (function, call) for every DynamoDB request while `as_function` names the caller."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.current = "admin"  # provisioning: the CLI, with the caller's own credentials
        self.calls: list[tuple[str, iam.Call]] = []

    def hook(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "DescribeTable":
            return  # the emulated event source mapping finding the stream (Lambda's own, not the digest's)
        self.calls.append((self.current, iam.call_of(model.name, params)))

    def as_function(self, function: str) -> None:
        self.current = function
        self.monkeypatch.setenv("READS_SECRETS", reads_secrets(function))
        config.settings.cache_clear()
        auth.clear_cache()  # Lambda runs each function in its own process: no token cached across

    def run(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        self.as_function(function)
        return invoke(function, event)

    def denied(self) -> list[str]:
        return [
            f"{function}: {call}"
            for function, call in self.calls
            if function != "admin" and not iam.allows(statements(function), call)
        ]

    def made_by(self, function: str) -> set[str]:
        return {call.action for who, call in self.calls if who == function}


@pytest.fixture
def audit(store: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[Audit]:
    recorder = Audit(monkeypatch)
    monkeypatch.setenv("CRASHLOG_DATE_WINDOW_SECONDS", "0")  # the sample events were signed long ago
    events = aws.dynamodb().meta.events
    events.register("provide-client-params.dynamodb.*", recorder.hook)
    yield recorder
    events.unregister("provide-client-params.dynamodb.*", recorder.hook)


def sample(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return event


def instances_event(store: Store) -> dict[str, Any]:
    """GET /api/1/item/<the demo project's first issue>/instances/ (its records read in one batch)."""
    event = sample("rollbar_read")
    issue_id = store.issues(DEMO_PROJECT_ID)[0].id
    path = f"/api/1/item/{issue_id}/instances/"
    event.update(routeKey="GET /api/1/item/{proxy+}", rawPath=path, rawQueryString="")
    event.update(pathParameters={"proxy": f"{issue_id}/instances/"})
    event["requestContext"]["http"]["path"] = path
    return event


def errors_event() -> dict[str, Any]:
    """GET samples/errors.json (the page's issues read in one batch)."""
    event = sample("appsignal_query")
    path = event["rawPath"].replace("samples.json", "samples/errors.json")
    event.update(routeKey="GET /api/{app_id}/samples/errors.json", rawPath=path)
    event["requestContext"]["http"]["path"] = path
    return event


def sentry_event() -> dict[str, Any]:
    number = dsn_project_number(DEMO_PROJECT_ID)
    report = json.dumps({"discarded_events": [{"reason": "ratelimit_backoff", "category": "error", "quantity": 2}]})
    event = json.dumps({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc", "message": "boom", "level": "error"})
    body = "\n".join(
        [
            json.dumps({"event_id": "9ec79c33ec9942ab8353589fcb2e04dc"}),
            json.dumps({"type": "event", "length": len(event)}),
            event,
            json.dumps({"type": "client_report", "length": len(report)}),
            report,
            "",
        ]
    ).encode()
    key = DEMO_CREDENTIALS["sentry_dsn"]
    headers = {"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7", "Content-Type": "application/json"}
    return build_event(
        "POST",
        f"/api/{number}/envelope/",
        headers=headers,
        body=body,
        route_key="POST /api/{app_id}/envelope/{proxy+}",
        path_parameters={"app_id": number, "proxy": ""},
    )


def test_every_call_of_every_handler_is_granted(store: Store, digest: StreamPoller, audit: Audit) -> None:
    auth.create_project(store, DEMO_PROJECT_NAME, project_id=DEMO_PROJECT_ID, fixed=DEMO_CREDENTIALS)
    for credential in store.credentials(DEMO_PROJECT_ID):  # rate limits on: the RL# path runs too
        full = store.credential(credential.token_hash)
        assert full is not None
        store.add_credential(full._replace(rate_limit=10_000))

    answers = {
        "rollbar_item": audit.run("rollbar_item", sample("rollbar_item")),
        "appsignal_push": audit.run("appsignal_push", sample("appsignal_push")),
        "crashlog_events": audit.run("crashlog_events", sample("crashlog_events")),
        "sentry_ingest": audit.run("sentry_ingest", sentry_event()),
        "crashlog_announce": audit.run("crashlog_announce", sample("crashlog_announce")),
        "rollbar_deploy": audit.run("rollbar_deploy", sample("rollbar_deploy")),
        "appsignal_markers": audit.run("appsignal_markers", sample("appsignal_markers")),
        "appsignal_auth": audit.run("appsignal_markers", sample("appsignal_auth")),
    }
    audit.as_function("digest")
    digest.drain()
    audit.current = "admin"  # the test's own read of the issue id (as provisioning reads)
    instances = instances_event(store)
    answers |= {
        "rollbar_read": audit.run("rollbar_read", sample("rollbar_read")),
        "appsignal_query": audit.run("appsignal_query", sample("appsignal_query")),
        "appsignal_query_markers": audit.run("appsignal_query", sample("appsignal_query_markers")),
        "crashlog_locate": audit.run("crashlog_locate", sample("crashlog_locate")),
        # Listing pages read their records or issues in one BatchGetItem (issue 16).
        "rollbar_instances": audit.run("rollbar_read", instances),
        "appsignal_errors": audit.run("appsignal_query", errors_event()),
    }
    for name, answer in answers.items():
        assert answer["statusCode"] < 500, (name, answer)
    assert answers["crashlog_events"]["statusCode"] == 200, "signed with the secret only CrashLog may read"
    assert not audit.denied(), "\n".join(audit.denied())
    # The scenario reached what the grants are for: records, counters, issue counts, the secret.
    assert "dynamodb:PutItem" in audit.made_by("rollbar_item")
    assert "dynamodb:UpdateItem" in audit.made_by("rollbar_item")  # the rate-limit window
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem"} <= audit.made_by("digest")
    assert "dynamodb:BatchGetItem" in audit.made_by("rollbar_read") & audit.made_by("appsignal_query"), (
        answers["rollbar_instances"],
        answers["appsignal_errors"],
    )
    secret_reads = {
        who for who, call in audit.calls if call.leading_keys[:1] and call.leading_keys[0].startswith("SEC#")
    }
    secret_reads.discard("admin")  # the rate-limit set-up above, as `lodge token limit` does it
    assert secret_reads == {"crashlog_events", "crashlog_announce"}


def test_a_call_outside_the_grants_is_caught(store: Store, audit: Audit) -> None:
    """The audit itself can fail: an ingest function reading a secret is reported."""
    store.put_token("h1", {"project": "p1", "kind": "crashlog", "scopes": {"crashlog"}, "secret": "s"})
    audit.as_function("rollbar_item")
    monkey_store = Store(config.Settings(**{**config.settings().__dict__, "reads_secrets": True}))
    monkey_store.credential("h1")
    assert [line.split(":")[0] for line in audit.denied()] == ["rollbar_item"]


def test_the_flood_path_of_every_ingest_handler_is_granted(
    store: Store, digest: StreamPoller, audit: Audit, project: Project
) -> None:
    """Past the per-issue limit (issue 15 point 8) an ingest function writes `ADD dr` to the issue:
    every call of that path, for each protocol, is admitted by its grants."""
    from tests.unit.functions.test_ingest_floods import FLOOD_KIND, PROTOCOLS

    store.put_flood_limit(project.id, 1)
    functions = {"rollbar": "rollbar_item", "appsignal": "appsignal_push", "crashlog": "crashlog_events"}
    functions["sentry"] = "sentry_ingest"
    for name, protocol in PROTOCOLS.items():
        audit.as_function(functions[name])
        flood.clear_cache()  # each function its own container: its first count not stored is written at once
        for _ in range(3):
            assert protocol.send(project, FLOOD_KIND)["statusCode"] == 200
    flood_counts = [
        who
        for who, call in audit.calls
        if call.action == "dynamodb:UpdateItem" and "dr" in call.attributes and who != "admin"
    ]
    assert sorted(set(flood_counts)) == sorted(functions.values()), flood_counts
    assert not audit.denied(), "\n".join(audit.denied())
