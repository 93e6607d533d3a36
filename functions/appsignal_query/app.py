"""AppSignal query API: /api/{app_id}/samples*.json, samples/{id}.json, markers.json (GET, POST),
markers/{id}.json (GET, PUT, DELETE) and graphs.json (GET).

Auth is the `token` query parameter (a personal token: `read` scope, and `write` to create
markers). A wrong or missing token is 401; an `app_id` other than the token's project is 404, and
nothing of that project is read. GET endpoints answer JSONP when `callback` is given.
Routing is by path (six routes; the Powertools resolver would add ~40 ms of cold start).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from lodge import auth, http
from lodge.protocols.appsignal import graphs, query
from lodge.protocols.appsignal import markers as marker_views
from lodge.queries import markers, occurrences
from lodge.storage import Store
from lodge.storage.errors import relabelled

logger = Logger()
metrics = Metrics()

_PATH = re.compile(
    r"^/api/(?P<app_id>[^/]+)/(?P<rest>samples\.json|samples/[^/]+|markers\.json|markers/[^/]+|graphs\.json)$"
)
_LISTS: dict[str, query.SampleKind] = {
    "samples.json": "all",
    "samples/errors.json": "errors",
    "samples/performance.json": "performance",
}


def _authorize(store: Store, request: http.Request, app_id: str, scope: str) -> str:
    info = query.read("the token", lambda: auth.lookup(store, request.query.get("token")))
    if info is None or not info.allows(scope):
        raise http.HttpError(401, "invalid or missing token")
    if info.project_id != app_id:
        raise http.HttpError(404, "no such app")
    return info.project_id


def _answer(body: Any, callback: str | None, status: int = 200) -> dict[str, Any]:
    if callback is None:
        return http.response(status, body)
    wrapped = http.response(status, body)["body"]
    headers = {"X-Content-Type-Options": "nosniff", "Content-Disposition": "attachment; filename=f.txt"}
    return http.response(status, f"{callback}({wrapped});", headers, query.JAVASCRIPT_CONTENT_TYPE)


def route(request: http.Request) -> dict[str, Any]:
    match = _PATH.match(request.path)
    if match is None:
        raise http.HttpError(404, "no such endpoint")
    app_id, rest = match["app_id"], match["rest"]
    store = Store()
    if rest.startswith("markers/"):
        return _marker_by_id(store, request, app_id, rest)
    if request.method == "POST":
        if rest != "markers.json":
            raise http.HttpError(405, "method not allowed")
        project_id = _authorize(store, request, app_id, auth.WRITE)
        marker = marker_views.marker_from_api(http.loads(request.body(64 * 1024)))
        with relabelled("could not store marker"):
            marker = markers.add_marker(store, project_id, marker)
        metrics.add_metric(name="MarkersCreated", unit=MetricUnit.Count, value=1)
        return http.response(200, marker_views.marker_view(marker))
    if request.method != "GET":
        raise http.HttpError(405, "method not allowed")
    callback = query.callback_name(request.query)
    project_id = _authorize(store, request, app_id, auth.READ)
    if rest in _LISTS:
        return _answer(query.list_samples(store, project_id, _LISTS[rest], request.query), callback)
    if rest == "markers.json":
        return _answer(marker_views.list_markers(store, project_id, request.query), callback)
    if rest == "graphs.json":  # issue 16: from the digest's hourly buckets
        fields = [v for k, v in parse_qsl(request.raw_query, keep_blank_values=True) if k in ("fields[]", "fields")]
        return _answer(graphs.graph(store, project_id, request.query, fields), callback)
    ref = query.sample_ref(rest.split("/", 1)[1])
    detail = query.read("the sample", lambda: occurrences.occurrence(store, project_id, ref))
    if detail is None:
        raise http.HttpError(404, "no such sample")
    issue_id = detail.get("group_id")
    issue = query.read("the sample's issue", lambda: store.issue(project_id, issue_id)) if issue_id else None
    return _answer(query.sample_detail(ref, detail, issue), callback)


def _marker_by_id(store: Store, request: http.Request, app_id: str, rest: str) -> dict[str, Any]:
    """`GET/PUT/DELETE /api/{app}/markers/{id}.json`: read needs `read`, changes need `write`."""
    if request.method not in ("GET", "PUT", "DELETE"):
        raise http.HttpError(405, "method not allowed")
    project_id = _authorize(store, request, app_id, auth.READ if request.method == "GET" else auth.WRITE)
    marker_id = marker_views.marker_id(rest.split("/", 1)[1])
    if request.method == "GET":
        callback = query.callback_name(request.query)
        found = query.read("the marker", lambda: store.marker(project_id, marker_id))
        if found is None:
            raise http.HttpError(404, "no such marker")
        return _answer(marker_views.marker_view(found), callback)
    if request.method == "DELETE":
        with relabelled("could not delete the marker"):
            deleted = store.delete_marker(project_id, marker_id)
        if deleted is None:
            raise http.HttpError(404, "no such marker")
        metrics.add_metric(name="MarkersDeleted", unit=MetricUnit.Count, value=1)
        return http.response(200, marker_views.marker_view(deleted))
    changes = marker_views.marker_changes_from_api(http.loads(request.body(64 * 1024)))
    with relabelled("could not update the marker"):
        updated = store.replace_marker(project_id, marker_id, changes)
    if updated is None:
        raise http.HttpError(404, "no such marker")
    return http.response(200, marker_views.marker_view(updated))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return http.handle(event, route, log=logger)
