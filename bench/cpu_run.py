"""Worker (a fresh process per function): CPU and memory of the warm handler, AWS answered by
bench.stub. Writes JSON to the file named on the command line.

CPU is time.process_time() (all threads) over a batch of pre-built requests, median of REPEATS
batches, next to a plain json.loads of the same (decoded) body measured the same way; wall time per
request too (median, and the least disturbed batch's, which the cost model uses). Peak RSS is
ru_maxrss of this process after it imported the handler and ran every request.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from typing import Any

from bench.workload import FakeContext, Workload, load, load_handler, under_flood_limit, worker_main

REPEATS = 5
WARMUP = 10
TARGET_BATCH_SECONDS = 0.25


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _time_batch(fn: Any, items: list[Any]) -> tuple[float, float]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for item in items:
        fn(item)
    return (time.process_time() - cpu0) / len(items), (time.perf_counter() - wall0) / len(items)


def measure(handler: Any, workload: Workload, credentials: dict[str, str]) -> dict[str, Any]:
    context = FakeContext()
    statuses: set[int] = set()

    def call(event: dict[str, Any]) -> None:
        statuses.add(int(handler.lambda_handler(event, context).get("statusCode", 0)))

    under_flood_limit()
    for _ in range(WARMUP):
        call(workload.request(credentials).event())
    probe = [workload.request(credentials).event() for _ in range(10)]
    per_call = _time_batch(call, probe)[1]
    batch = max(20, min(400, int(TARGET_BATCH_SECONDS / max(per_call, 1e-6))))
    cpu, wall = [], []
    for _ in range(REPEATS):
        events = [workload.request(credentials).event() for _ in range(batch)]
        under_flood_limit()  # at most 400 a batch: under the default 600 a minute
        c, w = _time_batch(call, events)
        cpu.append(c)
        wall.append(w)
    text = workload.decoded_body().decode("utf-8")
    try:
        json.loads(text)
        loads = [_time_batch(json.loads, [text] * 2000)[0] for _ in range(REPEATS)]
    except ValueError:
        # A Sentry envelope is JSON lines (headers, JSON payloads): a plain parse reads each line.
        lines = [line for line in text.splitlines() if line.strip()]
        loads = [_time_batch(lambda _: [json.loads(line) for line in lines], [None] * 2000)[0] for _ in range(REPEATS)]
    handler_cpu = statistics.median(cpu)
    floor = statistics.median(loads)
    return {
        "statuses": sorted(statuses),
        "batch": batch,
        "cpu_ms_per_request": round(handler_cpu * 1000, 4),
        "cpu_ms_per_occurrence": round(handler_cpu * 1000 / workload.occurrences, 4),
        "wall_ms_per_request": round(statistics.median(wall) * 1000, 4),
        "wall_ms_min": round(min(wall) * 1000, 4),
        "json_loads_ms": round(floor * 1000, 4),
        "cpu_ratio_to_json_loads": round(handler_cpu / floor, 1) if floor else None,
        "cpu_ms_spread": [round(min(cpu) * 1000, 4), round(max(cpu) * 1000, 4)],
    }


def run(function: str, names: list[str]) -> dict[str, Any]:
    from bench.stub import Stub

    stub = Stub()
    try:
        handler = load_handler(function)
    except Exception as error:
        return {"error": f"handler does not import: {type(error).__name__}: {error}"}
    from lodge import aws

    stub.attach(aws.dynamodb(), aws.s3())
    rss_after_import = _rss_mb()
    results: dict[str, Any] = {}
    for name in names:
        try:
            results[name] = measure(handler, load(name), stub.credentials)
        except Exception as error:
            results[name] = {"error": f"{type(error).__name__}: {error}"}
    return {
        "workloads": results,
        "rss_after_import_mb": round(rss_after_import, 1),
        "peak_rss_mb": round(_rss_mb(), 1),
        "stub": "botocore before-send handler with canned HTTP responses (bench/stub.py)",
    }


if __name__ == "__main__":
    sys.exit(worker_main(run, sys.argv[1:]))
