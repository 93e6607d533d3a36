"""POST /1/markers and /1/auth (also under /api/1/): AppSignal push deploy markers and key check.

Markers arrive as a `marker_data` form field (gem 0.1-0.2), raw JSON (0.3-0.5, >= 2.2) or a zlib
stream under `Content-Encoding: gzip` (0.6-2.1). Only 200 counts as success for the gem; 401 means
a bad push key, 400 a malformed marker.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from lodge import http
from lodge.config import settings
from lodge.protocols.appsignal import auth, wire
from lodge.protocols.appsignal.markers import parse_marker
from lodge.queries import markers
from lodge.storage import Store
from lodge.storage.errors import relabelled

logger = Logger()
metrics = Metrics()


def route(request: http.Request) -> dict[str, Any]:
    store = Store()  # cheap: the botocore clients underneath are cached per process
    action = request.path.rstrip("/").rsplit("/", 1)[-1]
    if action not in ("markers", "auth"):
        raise http.HttpError(404, "no such endpoint")
    # The key may be in the form body (0.1-0.2): only then is the body read before authenticating.
    body = None if request.query.get("api_key") else request.body(settings().max_body_bytes)
    api_key = request.query.get("api_key") or wire.form_fields(body or b"").get("api_key", "")
    info = auth.authenticate(store, api_key, rate_limited=False)
    if action == "auth":
        return http.response(200, {"status": "ok"})
    if body is None:
        body = request.body(settings().max_body_bytes)
    query = dict(request.query)
    form = wire.form_fields(body)
    if form.get("gem_version") and not query.get("gem_version"):
        query["gem_version"] = form["gem_version"]
    marker = parse_marker(body, query, time.time())
    with relabelled("could not store marker"):
        marker_id = markers.add_marker(store, info.project_id, marker).id
    metrics.add_metric(name="MarkersCreated", unit=MetricUnit.Count, value=1)
    logger.info("marker stored", extra={"project": info.project_id, "marker": marker_id})
    return http.response(200, {"status": "ok", "id": marker_id})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return http.handle(event, route, log=logger)
