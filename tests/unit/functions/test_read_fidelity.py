"""What real clients sent, read back through every read API: the fidelity defects of issue 9."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from lodge.models.markers import Marker
from lodge.storage import Store
from lodge_devtools.apigw import build_event
from tests.conftest import Project
from tests.fixtures.crashlog.signer import fixture, signed_headers
from tests.helpers import invoke, json_body
from tests.unit.functions.test_appsignal_push import push
from tests.unit.functions.test_appsignal_query import get


def crashlog_post(project: Project, body: bytes, path: str = "/events") -> dict[str, Any]:
    key, secret = project.credentials["crashlog"], project.credentials["crashlog_secret"]
    headers = signed_headers(key, secret, "POST", path, body=body)
    function = "crashlog_events" if path == "/events" else "crashlog_announce"
    return invoke(function, build_event("POST", path, headers=headers, body=body))


def crashlog_sample_ref(project: Project, body: bytes) -> str:
    from lodge.protocols.crashlog import locate as crashlog

    response = crashlog_post(project, body)
    assert response["statusCode"] == 200, response
    return crashlog.location_record_id(json_body(response)["location_id"])


def rollbar_read(project: Project, path: str) -> dict[str, Any]:
    headers = {"x-rollbar-access-token": project.credentials["rollbar_read"]}
    return invoke("rollbar_read", build_event("GET", path, headers=headers))


# ---- a CrashLog event in the AppSignal sample view ------------------------------------------------


def test_crashlog_event_in_the_appsignal_sample_view(store: Store, project: Project) -> None:
    ref = crashlog_sample_ref(project, fixture("ruby_1.0.7.json"))
    sample = json_body(get(project, f"samples/{ref}.json"))
    assert sample["action"] == "users#show"  # the controller#action Lodge derived
    assert sample["request_method"] == "GET"  # from cgi_data.REQUEST_METHOD
    assert sample["custom_data"]["url"] == "http://app.example.com/users/42"
    assert sample["person"] == {"id": "42", "email": "jane@example.com"}
    assert sample["path"] == "http://app.example.com/users/42"


def test_a_crashlog_event_shows_the_same_place_in_the_samples_list_as_in_its_detail(
    store: Store, project: Project
) -> None:
    """The list reads the record's index entry, the detail the stored occurrence: both must come from
    the model's `action` and `path`, or the list shows null where the detail names the place."""
    ref = crashlog_sample_ref(project, fixture("ruby_1.0.7.json"))
    sample = json_body(get(project, f"samples/{ref}.json"))
    for listing in ("samples.json", "samples/errors.json"):
        (listed,) = json_body(get(project, listing))["log_entries"]
        assert listed["id"] == ref
        assert listed["action"] == sample["action"] == "users#show"
        assert listed["path"] == sample["path"] == "http://app.example.com/users/42"
    detail = store.get_occurrence(project.id, ref)
    assert detail is not None and detail["action"] == "users#show"
    assert detail["path"] == "http://app.example.com/users/42"


def test_crashlog_person_keeps_its_name(store: Store, project: Project) -> None:
    payload = json.loads(fixture("ruby_1.0.7.json"))
    payload["payload"]["context"]["current_user"] = {"id": 7, "name": "Jane Doe", "email": "j@example.com"}
    ref = crashlog_sample_ref(project, json.dumps(payload).encode())
    detail = store.get_occurrence(project.id, ref)
    assert detail is not None and detail["person"] == {"id": "7", "name": "Jane Doe", "email": "j@example.com"}


# ---- a CrashLog event in the Rollbar instance view ------------------------------------------------


def test_crashlog_event_in_the_rollbar_instance_view(store: Store, project: Project) -> None:
    ref = crashlog_sample_ref(project, fixture("ruby_1.0.7.json"))
    data = json_body(rollbar_read(project, f"/api/1/instance/{ref}"))["result"]["data"]
    assert data["environment"] == "production"
    assert data["context"] == "users#show"
    # the CrashLog objects themselves are still there, under their own name
    assert data["crashlog"]["context"]["controller"] == "users"
    assert data["crashlog"]["environment"]["system"]["hostname"] == "app01.example.com"


# ---- AppSignal gem 0.2: Ruby inspect strings --------------------------------------------------------


def test_gem_0_2_inspect_strings_are_typed_like_gem_0_11(store: Store, project: Project) -> None:
    entry = {
        "request_id": str(uuid.uuid4()),
        "action": "PostsController#index",
        "log_entry": {
            "path": "/posts",
            "kind": "http_request",
            "duration": "1203.5",
            "time": "2012-10-20T12:00:00+02:00",
            "end": "2012-10-20T12:00:01+02:00",
            "action": "index",
            "controller": "PostsController",
            "format": ":html",
            "status": "200",
            "view_runtime": "950.759",
            "db_runtime": "12.25",
        },
        "events": [
            {
                "name": "sql.active_record",
                "duration": "1.5",
                "time": "2012-10-20T12:00:00+02:00",
                "end": "2012-10-20T12:00:00+02:00",
                "payload": {"name": '"Post Load"', "sql": '"SELECT 1"', "connection_id": "70151130", "binds": "[]"},
            }
        ],
        "exception": {},
        "failed": False,
    }
    response = push(project.credentials["appsignal_push"], json.dumps([entry]), encoding="form", query="")
    assert response["statusCode"] == 200, response
    (listed,) = json_body(get(project, "samples/performance.json"))["log_entries"]
    sample = json_body(get(project, f"samples/{listed['id']}.json"))
    assert sample["view_runtime"] == 950.759 and sample["db_runtime"] == 12.25
    assert sample["request_format"] == "html"
    assert sample["duration"] == 1203.5 and sample["status"] == "200"
    (event,) = sample["events"]
    assert event["payload"] == {"name": "Post Load", "sql": "SELECT 1", "connection_id": 70151130, "binds": "[]"}


# ---- markers ---------------------------------------------------------------------------------------


def test_the_announce_notifier_is_shown_in_markers_json(store: Store, project: Project) -> None:
    assert crashlog_post(project, fixture("announce_ruby.json"), "/announce")["statusCode"] == 201
    (view,) = json_body(get(project, "markers.json", "kind=notification"))["markers"]
    assert view["notifier"] == {"name": "crashlog", "version": "1.0.7", "language": "Ruby"}


def test_every_read_api_shows_the_same_fields_of_a_marker(store: Store, project: Project) -> None:
    """A deploy the AppSignal gem reported, updated through Rollbar's API, read through both."""
    marker = store.add_marker(
        project.id,
        Marker(
            kind="deploy", source="appsignal", revision="abc1234", user="bob", environment="production", created=1e9
        ),
    )
    headers = {"content-type": "application/json", "x-rollbar-access-token": project.credentials["rollbar_write"]}
    body = json.dumps({"status": "succeeded", "comment": "shipped"})
    patched = invoke("rollbar_deploy", build_event("PATCH", f"/api/1/deploy/{marker.id}", headers=headers, body=body))
    deploy = json_body(patched)["result"]
    (view,) = json_body(get(project, "markers.json"))["markers"]
    assert view["user"] == deploy["local_username"] == "bob"
    assert view["revision"] == deploy["revision"] == "abc1234"
    assert view["environment"] == deploy["environment"] == "production"
    assert view["status"] == deploy["status"] == "succeeded"
    assert view["comment"] == deploy["comment"] == "shipped"
    assert view["created_at"] == datetime.fromtimestamp(deploy["start_time"], UTC).isoformat(timespec="seconds")
    assert view["closed_at"] == datetime.fromtimestamp(deploy["finish_time"], UTC).isoformat(timespec="seconds")


# ---- the seed AppSignal example, repaired from invalid JSON ----------------------------------------


def test_the_repair_keeps_the_first_events_payload_together() -> None:
    """The stray `}` is the one after the dangling comma in the first payload, not the event's own."""
    from lodge.protocols.appsignal import push
    from tests.unit.functions.test_appsignal_push import fixture_text

    body = fixture_text("seed_docs_performance.txt").encode()
    (occurrence,) = push.parse_batch(body, project_id="p", query={"environment": "production"}, received_at=1e9)
    first = occurrence.events[0] if occurrence.events else None
    assert first is not None and first.payload == {
        "controller": "BlogPostsController",
        "action": "show",
        "format": "html",
        "method": "GET",
        "path": "/blog/2012/7/21/blog-post-title",
    }
    assert first.model_extra == {}
    # Both environments are kept: the query's (the gem's configured environment) names the issue's
    # environment, the entry's own stays visible beside it.
    assert occurrence.environment == "production"
    assert occurrence.extra is not None and occurrence.extra["log_entry_environment"] == "development"
