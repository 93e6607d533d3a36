"""POST /1/log_entries (and /api/1/..., /v1/log_entries.json): AppSignal gem 0.x transaction batches.

Status codes are the ones the gem acts on (docs/protocols/appsignal.md): 200 only when every entry is stored
(a resent batch is a duplicate and also gets 200), 401 bad key, 400 malformed batch (dropped by the
gem, never retried), 413 oversized body, 420 over the key's rate limit (the gem slows down), 503
when storage failed (the gem keeps the batch and retries). Error bodies are JSON.
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
from lodge.protocols.appsignal import auth, push, wire
from lodge.storage import Store

logger = Logger()
metrics = Metrics()


def route(request: http.Request) -> dict[str, Any]:
    store = Store()  # cheap: the botocore clients underneath are cached per process
    received_at = round(time.time(), 3)
    query = request.query
    info = auth.authenticate(store, query["api_key"]) if query.get("api_key") else None
    body = request.body(settings().max_body_bytes)
    if info is None:
        form = wire.form_fields(body)  # gem 0.1-0.2 send the key in the form body
        info = auth.authenticate(store, form.get("api_key", ""))
        if form.get("gem_version") and not query.get("gem_version"):
            query = {**query, "gem_version": form["gem_version"]}
    occurrences = push.parse_batch(body, project_id=info.project_id, query=query, received_at=received_at)
    stored = duplicates = 0
    for chunk in push.chunks(occurrences):
        result = ingest(store, info.project_id, chunk, received_at, flood.GATE)
        if result.duplicate:
            duplicates += len(chunk)
        else:
            stored += len(chunk)
    if duplicates:
        # A resent batch never reaches the table's stream: the rare case only this handler can count.
        metrics.add_metric(name="OccurrencesDuplicate", unit=MetricUnit.Count, value=duplicates)
        metrics.flush_metrics()
    # No metric or INFO line per stored batch: each would add to every batch's bill (bench/), and
    # the digest counts what is stored. LOG_LEVEL=DEBUG brings the line back.
    logger.debug(
        "batch stored", extra={"project": info.project_id, "entries": len(occurrences), "duplicates": duplicates}
    )
    return http.response(200, {"status": "ok", "accepted": stored, "duplicates": duplicates})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return http.handle(event, route, log=logger)


coldstart.init_done()  # last: what init built stays out of the collector's scans (lodge.coldstart)
