"""functions/appsignal_query: samples (from every protocol), sample detail, markers, JSONP, auth."""

from __future__ import annotations

import json
import re
import urllib.parse
import uuid
from typing import Any

import pytest

from lodge import config
from lodge.ingest import ingest
from lodge.occurrence import ExceptionInfo, Frame, Occurrence
from lodge.protocols.appsignal import push
from lodge.storage import Store
from lodge_devtools.apigw import build_event
from tests.conftest import Project
from tests.helpers import invoke, json_body
from tests.unit.functions.test_appsignal_push import entries, fixture_text

T0 = 1_700_000_000  # a received second


def get(project: Project | str, path: str, query: str = "", token: str | None = None) -> dict[str, Any]:
    """GET /api/<app>/<path> with the project's personal token unless another is given."""
    app_id = project if isinstance(project, str) else project.id
    if token is None and not isinstance(project, str):
        token = project.credentials["personal"]
    params = "&".join(p for p in (f"token={token}" if token is not None else "", query) if p)
    return invoke("appsignal_query", build_event("GET", f"/api/{app_id}/{path}", raw_query=params))


def ingest_batch(store: Store, project_id: str, batch: list[dict[str, Any]], received_at: float) -> list[str]:
    occurrences = push.parse_batch(
        json.dumps(batch).encode(), project_id=project_id, query={"environment": "production"}, received_at=received_at
    )
    return ingest(store, project_id, occurrences, received_at).refs


def rollbar_error(store: Store, project_id: str, received_at: float) -> str:
    occurrence = Occurrence(
        project_id=project_id,
        protocol="rollbar",
        client_id=str(uuid.uuid4()),
        received_at=received_at,
        timestamp=received_at - 1,
        kind="error",
        level="error",
        exceptions=[
            ExceptionInfo(
                type="ZeroDivisionError",
                message="division by zero",
                frames=[
                    Frame(filename="app.py", lineno=3, method="main"),
                    Frame(filename="calc.py", lineno=9, method="div"),
                ],
            )
        ],
        language="python",
    )
    (ref,) = ingest(store, project_id, [occurrence], received_at).refs
    return ref


@pytest.fixture
def data(project: Project, store: Store) -> dict[str, Any]:
    """T0: 3 AppSignal entries (1 failed), T0+1: a Rollbar exception, T0+2: 5 fast requests."""
    batch = json.loads(fixture_text("gem_0_11_18_batch.json"))
    refs = ingest_batch(store, project.id, batch, T0 + 0.25)
    rollbar = rollbar_error(store, project.id, T0 + 1.5)
    later = ingest_batch(store, project.id, entries(5, prefix="later"), T0 + 2.75)
    return {"first": refs, "rollbar": rollbar, "later": later}


# ---- samples ------------------------------------------------------------------------------------


def test_samples_newest_first_with_documented_fields(project: Project, data: dict[str, Any]) -> None:
    response = get(project, "samples.json", "limit=100")
    assert response["statusCode"] == 200 and response["headers"]["Content-Type"].startswith("application/json")
    body = json_body(response)
    assert body["count"] == 9 == len(body["log_entries"])
    assert [e["time"] for e in body["log_entries"]] == [T0 + 2] * 5 + [T0 + 1] + [T0] * 3
    for entry in body["log_entries"]:
        assert set(entry) == {"id", "action", "path", "duration", "status", "time", "is_exception", "exception"}
    rollbar = body["log_entries"][5]
    assert rollbar == {
        "id": data["rollbar"],
        "action": None,
        "path": None,
        "duration": None,
        "status": None,
        "time": T0 + 1,
        "is_exception": True,
        "exception": {"name": "ZeroDivisionError"},
    }
    slow = next(e for e in body["log_entries"] if e["id"] == data["first"][1])
    assert slow == {
        "id": data["first"][1],
        "action": "BlogPostsController#show",
        "path": "/blog",
        "duration": 200.0,
        "status": 200,
        "time": T0,
        "is_exception": False,
        "exception": {"name": None},
    }


def test_default_limit_is_10_and_large_limits_are_clamped(project: Project, store: Store) -> None:
    ingest_batch(store, project.id, entries(12), T0)
    assert json_body(get(project, "samples.json"))["count"] == 10
    assert json_body(get(project, "samples.json", "limit=999999"))["count"] == 12
    for bad in ("limit=0", "limit=ten", "limit=-3"):
        assert get(project, "samples.json", bad)["statusCode"] == 400


def test_error_and_performance_lists_split_by_kind_across_protocols(project: Project, data: dict[str, Any]) -> None:
    errors = json_body(get(project, "samples/errors.json"))
    assert [e["exception"]["name"] for e in errors["log_entries"]] == ["ZeroDivisionError", "ArgumentError"]
    assert all(e["is_exception"] for e in errors["log_entries"])
    performance = json_body(get(project, "samples/performance.json", "limit=50"))
    assert performance["count"] == 7 and not any(e["is_exception"] for e in performance["log_entries"])


@pytest.mark.parametrize(
    "param",
    [
        "action_id=BlogPostsController-hash-show",
        "action_name=BlogPostsController%23show",
        "action=BlogPostsController-hash-show",
    ],
)
def test_action_filter_names_and_escaping(project: Project, data: dict[str, Any], param: str) -> None:
    body = json_body(get(project, "samples.json", param))
    assert sorted(e["id"] for e in body["log_entries"]) == sorted(data["first"][1:])
    errors = json_body(get(project, "samples/errors.json", param))
    assert [e["id"] for e in errors["log_entries"]] == [data["first"][2]]


def test_dot_and_slash_escapes(project: Project, store: Store) -> None:
    batch = [
        {"request_id": "j1", "log_entry": {"action": "Admin/Jobs::Mail.deliver#perform", "kind": "background_job"}}
    ]
    (ref,) = ingest_batch(store, project.id, batch, T0)
    query = "action_id=Admin-slash-Jobs::Mail-dot-deliver-hash-perform"
    assert [e["id"] for e in json_body(get(project, "samples.json", query))["log_entries"]] == [ref]


def test_exception_filter(project: Project, data: dict[str, Any]) -> None:
    body = json_body(get(project, "samples.json", "exception=ZeroDivisionError"))
    assert [e["id"] for e in body["log_entries"]] == [data["rollbar"]]
    assert json_body(get(project, "samples.json", "exception=NoSuchError")) == {"count": 0, "log_entries": []}


def test_since_and_before_are_inclusive_seconds_and_accept_rfc3339(project: Project, data: dict[str, Any]) -> None:
    def ids(query: str) -> list[str]:
        return [e["id"] for e in json_body(get(project, "samples.json", query + "&limit=100"))["log_entries"]]

    assert ids(f"since={T0 + 1}&before={T0 + 1}") == [data["rollbar"]]
    assert ids(f"before={T0}") == data["first"]
    assert ids(f"since={T0 + 2}") == data["later"]
    assert ids("since=2023-11-14T22:13:21Z&before=2023-11-14T22:13:21%2B00:00") == [data["rollbar"]]  # T0 + 1
    assert ids("since=2023-11-14T22:13:21+00:00&before=2023-11-14T22:13:21") == [data["rollbar"]]  # '+' as space
    for bad in ("since=yesterday", "before=1e20", "since=-1"):
        assert get(project, "samples.json", bad)["statusCode"] == 400


def test_paging_by_before_never_loses_entries(project: Project, store: Store) -> None:
    expected: set[str] = set()
    for second in range(4):  # 4 seconds, 2 records per second, 3 entries each
        for part in range(2):
            expected.update(
                ingest_batch(store, project.id, entries(3, prefix=f"s{second}p{part}"), T0 + second + part * 0.5)
            )
    seen: list[str] = []
    before = ""
    for _ in range(20):
        page = json_body(get(project, "samples.json", f"limit=7{before}"))["log_entries"]
        seen.extend(e["id"] for e in page)
        if len(page) < 7:
            break
        before = f"&before={page[-1]['time']}"
        if page[0]["time"] == page[-1]["time"]:
            pytest.fail("a full page within one second: the client would need a larger limit")
    assert set(seen) == expected  # no losses; duplicates across pages are allowed and happen
    assert len(seen) > len(expected)


def test_count_only(project: Project, data: dict[str, Any]) -> None:
    assert json_body(get(project, "samples.json", "count_only=true")) == {"count": 9}
    assert json_body(get(project, "samples/errors.json", f"count_only=true&before={T0}")) == {"count": 1}
    assert json_body(get(project, "samples.json", "count_only=false"))["count"] == 9


def test_a_capped_listing_answers_with_a_cursor_that_continues_exactly(
    project: Project, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """issue 16 point 3: a call reads at most MAX_READS Queries; one the cap stopped says so and
    its cursor goes on with every remaining match exactly once (counts too)."""
    from lodge.storage import listings

    expected: set[str] = set()
    for second in range(6):  # 6 records (each digested alone: its own pages) of 9 errors in 3 classes
        expected.update(ingest_batch(store, project.id, entries(9, failed_every=1, prefix=f"c{second}"), T0 + second))
    errors = {e["id"] for e in json_body(get(project, "samples/errors.json", "limit=1000"))["log_entries"]}  # uncapped
    assert errors == expected and len(errors) == 54
    monkeypatch.setattr(listings, "MAX_READS", 1)
    monkeypatch.setattr(listings, "PAGES_PER_READ", 1)
    for path, query, want in (
        ("samples/errors.json", "", errors),
        ("samples.json", "exception=ArgumentError", {i for i in errors if i.endswith(("-0", "-3", "-6"))}),
    ):
        seen: list[str] = []
        counted = 0
        cursor = count_cursor = ""
        for _ in range(50):
            body = json_body(get(project, path, f"limit=1000&{query}{cursor}"))
            seen.extend(e["id"] for e in body["log_entries"])
            if "lodge" not in body:
                break
            assert body["lodge"]["complete"] is False
            cursor = "&cursor=" + urllib.parse.quote(body["lodge"]["cursor"])
        for _ in range(50):
            body = json_body(get(project, path, f"count_only=true&{query}{count_cursor}"))
            counted += body["count"]
            if "lodge" not in body:
                break
            count_cursor = "&cursor=" + urllib.parse.quote(body["lodge"]["cursor"])
        assert cursor, "the cap never stopped a call: the test would prove nothing"
        assert sorted(seen) == sorted(want) and counted == len(want)
    # A cursor is checked: only a page key of the same listing, else a 400 (never another partition's read).
    for bad in ("x", "17.GRP#abc", "17.LSF#kp#1700000000000#abcdefabcdef"):
        response = get(project, "samples/errors.json", "cursor=" + urllib.parse.quote(bad))
        assert response["statusCode"] == 400 and "cursor" in json_body(response)["error"]


# ---- sample detail ------------------------------------------------------------------------------


def test_appsignal_sample_detail(project: Project, data: dict[str, Any]) -> None:
    ref = data["first"][2]
    body = json_body(get(project, f"samples/{ref}.json"))
    assert body["id"] == ref and body["action"] == "BlogPostsController#show" and body["path"] == "/blog/2"
    assert body["is_exception"] is True and body["kind"] == "http_request" and body["time"] == T0
    assert body["exception"] == {
        "name": "ArgumentError",
        "message": "oh no",
        "backtrace": ["app/controllers/blog_posts_controller.rb:6:in `show'"],
    }
    assert body["tags"] == {"user_id": 123} and body["params"] == {"id": "2"} and body["revision"] == "fe00101"
    assert body["environment"] == {"REQUEST_METHOD": "GET"} and body["request_format"] == "html"
    assert body["lodge"]["protocol"] == "appsignal" and body["lodge"]["group_id"]
    slow = json_body(get(project, f"samples/{data['first'][1]}.json"))
    assert slow["status"] == "200" and slow["view_runtime"] == 150.1 and slow["db_runtime"] == 40.3
    assert slow["events"][0]["name"] == "sql.active_record" and slow["exception"] is None


def test_rollbar_occurrence_is_an_error_sample_with_ruby_style_backtrace(
    project: Project, data: dict[str, Any]
) -> None:
    body = json_body(get(project, f"samples/{data['rollbar']}.json"))
    assert body["is_exception"] is True and body["kind"] == "error" and body["lodge"]["protocol"] == "rollbar"
    assert body["exception"]["name"] == "ZeroDivisionError"
    assert body["exception"]["backtrace"] == ["calc.py:9:in `div'", "app.py:3:in `main'"]  # most recent first


def test_offloaded_detail_is_read_from_s3(project: Project, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFLOAD_THRESHOLD", "64")
    config.settings.cache_clear()
    try:
        big_store = Store()
        refs = ingest_batch(big_store, project.id, entries(30, failed_every=7), T0)
        listed = big_store.s3.list_objects_v2(Bucket=big_store.config.bucket_name)
        assert [o["Key"] for o in listed["Contents"]] == [f"{project.id}/{refs[0].split('-')[0]}"]
    finally:
        monkeypatch.delenv("OFFLOAD_THRESHOLD")
        config.settings.cache_clear()
    body = json_body(get(project, f"samples/{refs[7]}.json"))
    assert body["exception"]["name"] == "NoMethodError" and body["path"] == "/posts/7"


@pytest.mark.parametrize("sample", ["0123456789abcdef01234567", "nope", "abc-x", "0123456789abcdef01234567-99"])
def test_unknown_sample_is_404(project: Project, data: dict[str, Any], sample: str) -> None:
    assert get(project, f"samples/{sample}.json")["statusCode"] == 404


# ---- isolation and auth -------------------------------------------------------------------------


def test_other_projects_data_is_never_served(project: Project, other_project: Project, data: dict[str, Any]) -> None:
    mine = other_project.credentials["personal"]
    assert get(project.id, "samples.json", token=mine)["statusCode"] == 404
    assert get(project.id, f"samples/{data['rollbar']}.json", token=mine)["statusCode"] == 404
    assert get(project.id, "markers.json", token=mine)["statusCode"] == 404
    assert get(other_project, f"samples/{data['rollbar']}.json")["statusCode"] == 404
    assert json_body(get(other_project, "samples.json")) == {"count": 0, "log_entries": []}


@pytest.mark.parametrize("which", ["missing", "wrong", "push_key", "post_item"])
def test_bad_token_is_401(project: Project, which: str) -> None:
    token = {"missing": None, "wrong": "0" * 32, "push_key": project.credentials["appsignal_push"]}.get(
        which, project.credentials["rollbar_post_server_item"]
    )
    response = get(project.id, "samples.json", token=token)
    assert response["statusCode"] == 401 and json_body(response)["error"]


def test_unknown_route_is_404(project: Project) -> None:
    assert get(project, "incidents.json")["statusCode"] == 404  # graphs.json exists since issue 16
    assert get(project, "samples/a/b.json")["statusCode"] == 404


# ---- JSONP --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["samples.json", "samples/errors.json", "markers.json"])
def test_jsonp_wraps_with_javascript_content_type(project: Project, data: dict[str, Any], path: str) -> None:
    response = get(project, path, "callback=jQuery19104_1384360000.cb")
    assert response["statusCode"] == 200 and response["headers"]["Content-Type"].startswith("text/javascript")
    match = re.fullmatch(r"jQuery19104_1384360000\.cb\((.*)\);", response["body"], re.S)
    assert match and "count" in json.loads(match.group(1))


@pytest.mark.parametrize("callback", ["alert(1)//", "a b", "", "1abc", "x.", "a" * 200, "</script>"])
def test_invalid_callback_is_400(project: Project, callback: str) -> None:
    import urllib.parse

    response = get(project, "samples.json", "callback=" + urllib.parse.quote(callback))
    assert response["statusCode"] == 400 and response["headers"]["Content-Type"].startswith("application/json")


# ---- markers ------------------------------------------------------------------------------------


def post_marker(project: Project, body: Any, token: str | None = None) -> dict[str, Any]:
    token = token or project.credentials["personal"]
    raw = body if isinstance(body, str) else json.dumps(body)
    event = build_event(
        "POST",
        f"/api/{project.id}/markers.json",
        raw_query=f"token={token}",
        body=raw,
        headers={"content-type": "application/json"},
    )
    return invoke("appsignal_query", event)


def test_markers_from_every_source(project: Project, store: Store) -> None:
    key = project.credentials["appsignal_push"]
    import zlib

    marker_event = build_event(
        "POST",
        "/1/markers",
        raw_query=f"api_key={key}&environment=production&gem_version=0.11.18",
        headers={"content-encoding": "gzip"},
        body=zlib.compress(fixture_text("marker_0_11.json").encode(), 1),
    )
    assert invoke("appsignal_markers", marker_event)["statusCode"] == 200
    store.put_marker(
        project.id,
        {
            "kind": "deploy",
            "revision": "r0llbar1234",
            "environment": "production",
            "local_username": "alice",
            "source": "rollbar",
            "created": T0,
        },
    )
    created = post_marker(
        project,
        {
            "marker": {
                "kind": "custom",
                "message": "Traffic spike",
                "icon": "💩",
                "created_at": "2023-11-14T22:13:25+00:00",
            }
        },
    )
    assert created["statusCode"] == 200, created
    assert json_body(created)["kind"] == "custom" and json_body(created)["message"] == "Traffic spike"

    body = json_body(get(project, "markers.json"))
    assert body["count"] == 3
    push_marker, custom, rollbar = body["markers"]
    assert (
        push_marker["revision"] == "fe001015311af4769a4dad76bdbce4c8f5d022af"
        and push_marker["short_revision"] == "fe00101"
    )
    assert (
        push_marker["user"] == "deploy"
        and push_marker["gem_version"] == "0.11.18"
        and push_marker["source"] == "appsignal"
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", push_marker["created_at"])
    assert custom["created_at"] == "2023-11-14T22:13:25+00:00" and custom["icon"] == "💩"
    assert rollbar["user"] == "alice" and rollbar["source"] == "rollbar" and rollbar["kind"] == "deploy"

    assert json_body(get(project, "markers.json", "kind=deploy&count_only=true")) == {"count": 2}
    assert [m["kind"] for m in json_body(get(project, "markers.json", f"to={T0 + 10}"))["markers"]] == [
        "custom",
        "deploy",
    ]
    assert [m["kind"] for m in json_body(get(project, "markers.json", f"from={T0 + 5}&to={T0 + 5}"))["markers"]] == [
        "custom"
    ]
    limited = json_body(get(project, "markers.json", "limit=1"))
    assert limited["count"] == 3 and len(limited["markers"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        '{"marker": "x"}',
        "[]",
        "not json",
        {"marker": {"kind": "weird"}},
        {"marker": {"kind": "custom"}},
        {"marker": {"revision": {"a": 1}}},
        {"marker": {"created_at": "soon"}},
    ],
)
def test_bad_marker_create_is_400(project: Project, store: Store, body: Any) -> None:
    assert post_marker(project, body)["statusCode"] == 400
    assert store.list_markers(project.id) == []


def test_marker_create_needs_write_scope(project: Project, store: Store) -> None:
    response = post_marker(project, {"marker": {"revision": "abc"}}, token=project.credentials["rollbar_read"])
    assert response["statusCode"] == 401
    deploy = post_marker(project, {"marker": {"revision": "abc", "user": "me", "repository": "main"}})
    assert deploy["statusCode"] == 200 and json_body(deploy)["revision"] == "abc"
    assert store.list_markers(project.id)[0]["source"] == "api"


def test_crashlog_announce_is_a_notification_marker(project: Project, store: Store) -> None:
    store.put_marker(
        project.id,
        {"kind": "announce", "source": "crashlog", "hostname": "web-1", "environment": "production", "created": T0},
    )
    (view,) = json_body(get(project, "markers.json", "kind=notification"))["markers"]
    assert view["kind"] == "notification" and "web-1" in view["message"] and view["source"] == "crashlog"
    assert json_body(get(project, "markers.json", "kind=announce&count_only=1")) == {"count": 1}
    assert json_body(get(project, "markers.json", "kind=deploy&count_only=1")) == {"count": 0}


# ---- storage failures ----------------------------------------------------------------------------


def _broken(*_: Any, **__: Any) -> Any:
    raise ConnectionError("DynamoDB is unreachable")


@pytest.mark.parametrize(
    ("operation", "path"),
    [
        ("query", "samples.json"),
        ("query", "samples/errors.json"),
        ("query", "samples.json?count_only=true"),
        ("query", "markers.json"),
        ("get_item", "samples/{ref}.json"),
        ("get_item", "markers.json"),  # the token lookup, with nothing cached
    ],
)
def test_storage_read_failure_is_503_json(
    project: Project, data: dict[str, Any], monkeypatch: pytest.MonkeyPatch, operation: str, path: str
) -> None:
    from lodge import auth, aws

    path, _, query = path.format(ref=data["first"][0]).partition("?")
    if path == "markers.json" and operation == "get_item":
        auth.clear_cache()
    else:
        assert get(project, path, query)["statusCode"] == 200  # the token is now cached: only the data read fails
    monkeypatch.setattr(aws.dynamodb(), operation, _broken)
    for callback in ("", "callback=cb"):
        response = get(project, path, "&".join(p for p in (query, callback) if p))
        assert response["statusCode"] == 503, response
        assert "error" in json_body(response)


def test_offloaded_detail_read_failure_is_503(project: Project, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from lodge import aws

    monkeypatch.setenv("OFFLOAD_THRESHOLD", "1")
    config.settings.cache_clear()
    try:
        (ref,) = ingest_batch(Store(), project.id, entries(1), T0)
        assert Store().s3.list_objects_v2(Bucket=store.config.bucket_name)["KeyCount"] == 1  # offloaded
        assert get(project, f"samples/{ref}.json")["statusCode"] == 200
        monkeypatch.setattr(aws.s3(), "get_object", _broken)
        response = get(project, f"samples/{ref}.json")
        assert response["statusCode"] == 503 and "error" in json_body(response)
    finally:
        monkeypatch.delenv("OFFLOAD_THRESHOLD")
        config.settings.cache_clear()
