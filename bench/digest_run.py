"""The digest's share of the bill, measured on the reference workloads (issue 16).

    PYTHONPATH=devtools:layers/lodge/python .venv/bin/python -m bench.digest_run [N]

Replays N single-event requests (the Rollbar and CrashLog workloads, fresh ids) through their
handlers into moto, then digests the stream in batches and measures, from the items written:
the record's write units, the listing bytes per event, the issue update's write units, and the
digest's CPU per event. The workloads hold few distinct errors, so the number of distinct issues
per batch is modelled: ISSUES active issues, events spread uniformly (the worst case for a batch:
a skewed mix has fewer distinct issues per batch). Printed for several batch sizes.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from bench import env
from bench.units import item_size, value_size, write_units
from bench.workload import FakeContext, load, load_handler

SINGLE_EVENT = ("rollbar_python_chained", "rollbar_node_error", "rollbar_message", "crashlog_ruby")
ISSUES = 200
BATCH_SIZES = (1, 10, 100, 300, 1000)
PRICE_WRU = 0.625 / 1e6


def distinct_issues(batch: int, issues: int = ISSUES) -> float:
    """Expected distinct issues among `batch` events spread uniformly over `issues`."""
    return issues * (1 - (1 - 1 / issues) ** batch)


def hour_item_model(ddb: Any, actions: int) -> dict[str, float]:
    """The hourly bucket item as measured (bytes per series, from the items the run wrote) and as
    modelled for ISSUES active issues in one hour (its size when the hour is full: the worst case)."""
    items = ddb.scan(
        TableName=env.TABLE_NAME, FilterExpression="begins_with(sk, :h)", ExpressionAttributeValues={":h": {"S": "HR#"}}
    )["Items"]
    if not items:
        return {"series_bytes": 0.0, "item_bytes": 0.0, "fixed_bytes": 0.0}
    item = max(items, key=item_size)
    fixed = sum(len(k) + value_size(v) for k, v in item.items() if k in ("pk", "sk", "ttl") or k.startswith("q"))
    series = len(item.get("ix", {}).get("SS", [])) + 1
    per_series = (item_size(item) - fixed) / series
    return {
        "series_bytes": per_series,
        "fixed_bytes": fixed,
        "item_bytes": fixed + per_series * (ISSUES + 2 * actions + 1),
    }


def hour_write_units(hours: dict[str, float], batch: int, actions: int = len(SINGLE_EVENT)) -> float:
    """Write units of one batch's hour update, worst case (the hour item already full):
    ceil(series / CHUNK) UpdateItems, each paying for the whole item."""
    from lodge.storage.buckets import CHUNK

    series = distinct_issues(batch) + min(batch, 2 * actions) + 1
    return -(-series // CHUNK) * write_units(int(hours["item_bytes"]))


def run(n: int) -> dict[str, Any]:
    from moto import mock_aws

    with mock_aws():
        from lodge import auth, aws, config
        from lodge.storage import Store
        from lodge_devtools import emulation
        from lodge_devtools.streams import StreamPoller, in_process_invoke

        aws.reset()
        config.settings.cache_clear()
        auth.clear_cache()
        emulation.provision(aws.dynamodb(), aws.s3(), env.TABLE_NAME, env.BUCKET_NAME)
        store = Store()
        _, credentials = auth.create_project(store, "bench")
        record_wru: list[int] = []
        listing_bytes: list[int] = []
        update_keys: list[dict[str, Any]] = []

        def on_put(params: dict[str, Any], **_: Any) -> None:
            sk = params["Item"]["sk"]["S"]
            if sk.startswith("REC#"):
                record_wru.append(write_units(item_size(params["Item"])))
            elif sk.startswith("LST#"):
                listing_bytes.append(item_size(params["Item"]))

        def on_update(params: dict[str, Any], **_: Any) -> None:
            if params["Key"]["sk"]["S"].startswith("GRP#"):
                update_keys.append(params["Key"])

        events = aws.dynamodb().meta.events
        events.register("before-parameter-build.dynamodb.PutItem", on_put)
        events.register("before-parameter-build.dynamodb.UpdateItem", on_update)
        workloads = [load(name) for name in SINGLE_EVENT]
        handlers = {w.function: load_handler(w.function) for w in workloads}
        for i in range(n):
            workload = workloads[i % len(workloads)]
            response = handlers[workload.function].lambda_handler(workload.request(credentials).event(), FakeContext())
            assert response["statusCode"] == 200, response
        poller = StreamPoller(aws.dynamodb(), env.TABLE_NAME, in_process_invoke())
        cpu = time.process_time()
        wall = time.perf_counter()
        poller.drain()
        cpu = time.process_time() - cpu
        wall = time.perf_counter() - wall
        issue_wru = [
            write_units(item_size(aws.dynamodb().get_item(TableName=env.TABLE_NAME, Key=k)["Item"]))
            for k in update_keys[-20:]
        ]
        last = aws.dynamodb().get_item(TableName=env.TABLE_NAME, Key=update_keys[-1])["Item"] if update_keys else {}
        mark_bytes = sum(len(k) + value_size(v) for k, v in last.items() if k.startswith("q"))
        events_digested = sum(r["occurrences"] for r in poller.results)
        listing_per_event = sum(listing_bytes) / max(1, events_digested)
        record = sum(record_wru) / len(record_wru)
        issue = max(issue_wru) if issue_wru else 1
        hours = hour_item_model(aws.dynamodb(), len(SINGLE_EVENT))
        rows = []
        for batch in BATCH_SIZES:
            listing = -(-listing_per_event * batch // 1024) / batch
            updates = distinct_issues(batch) * issue / batch
            hour_wru = hour_write_units(hours, batch) / batch
            rows.append(
                {
                    "batch": batch,
                    "record": record,
                    "listing": listing,
                    "issues": updates,
                    "hours": hour_wru,
                    "total": record + listing + updates + hour_wru,
                }
            )
        return {
            "events": n,
            "record_wru": record,
            "listing_bytes_per_event": listing_per_event,
            "issue_update_wru": issue,
            "issue_item_bytes": item_size(last),
            "issue_mark_bytes": mark_bytes,
            "hour_series_bytes": hours["series_bytes"],
            "hour_item_bytes_modelled": hours["item_bytes"],
            "digest_cpu_ms_per_event": 1000 * cpu / max(1, events_digested),
            "digest_wall_ms_per_event_moto": 1000 * wall / max(1, events_digested),
            "rows": rows,
        }


def report(figures: dict[str, Any]) -> str:
    lines = [
        f"Digest (issue 16), {figures['events']} real single-event requests "
        f"({', '.join(SINGLE_EVENT)}), {ISSUES} issues modelled uniformly:",
        f"  record put {figures['record_wru']:.2f} WRU/event; "
        f"listing {figures['listing_bytes_per_event']:.0f} B/event; "
        f"issue update {figures['issue_update_wru']} WRU "
        f"(item {figures['issue_item_bytes']} B, of which stream marks {figures['issue_mark_bytes']} B);\n"
        f"  digest CPU {figures['digest_cpu_ms_per_event']:.2f} ms/event "
        f"(moto wall {figures['digest_wall_ms_per_event_moto']:.2f} ms/event)",
        f"  hourly buckets: {figures['hour_series_bytes']:.0f} B per series, an hour item of {ISSUES} issues "
        f"~{figures['hour_item_bytes_modelled']:.0f} B (one UpdateItem per 50 series per batch)",
        "  batch  record  listing  issues  hours   WRU/event   $/M writes   (target <= 1.3 WRU/event)",
    ]
    for row in figures["rows"]:
        lines.append(
            f"  {row['batch']:>5}  {row['record']:.2f}    {row['listing']:.3f}    {row['issues']:.3f}   "
            f"{row['hours']:.3f}   "
            f"{row['total']:.2f}        ${row['total'] * PRICE_WRU * 1e6:.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    import os

    n = int(argv[0]) if argv else 400
    for function in {"rollbar_item", "crashlog_events"}:
        os.environ.update(env.function_environment(function))
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - moto's dummy credentials
        AWS_DEFAULT_REGION="us-east-1",
        TABLE_NAME=env.TABLE_NAME,
        BUCKET_NAME=env.BUCKET_NAME,
        POWERTOOLS_METRICS_NAMESPACE="LodgeBench",
    )
    print(report(run(n)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
