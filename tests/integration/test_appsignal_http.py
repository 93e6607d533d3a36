"""AppSignal over real HTTP against the local runner: each gem generation pushes, the query API reads back."""

from __future__ import annotations

import json
import re
import urllib.parse
import zlib
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.integration.conftest import RunnerHandle

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "appsignal"
GEM = "name=MyBlog&environment=production&hostname=app1.local&gem_version="


def text(name: str) -> str:
    return (FIXTURES / name).read_text()


@pytest.fixture(scope="module")
def app(runner: RunnerHandle) -> tuple[str, dict[str, str]]:
    """A project of its own, so counts are exact whatever else the session's runner holds."""
    return runner.new_project("AppSignal over HTTP")


def query(runner: RunnerHandle, app_id: str, token: str, path: str, **params: Any) -> requests.Response:
    return requests.get(f"{runner.url}/api/{app_id}/{path}", params={"token": token, **params}, timeout=10)


def test_every_gem_generation_pushes_and_reads_back(runner: RunnerHandle, app: tuple[str, dict[str, str]]) -> None:
    app_id, credentials = app
    key, token = credentials["appsignal_push"], credentials["personal"]

    # gem 0.2: form body with api_key, gem_version and log_entries=<JSON>
    form = urllib.parse.urlencode({"api_key": key, "gem_version": "0.2.5", "log_entries": text("gem_0_2_batch.json")})
    response = requests.post(
        f"{runner.url}/1/log_entries",
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    # gem 0.5: raw JSON, key in the query, under the 0.1 path
    response = requests.post(
        f"{runner.url}/api/1/log_entries?api_key={key}&gem_version=0.5.5",
        data=text("gem_0_5_batch.json").encode(),
        headers={"Content-Type": "application/json; charset=UTF-8"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    # gem 0.11: a zlib stream labelled Content-Encoding: gzip
    body = zlib.compress(text("gem_0_11_18_batch.json").encode(), 1)
    response = requests.post(
        f"{runner.url}/1/log_entries?api_key={key}&{GEM}0.11.18",
        data=body,
        headers={"Content-Type": "application/json; charset=UTF-8", "Content-Encoding": "gzip", "User-Agent": "Ruby"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    resent = requests.post(
        f"{runner.url}/1/log_entries?api_key={key}&{GEM}0.11.18",
        data=body,
        headers={"Content-Type": "application/json; charset=UTF-8", "Content-Encoding": "gzip"},
        timeout=10,
    )
    assert resent.status_code == 200 and resent.json()["duplicates"] == 3

    everything = query(runner, app_id, token, "samples.json", limit=100).json()
    assert everything["count"] == 7
    assert query(runner, app_id, token, "samples.json", count_only="true").json() == {"count": 7}
    errors = query(runner, app_id, token, "samples/errors.json").json()
    assert sorted(e["exception"]["name"] for e in errors["log_entries"]) == [
        "ActiveRecord::RecordNotFound",
        "ArgumentError",
        "RuntimeError",
    ]
    performance = query(runner, app_id, token, "samples/performance.json").json()
    assert performance["count"] == 4 and not any(e["is_exception"] for e in performance["log_entries"])
    shown = query(runner, app_id, token, "samples.json", action_id="BlogPostsController-hash-show").json()
    assert shown["count"] == 2 and {e["path"] for e in shown["log_entries"]} == {"/blog", "/blog/2"}

    failed = next(e for e in errors["log_entries"] if e["exception"]["name"] == "ArgumentError")
    detail = query(runner, app_id, token, f"samples/{failed['id']}.json").json()
    assert detail["exception"]["backtrace"] == ["app/controllers/blog_posts_controller.rb:6:in `show'"]
    assert detail["hostname"] == "app1.local" and detail["tags"] == {"user_id": 123}
    legacy = next(e for e in errors["log_entries"] if e["exception"]["name"] == "RuntimeError")
    detail = query(runner, app_id, token, f"samples/{legacy['id']}.json").json()
    assert detail["action"] == "HomeController#crash" and detail["exception"]["message"] == "boom"


def test_markers_auth_and_jsonp(runner: RunnerHandle, app: tuple[str, dict[str, str]]) -> None:
    app_id, credentials = app
    key, token = credentials["appsignal_push"], credentials["personal"]
    marker = zlib.compress(text("marker_0_11.json").encode(), 1)
    response = requests.post(
        f"{runner.url}/1/markers?api_key={key}&{GEM}0.11.18",
        data=marker,
        headers={"Content-Encoding": "gzip"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert (
        requests.post(f"{runner.url}/1/auth?api_key={key}", data=zlib.compress(b"{}", 1), timeout=10).status_code == 200
    )
    assert requests.post(f"{runner.url}/api/1/auth?api_key=nope", data=b"{}", timeout=10).status_code == 401
    listed = query(runner, app_id, token, "markers.json", kind="deploy").json()
    assert listed["count"] == 1 and listed["markers"][0]["revision"].startswith("fe0010153")

    jsonp = query(runner, app_id, token, "markers.json", callback="jQuery19104_1384360000")
    assert jsonp.status_code == 200 and jsonp.headers["Content-Type"].startswith("text/javascript")
    match = re.fullmatch(r"jQuery19104_1384360000\((.*)\);", jsonp.text, re.S)
    assert match and json.loads(match.group(1))["count"] == 1
    assert query(runner, app_id, token, "markers.json", callback="alert(1)").status_code == 400


def test_refusals_over_http(runner: RunnerHandle, app: tuple[str, dict[str, str]]) -> None:
    app_id, credentials = app
    bad_key = requests.post(f"{runner.url}/1/log_entries?api_key=nope", data=b"[]", timeout=10)
    assert bad_key.status_code == 401 and bad_key.json()["error"]
    malformed = requests.post(
        f"{runner.url}/1/log_entries?api_key={credentials['appsignal_push']}", data=b'[{"a":', timeout=10
    )
    assert malformed.status_code == 400 and malformed.json()["error"]
    assert query(runner, app_id, "wrong", "samples.json").status_code == 401
    # the demo project's personal token cannot see this project, and vice versa: 404, never data
    assert query(runner, app_id, runner.credentials["personal"], "samples.json").status_code == 404
    assert query(runner, runner.project_id, credentials["personal"], "samples.json").status_code == 404


def test_graphs_count_what_the_gem_pushed(runner: RunnerHandle) -> None:
    """graphs.json (issue 16): the digest's hourly buckets agree with the samples of the same push."""
    app_id, credentials = runner.new_project("AppSignal graphs over HTTP")
    key, token = credentials["appsignal_push"], credentials["personal"]
    body = zlib.compress(text("gem_0_11_18_batch.json").encode(), 1)
    response = requests.post(
        f"{runner.url}/1/log_entries?api_key={key}&{GEM}0.11.18",
        data=body,
        headers={"Content-Type": "application/json; charset=UTF-8", "Content-Encoding": "gzip", "User-Agent": "Ruby"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    samples = query(runner, app_id, token, "samples.json", limit=100).json()["log_entries"]
    assert len(samples) == 3
    whole = query(runner, app_id, token, "graphs.json", kind="web", timeframe="day").json()
    assert whole["resolution"] == "hourly" and len(whole["data"]) >= 24
    assert sum(p["count"] for p in whole["data"]) == len(samples)
    assert sum(p["ex_count"] for p in whole["data"]) == sum(s["is_exception"] for s in samples)
    action = samples[0]["action"]
    escaped = action.replace("#", "-hash-").replace("/", "-slash-").replace(".", "-dot-")
    mine = [s for s in samples if s["action"] == action]
    timed = [s["duration"] for s in mine if s["duration"] is not None]
    graph = query(
        runner, app_id, token, "graphs.json", action_name=escaped, timeframe="hour", **{"fields[]": ["count", "mean"]}
    ).json()
    (point,) = [p for p in graph["data"] if p["count"]]
    assert point["count"] == len(mine) and set(point) == {"timestamp", "count", "mean"}
    assert point["mean"] == pytest.approx(sum(timed) / len(timed))
    jsonp = query(runner, app_id, token, "graphs.json", kind="web", callback="draw")
    assert jsonp.text.startswith("draw(")
