"""GET /locate/{location_id}: 404 until the event is stored, then 301 to its sample detail.

A location id does not name its project, so the caller proves which project it may look in: a
CrashLog-signed GET (api key + secret), or `?token=` with a read-capable token (personal or
rollbar_read). The redirect target never carries a credential (a Location header ends up in
browser histories, proxies and access logs): the client re-sends its own credential to it, as the
AppSignal query API asks (`?token=`). Another project's location ids are simply not found.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from lodge import http
from lodge.protocols.crashlog import locate
from lodge.storage import Store
from lodge.storage.errors import relabelled

logger = Logger()
metrics = Metrics()


def route(request: http.Request) -> dict[str, Any]:
    store = Store()  # cheap: the botocore clients underneath are cached per process
    project_id = locate.locate_project(store, request)
    location_id = request.path_params.get("location_id") or request.path.rstrip("/").rsplit("/", 1)[-1]
    location_id = location_id.lower()
    if not locate.is_location_id(location_id):
        raise http.HttpError(404, "no such location")
    with relabelled("could not look up the location"):
        stored = locate.location_stored(store, project_id, location_id)
    if not stored:
        raise http.HttpError(404, "no such location (yet)")
    metrics.add_metric(name="LocationsFound", unit=MetricUnit.Count, value=1)
    target = locate.sample_path(project_id, location_id)
    return http.response(301, {"location": target}, headers={"Location": target})


def rejected(error: http.HttpError) -> dict[str, Any]:
    """Count refusals (401s show up as a metric, not as logged credentials), then answer in JSON."""
    metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
    return http.error_response(error)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return http.handle(event, route, on_error=rejected, log=logger)
