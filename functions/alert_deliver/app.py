"""Alert delivery: an SQS-triggered function (ReportBatchItemFailures) that sends queued alerts to
their destinations with storm control; failed records retry with backoff, then go to the DLQ."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger

from lodge import aws
from lodge.alerts import deliver
from lodge.storage import Store

logger = Logger()


def _context() -> deliver.Context:
    # LODGE_ALERT_HTTP_TIMEOUT: the local runner's knob (tests), over the template's setting.
    timeout = deliver._env_float(
        "LODGE_ALERT_HTTP_TIMEOUT", deliver._env_float("ALERT_HTTP_TIMEOUT", deliver.HTTP_TIMEOUT)
    )
    return deliver.Context(
        store=Store(),
        sqs=aws.sqs(),
        sns=aws.sns(),
        queue_url=os.environ.get("ALERT_QUEUE_URL") or None,
        topic_arn=os.environ.get("ALERT_TOPIC_ARN") or None,
        base_url=os.environ.get("LODGE_BASE_URL", ""),
        http_timeout=timeout,
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return deliver.handle_event(_context(), event, remaining)
