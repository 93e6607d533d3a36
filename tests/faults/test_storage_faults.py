"""Storage faults through a real socket: botocore -> fault proxy -> moto server.

A stalled DynamoDB call must end inside the function's timeout (the client timeouts and retries of
lodge.aws add up to less than it) and be answered 503 by Lodge, never by Lambda killing the
function. A write whose reply is lost must not store the occurrence twice: the client's retry is a
duplicate, answered 200, and the digest counts the one stored record once.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from lodge import auth, aws, config, flood, scrubbing
from lodge.storage import Store
from lodge_devtools import emulation
from lodge_devtools.apigw import build_event
from lodge_devtools.streams import StreamPoller, in_process_invoke
from tests.faults.proxy import Fault, FaultProxy, dynamodb_call, moto_server
from tests.helpers import invoke, json_body
from tests.unit.functions.test_rollbar_read import fixture

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
RECORD_WRITE = dynamodb_call("PutItem", b"attribute_not_exists(pk)")
"""The conditional PutItem of an occurrence record (lodge.storage.records.put_record)."""


@pytest.fixture
def proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    with moto_server() as (_host, port), FaultProxy(port) as running:
        monkeypatch.setenv("AWS_ENDPOINT_URL", running.url)
        aws.reset()
        auth.clear_cache()
        scrubbing.clear_cache()
        flood.clear_cache()
        config.settings.cache_clear()
        emulation.provision(aws.dynamodb(), aws.s3(), os.environ["TABLE_NAME"], os.environ["BUCKET_NAME"])
        yield running
        aws.reset()
        auth.clear_cache()


def post_item(token: str, uuid_: str, message: str | None = None) -> dict[str, Any]:
    """pyrollbar's captured message with a fresh uuid (and, given `message`, another text: another issue)."""
    payload = fixture("e2_pyrollbar_message")
    payload["data"]["uuid"] = uuid_
    if message is not None:
        payload["data"]["body"] = {"message": {"body": message}}
    event = build_event(
        "POST",
        "/api/1/item/",
        headers={"content-type": "application/json", "x-rollbar-access-token": token},
        body=json.dumps(payload).encode(),
        route_key="POST /api/1/item/{proxy+}",
        path_parameters={"proxy": ""},
    )
    return invoke("rollbar_item", event)


def test_the_client_timeouts_fit_inside_the_function_timeout() -> None:
    """The arithmetic the stall test relies on, for the template's timeout and others."""
    from lodge_devtools import template

    timeout = float(template.load()["Globals"]["Function"]["Timeout"])
    assert timeout == aws.DEFAULT_FUNCTION_TIMEOUT
    for budget in (timeout, 8.0, 30.0):  # 8 s: the shortest timeout the budget is built for
        assert aws.worst_case_call_seconds(budget) + aws.HEADROOM_SECONDS <= budget
    config_ = aws.dynamodb.__wrapped__().meta.config
    assert config_.retries == {"total_max_attempts": aws.ATTEMPTS, "mode": "standard"}
    assert (config_.connect_timeout, config_.read_timeout) == (aws.CONNECT_TIMEOUT, aws.read_timeout())
    for client in (aws.s3, aws.sqs, aws.sns):
        assert client.__wrapped__().meta.config.read_timeout == aws.read_timeout()


def test_a_stalled_record_write_is_answered_503_inside_the_budget(proxy: FaultProxy) -> None:
    store = Store()
    _project, credentials = auth.create_project(store, "stalls")
    stall = proxy.add(Fault("stall", match=RECORD_WRITE))
    started = time.monotonic()
    response = post_item(credentials["rollbar_post_server_item"], str(uuid.uuid4()))
    took = time.monotonic() - started
    assert response["statusCode"] == 503, response
    assert "retry" in json_body(response)["message"]
    # Every attempt botocore made was stalled, and there were exactly ATTEMPTS of them: the call
    # could not have taken longer than the configured worst case, which fits the function timeout.
    assert stall.applied == aws.ATTEMPTS
    assert aws.worst_case_call_seconds() + aws.HEADROOM_SECONDS <= aws.function_timeout()
    assert took < aws.worst_case_call_seconds() + aws.HEADROOM_SECONDS, took


def test_a_lost_record_write_reply_is_stored_once_and_the_retry_is_a_duplicate(proxy: FaultProxy) -> None:
    store = Store()
    project_id, credentials = auth.create_project(store, "lost replies")
    token, item_uuid = credentials["rollbar_post_server_item"], str(uuid.uuid4())
    # Every attempt of the first request writes the record and loses the reply: Lodge cannot
    # know it stored, so it answers 503 and the client sends the same item again.
    lost = proxy.add(Fault("drop_reply", match=RECORD_WRITE, times=aws.ATTEMPTS))
    first = post_item(token, item_uuid)
    assert first["statusCode"] == 503, first
    assert lost.applied == aws.ATTEMPTS
    retried = post_item(token, item_uuid)
    assert retried["statusCode"] == 200, retried
    assert json_body(retried)["result"]["uuid"] == item_uuid
    # The stream holds the one stored record: the digest lists and counts it exactly once, so
    # the count survives the lost reply (issue 15 point 4; accept, then digest).
    StreamPoller(aws.dynamodb(), os.environ["TABLE_NAME"], in_process_invoke(), proxy.url).drain()
    assert len(list(store.iter_records(project_id))) == 1
    (issue,) = store.issues(project_id)
    assert issue.total_occurrences == 1
