"""The digest, on the table's stream (event source mapping: new records only, batched, retried,
bisected on error, failed batches to the dead-letter queue): counts, listings, retention.

A raised error fails the whole batch; Lambda bisects it and retries, and the digest's marks make
the retry count nothing twice (lodge.digest), nor hand off an alert twice.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from lodge.digest import DigestResult, digest, new_records
from lodge.storage import Store

logger = Logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    store = Store()
    result: DigestResult = digest(store, new_records(event))
    logger.debug("digested", extra={"records": result.records, "issues": len(result.counts), "alerts": result.alerts})
    return {
        "records": result.records,
        "occurrences": result.occurrences,
        "issues": len(result.counts),
        "new_issue_ids": [c.count.issue_id for c in result.new_issues],
        "listing_items": result.listing_items,
        "alerts": result.alerts,
    }
