"""Counter-update faults in the digest, through a real socket: botocore -> fault proxy -> moto.

The digest counts each issue with one marked UpdateItem (`Issues.count_into`). When that call's
reply is lost (the count happened, the digest cannot know) or the call stalls (it did not), the
batch fails and is retried, bisected like Lambda's event source mapping; the stream marks make
the retry skip what was already counted, so every issue ends counted exactly as often as it has
stored records (issue 15 point 4).
"""

from __future__ import annotations

import os
import uuid
from collections import Counter

import pytest

from lodge import aws
from lodge.dynamo import from_item
from lodge.storage import Store
from lodge.storage.keys import RECORD, project_pk
from lodge_devtools.streams import StreamPoller, in_process_invoke
from tests.faults.proxy import Fault, FaultProxy, dynamodb_call
from tests.faults.test_storage_faults import post_item, proxy  # noqa: F401 - the fixture

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
COUNTER_UPDATE = dynamodb_call("UpdateItem", b"ADD #cnt :n")
"""The digest's count of one issue (lodge.storage.issues.counter_update)."""


def _store_reports(store: Store, name: str) -> tuple[str, Counter[str]]:
    """Three reports of one issue and one of another, through the Rollbar endpoint; returns the
    stored records per issue, read from the record items themselves (a Scan, not the listing
    the digest writes)."""
    from lodge import auth

    project_id, credentials = auth.create_project(store, name)
    token = credentials["rollbar_post_server_item"]
    for _ in range(3):
        assert post_item(token, str(uuid.uuid4()))["statusCode"] == 200
    assert post_item(token, str(uuid.uuid4()), "a different message, another issue")["statusCode"] == 200
    by_issue: Counter[str] = Counter()
    for page in store.ddb.get_paginator("scan").paginate(TableName=store.table):
        for raw in page["Items"]:
            item = from_item(raw)
            if item["sk"].startswith(RECORD) and item["pk"].startswith(project_pk(project_id) + "#"):
                by_issue.update(entry["g"] for entry in item["ix"])
    return project_id, by_issue


def _poller(proxy: FaultProxy) -> StreamPoller:  # noqa: F811
    return StreamPoller(aws.dynamodb(), os.environ["TABLE_NAME"], in_process_invoke(), proxy.url)


def _counts(store: Store, project_id: str) -> dict[str, int]:
    return {issue.id: issue.total_occurrences for issue in store.issues(project_id)}


@pytest.mark.parametrize("action", ["drop_reply", "stall"])
def test_a_failed_counter_update_is_retried_and_counts_once(proxy: FaultProxy, action: str) -> None:  # noqa: F811
    store = Store()
    project_id, stored = _store_reports(store, f"counter {action}")
    assert sorted(stored.values()) == [1, 3]
    # Every attempt of the first issue's count fails: with drop_reply each attempt reached the
    # table (the first counted, the others met the marks); with stall none did.
    fault = proxy.add(Fault(action, match=COUNTER_UPDATE, times=aws.ATTEMPTS))
    poller = _poller(proxy)
    poller.drain()
    assert fault.applied == aws.ATTEMPTS
    assert poller.failed == []  # the retry (bisected, as Lambda does) went through
    assert len(poller.results) >= 2, "the batch failed once and was retried"
    assert _counts(store, project_id) == dict(stored)
    counter_calls = proxy.requests(COUNTER_UPDATE)
    assert len(counter_calls) > len(stored), "the failed count was retried"
    # A second drain finds nothing new and changes nothing.
    poller.drain()
    assert _counts(store, project_id) == dict(stored)
