"""Rollbar deploys: POST /api/1/deploy(/) answers `{"data":{"deploy_id":N}}`, PATCH /api/1/deploy/{id}
answers `{"err":0,"result":{...,"id":N}}` (the two shapes differ at Rollbar too; docs/protocols/rollbar.md)."""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from lodge import auth, http
from lodge.protocols.rollbar import answers, deploys
from lodge.protocols.rollbar.auth import authorize_deploy
from lodge.queries import markers
from lodge.storage import Store

logger = Logger()
metrics = Metrics()

_DEPLOY_ID = re.compile(r"^/api/1/deploy/([^/]+)$")


def route(request: http.Request) -> dict[str, Any]:
    store = Store()
    path = request.path.rstrip("/")
    if request.method == "POST" and path == "/api/1/deploy":
        fields = deploys.parse_fields(request)
        info = authorize_deploy(request, store, fields, auth.POST_SERVER_ITEM)
        marker = deploys.new_deploy(fields)
        with answers.storage("store the deploy"):
            deploy_id = markers.add_marker(store, info.project_id, marker).id
        metrics.add_metric(name="DeploysReported", unit=MetricUnit.Count, value=1)
        logger.info("deploy stored", extra={"project": info.project_id, "deploy_id": deploy_id})
        return http.response(200, {"data": {"deploy_id": deploy_id}}, answers.CORS_HEADERS)
    match = _DEPLOY_ID.match(path)
    if request.method == "PATCH" and match:
        fields = deploys.parse_fields(request)
        info = authorize_deploy(request, store, fields, auth.POST_SERVER_ITEM, auth.WRITE)
        deploy_id = deploys.parse_deploy_id(request.path_params.get("deploy_id") or match.group(1))
        with answers.storage("update the deploy"):
            current = store.marker(info.project_id, deploy_id)
            if current is None or current.kind != "deploy":
                raise answers.fail(404, "Deploy not found in this project.")
            updated = store.change_marker(info.project_id, deploy_id, deploys.changes(fields))
        if updated is None:
            raise answers.fail(404, "Deploy not found in this project.")
        metrics.add_metric(name="DeploysUpdated", unit=MetricUnit.Count, value=1)
        return answers.ok(deploys.deploy_object(info.project_id, updated))
    raise answers.fail(404, "not found")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return http.handle(event, route, on_error=answers.on_error, log=logger)
