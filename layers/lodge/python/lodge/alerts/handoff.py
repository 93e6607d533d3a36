"""The durable hand-off: alerts go onto the alert SQS queue, in SendMessageBatch calls of ten.

SQS over EventBridge: the delivery function needs per-message retries with our own backoff
(ChangeMessageVisibility), a dead-letter queue that the CLI lists and redrives, and batching;
EventBridge would add a bus and a rule for one consumer and cap retries at its own policy.
The hand-off never raises: a lost alert is logged, an ingest is never failed by it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from typing import Any

from lodge.alerts.model import Alert

log = logging.getLogger(__name__)
QUEUE_ENV = "ALERT_QUEUE_URL"
BATCH = 10


def queue_url() -> str | None:
    return os.environ.get(QUEUE_ENV) or None


def send_messages(client: Any, url: str, bodies: Sequence[dict[str, Any]], delay: int = 0) -> int:
    """Send JSON bodies in batches; returns how many SQS accepted. Raises on a failed call."""
    accepted = 0
    for start in range(0, len(bodies), BATCH):
        entries = [
            {"Id": str(i), "MessageBody": json.dumps(body, separators=(",", ":")), "DelaySeconds": delay}
            for i, body in enumerate(bodies[start : start + BATCH])
        ]
        response = client.send_message_batch(QueueUrl=url, Entries=entries)
        accepted += len(response.get("Successful", []))
        for failed in response.get("Failed", []):
            log.error("alert queue refused a message: %s", failed.get("Code"))
    return accepted


def hand_off(alerts: Sequence[Alert], client: Any = None) -> int:
    """Queue alerts for delivery; never raises (ingest must not fail or retry because of alerts)."""
    url = queue_url()
    if not alerts or not url:
        return 0
    try:
        if client is None:
            from lodge import aws

            client = aws.sqs()
        return send_messages(client, url, [alert.to_message() for alert in alerts])
    except Exception:
        log.exception("could not queue %d alert(s); ids %s", len(alerts), [a.id for a in alerts])
        return 0
