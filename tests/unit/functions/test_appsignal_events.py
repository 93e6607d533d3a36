"""events/appsignal_*.json: the sample events are valid against a store holding the demo project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lodge import auth
from lodge.storage import Store
from lodge_devtools.demo import DEMO_CREDENTIALS, DEMO_PROJECT_ID, DEMO_PROJECT_NAME
from tests.helpers import invoke, json_body

EVENTS = Path(__file__).resolve().parents[3] / "events"
CASES = [
    ("appsignal_push", "appsignal_push"),
    ("appsignal_markers", "appsignal_markers"),
    ("appsignal_auth", "appsignal_markers"),
    ("appsignal_query", "appsignal_query"),
    ("appsignal_query_markers", "appsignal_query"),
]


@pytest.mark.parametrize(("event_name", "function"), CASES)
def test_sample_event_succeeds_with_demo_credentials(store: Store, event_name: str, function: str) -> None:
    auth.create_project(store, DEMO_PROJECT_NAME, DEMO_PROJECT_ID, fixed=DEMO_CREDENTIALS)
    event = json.loads((EVENTS / f"{event_name}.json").read_text())
    if event_name == "appsignal_push":
        assert event["isBase64Encoded"] is True  # a zlib body, as API Gateway delivers it
    response = invoke(function, event)
    assert response["statusCode"] == 200, response
    body = json_body(response)
    if event_name == "appsignal_push":
        assert body["accepted"] == 3
        assert json_body(invoke("appsignal_push", event))["duplicates"] == 3
