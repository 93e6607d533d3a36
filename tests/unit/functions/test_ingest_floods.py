"""Floods of one issue contained by every ingest handler (issue 15 point 8; lodge.flood, docs/storage.md).

Each protocol's real handler is driven past a small per-issue limit (`lodge project limit`'s
`put_flood_limit`) with the stream digested as it goes: every request is still answered 200 with the
protocol's normal body; about `limit` records a minute are stored (this one warm container stores
no more than the limit in any minute); the issue's count once digested equals what was sent (stored
+ `dr`); the console shows "N occurrences, M stored"; another issue of the project, in the same
minutes, is stored in full.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from lodge import flood
from lodge.models.issues import Issue
from lodge.storage import Store
from lodge_devtools.apigw import build_event
from lodge_devtools.streams import StreamPoller
from tests.conftest import Project
from tests.fixtures.crashlog.signer import fixture as crashlog_fixture
from tests.fixtures.crashlog.signer import signed_headers
from tests.helpers import invoke, json_body
from tests.unit.functions import test_appsignal_push as appsignal
from tests.unit.functions import test_rollbar_item as rollbar
from tests.unit.functions import test_sentry_ingest as sentry
from tests.unit.functions.test_console import Browser, html

pytestmark = pytest.mark.manual_digest
LIMIT = 8
FLOOD = 40
QUIET_EVERY = 10  # 5 reports of the other issue in all: under the limit
FLOOD_KIND, QUIET_KIND = "FloodError", "QuietError"


@dataclass
class Protocol:
    send: Callable[[Project, str], dict[str, Any]]
    """One report of the issue named by its exception class; returns the handler's response."""
    normal_body: Callable[[dict[str, Any]], dict[str, Any]]
    """The body the protocol answers a stored report with (ids taken from what the handler sent back)."""


def _rollbar(project: Project, kind: str) -> dict[str, Any]:
    item = {
        "environment": "production",
        "uuid": str(uuid.uuid4()),
        "body": {"trace": {"frames": [{"filename": "app.py", "lineno": 3, "method": "loop"}],
                           "exception": {"class": kind, "message": "flooding"}}},
    }  # fmt: skip
    response = rollbar.post({"data": item}, project.credentials["rollbar_post_server_item"])
    response["sent_id"] = item["uuid"]
    return response


def _appsignal(project: Project, kind: str) -> dict[str, Any]:
    entry = appsignal.entries(1, failed_every=1, prefix=uuid.uuid4().hex)[0]
    entry["exception"]["exception"] = kind
    return appsignal.push(project.credentials["appsignal_push"], json.dumps([entry]))


def _crashlog(project: Project, kind: str) -> dict[str, Any]:
    payload = json.loads(crashlog_fixture("ruby_1.0.7.json"))
    payload["payload"]["event"]["type"] = kind
    body = json.dumps(payload).encode()
    key, secret = project.credentials["crashlog"], project.credentials["crashlog_secret"]
    headers = signed_headers(key, secret, "POST", "/events", body=body)
    return invoke("crashlog_events", build_event("POST", "/events", headers=headers, body=body))


def _sentry(project: Project, kind: str) -> dict[str, Any]:
    event_id = uuid.uuid4().hex
    event = sentry.event_body(event_id=event_id)
    event["exception"]["values"][0]["type"] = kind
    payload = json.dumps(event).encode()
    body = sentry.envelope(({"type": "event", "length": len(payload)}, payload), event_id=event_id)
    response = sentry.post(project, body)
    response["sent_id"] = event_id
    return response


PROTOCOLS = {
    "rollbar": Protocol(_rollbar, lambda r: {"err": 0, "result": {"id": None, "uuid": r["sent_id"]}}),
    "appsignal": Protocol(_appsignal, lambda r: {"status": "ok", "accepted": 1, "duplicates": 0}),
    "crashlog": Protocol(_crashlog, lambda r: {"location_id": str(uuid.UUID(json_body(r)["location_id"]))}),
    "sentry": Protocol(_sentry, lambda r: {"id": r["sent_id"]}),
}


def _stored_records(store: Store, project_id: str, issue_id: str) -> int:
    return sum(1 for s in store.occurrence_summaries(project_id) if s.issue_id == issue_id)


def _issue_by_title(store: Store, project_id: str, kind: str) -> Issue:
    found = [i for i in store.issues(project_id) if kind in i.title]
    assert len(found) == 1, [i.title for i in store.issues(project_id)]
    return found[0]


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_a_flood_is_answered_as_stored_counted_in_full_and_stored_up_to_the_limit(
    name: str, store: Store, digest: StreamPoller, project: Project
) -> None:
    protocol = PROTOCOLS[name]
    store.put_flood_limit(project.id, LIMIT)
    started = time.time()
    quiet_sent = 0
    for i in range(FLOOD):
        response = protocol.send(project, FLOOD_KIND)
        assert response["statusCode"] == 200, response
        assert json_body(response) == protocol.normal_body(response), (i, response["body"])
        if i % QUIET_EVERY == 0:
            quiet = protocol.send(project, QUIET_KIND)
            assert quiet["statusCode"] == 200 and json_body(quiet) == protocol.normal_body(quiet), quiet
            quiet_sent += 1
        if i % 10 == 9:
            digest.drain()  # the stream delivers as it goes: the digest marks the flood
    time.sleep(flood.FLUSH_SECONDS)  # the container's next request (any issue) writes what is pending
    assert protocol.send(project, QUIET_KIND)["statusCode"] == 200
    quiet_sent += 1
    minutes = int(time.time() // 60) - int(started // 60) + 1
    assert not flood.GATE.pending, "the last request flushed the counts not stored"
    digest.drain()

    issue = _issue_by_title(store, project.id, FLOOD_KIND)
    stored = _stored_records(store, project.id, issue.id)
    # About the limit a minute (one warm container: never more than the limit in a minute).
    assert LIMIT <= stored <= LIMIT * minutes, (stored, minutes)
    # Every occurrence counted (here exactly; the design bound is 1 %), stored or not.
    assert abs(issue.total_occurrences - FLOOD) <= FLOOD // 100, issue
    assert issue.stored_occurrences == stored
    assert issue.dropped_occurrences == FLOOD - stored > 0
    # The other issue, in the same minutes, stored in full.
    other = _issue_by_title(store, project.id, QUIET_KIND)
    assert other.total_occurrences == other.stored_occurrences == quiet_sent
    assert _stored_records(store, project.id, other.id) == quiet_sent and other.dropped_occurrences == 0

    browser = Browser()
    browser.sign_in(project.credentials["personal"])
    page = html(browser.get(f"/console/issues/{issue.id}"))
    assert f'{FLOOD} occurrences, <span id="stored">{stored}</span> stored' in page
    assert 'id="stored"' not in html(browser.get(f"/console/issues/{other.id}"))


def test_a_dropped_report_resent_is_answered_the_same_and_counted_once(
    store: Store, digest: StreamPoller, project: Project
) -> None:
    store.put_flood_limit(project.id, 1)
    uuids = [str(uuid.uuid4()) for _ in range(3)]

    def send(item_uuid: str) -> dict[str, Any]:
        item = {"environment": "production", "uuid": item_uuid, "body": {"message": {"body": "flooding"}}}
        return rollbar.post({"data": item}, project.credentials["rollbar_post_server_item"])

    answers = [send(u) for u in [*uuids, uuids[-1]]]  # the last one resent (a client's retry)
    assert [r["statusCode"] for r in answers] == [200] * 4
    assert json_body(answers[-1]) == json_body(answers[-2]) == {"err": 0, "result": {"id": None, "uuid": uuids[-1]}}
    flood.GATE.flush(store, time.time(), force=True)
    digest.drain()
    issue = store.issues(project.id)[0]
    assert (issue.total_occurrences, issue.stored_occurrences) == (3, 1)


def test_the_container_counts_only_records_it_wrote(store: Store, digest: StreamPoller, project: Project) -> None:
    """A duplicate (nothing written) does not use up the issue's limit in this container, and a retry
    of a stored report that meets the container's cap is not counted as not stored."""
    store.put_flood_limit(project.id, 2)
    first = str(uuid.uuid4())

    def send(item_uuid: str) -> dict[str, Any]:
        item = {"environment": "production", "uuid": item_uuid, "body": {"message": {"body": "retried"}}}
        return rollbar.post({"data": item}, project.credentials["rollbar_post_server_item"])

    for _ in range(5):  # one report and four retries of it: one record
        assert send(first)["statusCode"] == 200
    second = str(uuid.uuid4())
    assert send(second)["statusCode"] == 200
    # The limit is reached now; a retry of a stored report is refused by the cap, and not counted.
    assert json_body(send(second)) == {"err": 0, "result": {"id": None, "uuid": second}}
    flood.GATE.flush(store, time.time(), force=True)
    digest.drain()
    issue = store.issues(project.id)[0]
    assert (issue.total_occurrences, issue.stored_occurrences) == (2, 2), "the second report was stored"
