"""events/rollbar_*.json (for `sam local invoke -e` and its twin) work against the demo project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lodge import auth
from lodge.storage import Store
from lodge_devtools.demo import DEMO_CREDENTIALS, DEMO_PROJECT_ID, DEMO_PROJECT_NAME
from tests.helpers import invoke, json_body

EVENTS = Path(__file__).resolve().parents[3] / "events"


@pytest.mark.parametrize(
    "name, expected",
    [
        ("rollbar_item", {"err": 0, "result": {"id": None, "uuid": "fa3905ed-4259-4fde-8972-0403fead5455"}}),
        ("rollbar_read", {"err": 0, "result": {"page": 1, "total_count": 1, "pages": 1}}),
        ("rollbar_deploy", {"data": {}}),
    ],
)
def test_sample_event(store: Store, name: str, expected: dict[str, object]) -> None:
    auth.create_project(store, DEMO_PROJECT_NAME, project_id=DEMO_PROJECT_ID, fixed=DEMO_CREDENTIALS)
    invoke("rollbar_item", json.loads((EVENTS / "rollbar_item.json").read_text()))  # something to read
    event = json.loads((EVENTS / f"{name}.json").read_text())
    assert event["version"] == "2.0"
    resp = invoke(name, event)
    assert resp["statusCode"] == 200, resp["body"]
    body = json_body(resp)
    if name == "rollbar_read":
        assert body["result"]["items"][0]["environment"] == "staging"
        del body["result"]["items"]
    if name == "rollbar_deploy":
        assert isinstance(body["data"].pop("deploy_id"), int)
    assert body == expected
