"""functions/appsignal_query `graphs.json`: hourly points from the digest's buckets, checked
against the samples the same captured gem batches produced."""

from __future__ import annotations

from typing import Any

from lodge.protocols.appsignal.query import iso
from tests.conftest import Project
from tests.helpers import json_body
from tests.unit.functions.test_appsignal_query import T0, data, get

__all__ = ["data"]  # the fixture: 3 gem entries (1 failed), a Rollbar exception, 5 fast requests
HOUR = T0 // 3600 * 3600
WINDOW = f"from={iso(HOUR - 3600)}&to={iso(HOUR + 1800)}"


def _escaped(action: str) -> str:
    return action.replace("#", "-hash-").replace("/", "-slash-").replace(".", "-dot-")


def _samples(project: Project) -> list[dict[str, Any]]:
    return json_body(get(project, "samples.json", "limit=100"))["log_entries"]


def test_an_action_graph_counts_and_averages_what_its_samples_show(project: Project, data: dict[str, Any]) -> None:
    samples = [s for s in _samples(project) if s["action"]]
    action = max({s["action"] for s in samples}, key=lambda a: sum(s["action"] == a for s in samples))
    mine = [s for s in samples if s["action"] == action]
    timed = [s["duration"] for s in mine if s["duration"] is not None]
    query = f"action_name={_escaped(action)}&{WINDOW}&fields[]=count&fields[]=mean&fields[]=ex_count&fields[]=ex_rate"
    body = json_body(get(project, "graphs.json", query))
    assert body["resolution"] == "hourly"
    assert body["from"] == iso(HOUR - 3600).replace("+00:00", "Z") and body["to"] == iso(HOUR + 3600).replace(
        "+00:00", "Z"
    )
    before, this_hour = body["data"]
    assert before == {"timestamp": HOUR - 3600, "count": 0, "mean": None, "ex_count": 0, "ex_rate": 0.0}
    assert this_hour["timestamp"] == HOUR and this_hour["count"] == len(mine)
    assert this_hour["ex_count"] == sum(s["is_exception"] for s in mine)
    assert this_hour["mean"] == sum(timed) / len(timed)
    assert this_hour["ex_rate"] == 100.0 * this_hour["ex_count"] / len(mine)


def test_kind_graphs_the_whole_project_and_an_exception_pair_its_own(project: Project, data: dict[str, Any]) -> None:
    samples = _samples(project)
    assert len(samples) == 9 and any(s["is_exception"] for s in samples)
    body = json_body(get(project, "graphs.json", f"kind=web&{WINDOW}&fields[]=count&fields[]=ex_count"))
    assert body["data"][-1] == {
        "timestamp": HOUR,
        "count": len(samples),
        "ex_count": sum(s["is_exception"] for s in samples),
    }
    failed = next(s for s in samples if s["is_exception"] and s["action"])
    pair = f"{_escaped(failed['action'])}:|:{failed['exception']['name']}"
    point = json_body(get(project, "graphs.json", f"action_name={pair}&{WINDOW}&fields[]=count"))["data"][-1]
    same = [
        s for s in samples if s["action"] == failed["action"] and s["exception"]["name"] == failed["exception"]["name"]
    ]
    assert point == {"timestamp": HOUR, "count": len(same)}


def test_timeframe_defaults_fields_and_jsonp(project: Project, data: dict[str, Any]) -> None:
    body = json_body(get(project, "graphs.json", "kind=web&timeframe=day"))
    assert len(body["data"]) in (24, 25)
    assert set(body["data"][0]) == {"timestamp", "mean", "count", "ex_count", "ex_rate"}
    wrapped = get(project, "graphs.json", f"kind=web&{WINDOW}&callback=draw")
    assert wrapped["body"].startswith("draw(") and wrapped["body"].endswith(");")


def test_bad_parameters_are_400_and_a_wrong_token_401(project: Project) -> None:
    for query in (
        WINDOW,  # neither action_name nor kind
        "kind=web&timeframe=week",
        "kind=web&timeframe=day&from=2023-01-01T00:00:00Z",
        "kind=web&from=2023-02-01T00:00:00Z&to=2023-01-01T00:00:00Z",
        "kind=web&from=2023-01-01T00:00:00Z&to=2023-03-01T00:00:00Z",  # past the 31-day cap
        f"kind=web&{WINDOW}&fields[]=p99",
        "kind=web&from=yesterday",
    ):
        response = get(project, "graphs.json", query)
        assert response["statusCode"] == 400, query
        assert "error" in json_body(response) or json_body(response)
    assert get(project, "graphs.json", "kind=web", token="wrong")["statusCode"] == 401
    assert get("other-app", "graphs.json", "kind=web", token=project.credentials["personal"])["statusCode"] == 404
