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

from lodge import http
from lodge.protocols.sentry import answers, endpoint
from lodge.storage import Store

logger = Logger()
metrics = Metrics()


def route(request: http.Request) -> dict[str, Any]:
    store = Store()  # cheap: the botocore clients underneath are cached per process
    received_at = time.time()
    is_store = request.path.rstrip("/").endswith("/store")
    outcome = (endpoint.store_event if is_store else endpoint.envelope)(request, store, received_at)
    for item_type, count in outcome.items.items():
        metrics.add_metric(name=f"SentryItems_{item_type}", unit=MetricUnit.Count, value=count)
    if outcome.stored:
        metrics.add_metric(name="OccurrencesAccepted", unit=MetricUnit.Count, value=outcome.stored)
    if outcome.duplicate:
        metrics.add_metric(name="OccurrencesDuplicate", unit=MetricUnit.Count, value=1)
    # DEBUG: the metrics above count every request (see rollbar_item for the cost reasoning).
    logger.debug("envelope accepted", extra={"items": dict(outcome.items), "duplicate": outcome.duplicate})
    return answers.ok(outcome.event_id)


def rejected(error: http.HttpError) -> dict[str, Any]:
    metrics.add_metric(name="SentryRejected", unit=MetricUnit.Count, value=1)
    return answers.on_error(error)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return http.handle(event, route, on_error=rejected, log=logger)
