"""POST /api/1/item/ (and /api/1/item): Rollbar item ingestion, as pyrollbar, rollbar.js & co. speak it.

Answers exactly as Rollbar: 200 `{"err":0,"result":{"id":null,"uuid":...}}` once stored (a resent
uuid is a duplicate and gets the same answer), otherwise `{"err":1,"message":...}` with 400, 403,
413, 422 or 429 (lodge.protocols.rollbar.auth has the policy), 503 when storage failed.
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
from lodge.protocols.rollbar import answers, item
from lodge.storage import Store

logger = Logger()
metrics = Metrics()


def route(request: http.Request) -> dict[str, Any]:
    answers.require_path(request, "/api/1/item")
    store = Store()  # cheap: the botocore clients underneath are cached per process
    received_at = time.time()
    occurrence, headers = item.parse_item(request, store, settings().max_body_bytes, received_at)
    result = ingest(store, occurrence.project_id, [occurrence], received_at, flood.GATE)
    if result.duplicate:
        metrics.add_metric(name="OccurrencesDuplicate", unit=MetricUnit.Count, value=1)
        metrics.flush_metrics()
    # No metric or INFO line per stored item: each would add to every event's bill (bench/), and the
    # digest counts what is stored. A duplicate (a client's retry) never reaches the table's stream,
    # so it is the rare case only this handler can count. LOG_LEVEL=DEBUG brings the line back.
    logger.debug(
        "item stored",
        extra={"project": occurrence.project_id, "duplicate": result.duplicate, "group": result.group_ids[0]},
    )
    return answers.ok(answers.item_result(occurrence.client_id), headers)


def rejected(error: http.HttpError) -> dict[str, Any]:
    metrics.add_metric(name="ItemsRejected", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()  # published at once: requests that count nothing write no EMF line
    return answers.on_error(error)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return http.handle(event, route, on_error=rejected, log=logger)


coldstart.init_done()  # last: what init built stays out of the collector's scans (lodge.coldstart)
