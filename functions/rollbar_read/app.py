"""Rollbar read API: GET /api/1/item/?uuid=, /api/1/item/{id}, /api/1/items/, /api/1/instance/{id},
/api/1/status/ping. Envelope `{"err":0,"result":...}` / `{"err":1,"message":...}` as Rollbar's."""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from lodge import http
from lodge.protocols import rollbar, rollbar_views
from lodge.storage import Store

logger = Logger()
metrics = Metrics()

_ITEM = re.compile(r"^/api/1/item/([^/]+)/?$")
_INSTANCE = re.compile(r"^/api/1/instance/([^/]+)/?$")


def route(request: http.Request) -> dict[str, Any]:
    path = request.path
    if request.method != "GET":
        raise rollbar.fail(405, "method not allowed")
    if path.rstrip("/") == "/api/1/status/ping":
        return http.response(200, "pong", rollbar.CORS_HEADERS, content_type="text/plain; charset=utf-8")
    metrics.add_metric(name="ReadRequests", unit=MetricUnit.Count, value=1)
    store = Store()
    info = rollbar_views.authorize_read(request, store)
    project = info.project_id
    if path.rstrip("/") == "/api/1/item":
        return rollbar.ok(rollbar_views.item_by_uuid(store, project, request.query.get("uuid")))
    if path.rstrip("/") == "/api/1/items":
        return rollbar.ok(rollbar_views.list_items(store, project, request.raw_query))
    match = _ITEM.match(path)
    if match:
        item_id = request.path_params.get("item_id") or match.group(1)
        return rollbar.ok(rollbar_views.item_by_id(store, project, item_id))
    match = _INSTANCE.match(path)
    if match:
        instance_id = request.path_params.get("instance_id") or match.group(1)
        return rollbar.ok(rollbar_views.instance(store, project, instance_id))
    raise rollbar.fail(404, "not found")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return http.handle(event, route, on_error=rollbar.on_error, log=logger)
