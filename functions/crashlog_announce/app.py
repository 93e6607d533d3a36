"""POST /announce: a CrashLog client reporting for duty at boot.

The Ruby client requires exactly 201 and reads `application_name` from the JSON body; Lodge answers
with the project's name and keeps the announce (host, stage, notifier, time) as a marker.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from lodge import http
from lodge.config import settings
from lodge.protocols.crashlog.announce import announce_marker
from lodge.protocols.crashlog.payload import signed_payload
from lodge.queries import markers
from lodge.storage import Store
from lodge.storage.errors import relabelled

logger = Logger()
metrics = Metrics()


def route(request: http.Request) -> dict[str, Any]:
    store = Store()  # cheap: the botocore clients underneath are cached per process
    received_at = round(time.time(), 3)
    info, payload = signed_payload(store, request, settings().max_body_bytes)
    marker = announce_marker(payload, received_at)
    with relabelled("could not store announce"):
        project = store.project(info.project_id)
        marker_id = markers.add_marker(store, info.project_id, marker).id
    metrics.add_metric(name="Announces", unit=MetricUnit.Count, value=1)
    logger.info("announce stored", extra={"project": info.project_id, "marker": marker_id})
    name = (project.name if project else "") or "Default"
    return http.response(201, {"application_name": name})


def rejected(error: http.HttpError) -> dict[str, Any]:
    """Count refusals (401s show up as a metric, not as logged credentials), then answer in JSON."""
    metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
    return http.error_response(error)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return http.handle(event, route, on_error=rejected, log=logger)
