"""POST /events: CrashLog HMAC-signed exception reports (Ruby gem, Node winston-crashlog, log4j appender).

Answers 200 `{"location_id": "<uuid>"}` once the event is stored and counted; the Ruby client gives
up after 2 s, so the write path is one record put plus one group update. Every error body is JSON,
because the Ruby client decodes the body before it looks at the status. 401 for any auth failure
(uniform, no hint), 400 malformed payload, 413 oversized body, 503 storage failure.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from lodge import coldstart, flood, http
from lodge.config import settings
from lodge.ingest import ingest
from lodge.protocols.crashlog import locate, mapping
from lodge.protocols.crashlog.payload import signed_payload
from lodge.storage import Store

logger = Logger()
metrics = Metrics()


def route(request: http.Request) -> dict[str, Any]:
    store = Store()  # cheap: the botocore clients underneath are cached per process
    received_at = round(time.time(), 3)
    info, payload = signed_payload(store, request, settings().max_body_bytes)
    location_id = locate.new_location_id()
    occurrence = mapping.to_occurrence(info.project_id, payload, location_id, received_at)
    result = ingest(store, info.project_id, [occurrence], received_at, flood.GATE)
    # No metric or INFO line per stored event: each would add to every event's bill (bench/), and
    # the digest counts what is stored. LOG_LEVEL=DEBUG brings the line back.
    logger.debug(
        "event stored",
        extra={"project": info.project_id, "occurrence": result.refs[0], "group": result.group_ids[0]},
    )
    return http.response(200, {"location_id": location_id})


def rejected(error: http.HttpError) -> dict[str, Any]:
    """Count refusals (401s show up as a metric, not as logged credentials), then answer in JSON."""
    metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()  # published at once: requests that count nothing write no EMF line
    return http.error_response(error)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return http.handle(event, route, on_error=rejected, log=logger)


coldstart.init_done()  # last: what init built stays out of the collector's scans (lodge.coldstart)
