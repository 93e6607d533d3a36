"""Rollbar read API: GET /api/1/item/?uuid=, /api/1/item/{id}, /api/1/items/, /api/1/instance/{id},
/api/1/item/{id}/instances/, /api/1/item_by_counter/{n}, /api/1/deploys/, /api/1/deploy/{id},
/api/1/status/ping; and triage: PATCH /api/1/item/{id} (write scope).
Envelope `{"err":0,"result":...}` / `{"err":1,"message":...}` as Rollbar's."""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from lodge import http
from lodge.protocols.rollbar import answers, deploys, read_api
from lodge.protocols.rollbar.auth import authorize_read
from lodge.storage import Store

logger = Logger()
metrics = Metrics()

_ITEM = re.compile(r"^/api/1/item/([^/]+)/?$")
_INSTANCE = re.compile(r"^/api/1/instance/([^/]+)/?$")
_INSTANCES = re.compile(r"^/api/1/item/([^/]+)/instances/?$")
_BY_COUNTER = re.compile(r"^/api/1/item_by_counter/([^/]+)/?$")
_DEPLOY = re.compile(r"^/api/1/deploy/([^/]+)/?$")


def route(request: http.Request) -> dict[str, Any]:
    path = request.path
    if request.method == "PATCH":
        match = _ITEM.match(path)
        if not match:
            raise answers.fail(405, "method not allowed")
        from lodge.protocols.rollbar import triage

        metrics.add_metric(name="TriageRequests", unit=MetricUnit.Count, value=1)
        store = Store()
        item_id = request.path_params.get("item_id") or match.group(1)
        return answers.ok(triage.patch_item(request, store, item_id))
    if request.method != "GET":
        raise answers.fail(405, "method not allowed")
    if path.rstrip("/") == "/api/1/status/ping":
        return http.response(200, "pong", answers.CORS_HEADERS, content_type="text/plain; charset=utf-8")
    metrics.add_metric(name="ReadRequests", unit=MetricUnit.Count, value=1)
    store = Store()
    info = authorize_read(request, store)
    project = info.project_id
    if path.rstrip("/") == "/api/1/item":
        return answers.ok(read_api.item_by_uuid(store, project, request.query.get("uuid")))
    if path.rstrip("/") == "/api/1/items":
        return answers.ok(read_api.list_items(store, project, request.raw_query))
    if path.rstrip("/") == "/api/1/deploys":
        page = read_api.page_number(request.query.get("page"))
        return answers.ok(deploys.list_deploys(store, project, page))
    match = _INSTANCES.match(path)
    if match:
        return answers.ok(read_api.instances_of_item(store, project, match.group(1), request.raw_query))
    match = _BY_COUNTER.match(path)
    if match:
        location, result = read_api.item_by_counter(store, project, match.group(1))
        return answers.ok(result, {"Location": location}, status=301)
    match = _DEPLOY.match(path)
    if match:
        deploy_id = request.path_params.get("deploy_id") or match.group(1)
        return answers.ok(deploys.get_deploy(store, project, deploy_id))
    match = _ITEM.match(path)
    if match:
        item_id = request.path_params.get("item_id") or match.group(1)
        return answers.ok(read_api.item_by_id(store, project, item_id))
    match = _INSTANCE.match(path)
    if match:
        instance_id = request.path_params.get("instance_id") or match.group(1)
        return answers.ok(read_api.instance(store, project, instance_id))
    raise answers.fail(404, "not found")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return http.handle(event, route, on_error=answers.on_error, log=logger)
