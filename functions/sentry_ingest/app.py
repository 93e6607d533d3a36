"""POST /api/{project}/envelope/ and /api/{project}/store/: Sentry SDK ingestion, as Relay answers it.

200 `{"id": "<event id>"}` once everything kept is stored (a resent event id is a duplicate and gets
the same answer); otherwise Relay's `{"detail": ..., "causes": [...]}` with 400, 401, 403, 404, 413,
415 or 429 (lodge.protocols.sentry has the policy), 503 when storage failed.
"""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit

from lodge import coldstart, http
from lodge.protocols.sentry import answers, endpoint
from lodge.storage import Store

logger = Logger()
metrics = Metrics()


def route(request: http.Request) -> dict[str, Any]:
    store = Store()  # cheap: the botocore clients underneath are cached per process
    received_at = time.time()
    is_store = request.path.rstrip("/").endswith("/store")
    outcome = (endpoint.store_event if is_store else endpoint.envelope)(request, store, received_at)
    # Counted here only what never reaches the table's stream: items Lodge does not store (the digest
    # counts stored events) and a duplicate (a client's retry). An envelope of events writes no EMF line.
    for item_type, count in outcome.items.items():
        if item_type != "event":
            metrics.add_metric(name=f"SentryItems_{item_type}", unit=MetricUnit.Count, value=count)
    if outcome.duplicate:
        metrics.add_metric(name="OccurrencesDuplicate", unit=MetricUnit.Count, value=1)
    if metrics.metric_set:
        metrics.flush_metrics()
    # DEBUG: an INFO line per envelope would add to every event's bill (see rollbar_item).
    logger.debug("envelope accepted", extra={"items": dict(outcome.items), "duplicate": outcome.duplicate})
    return answers.ok(outcome.event_id)


def rejected(error: http.HttpError) -> dict[str, Any]:
    metrics.add_metric(name="SentryRejected", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()  # published at once: requests that count nothing write no EMF line
    return answers.on_error(error)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return http.handle(event, route, on_error=rejected, log=logger)


coldstart.init_done()  # last: what init built stays out of the collector's scans (lodge.coldstart)
