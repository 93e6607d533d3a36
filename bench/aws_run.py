"""Worker (a fresh process per function): replay each workload against moto in-process and meter
what every request asks of AWS. Run by bench.__main__; writes its figures as JSON to a file.

Per workload: the first request (token not yet cached, a new issue), WARM_REQUESTS warm requests
(fresh client ids, same issue, token cached), one duplicate retry of the last warm request, one
request with a wrong credential (refused), and one request with OffloadThreshold at the template's
minimum, so that its detail goes to S3 when it is larger than that (offloaded).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import traceback
from typing import Any

from bench import emf, env
from bench.capture import output
from bench.meter import Meter
from bench.workload import FakeContext, Request, load, load_handler, worker_main

WARM_REQUESTS = 5
WRONG_CREDENTIAL = "0" * 32


def _invoke(handler: Any, request: Request, meter: Meter) -> dict[str, Any]:
    event = request.event()
    with output() as logs:
        meter.start()
        started = time.perf_counter()
        response = handler.lambda_handler(event, FakeContext())
        wall = time.perf_counter() - started
        tally = meter.stop()
    status = int(response.get("statusCode", 0))
    figures: dict[str, Any] = {
        "status": status,
        "wall_ms_moto": round(wall * 1000, 2),
        "log_bytes": logs.size,
        "log_stdout_bytes": len(logs.stdout),
        "log_stderr_bytes": len(logs.stderr),
        "request_bytes": request.wire_bytes(),
        "emf": emf.combinations(logs.stdout),
        **tally.summary(),
    }
    if status != 200:
        figures["response"] = str(response.get("body", ""))[:300]
    if logs.stderr:
        figures["stderr_sample"] = logs.stderr.decode("utf-8", "replace")[:300]
    return figures


def _median_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The typical warm request: numeric figures as medians; the rest from the median request."""
    row = dict(rows[len(rows) // 2])
    for key, value in rows[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            row[key] = statistics.median(r[key] for r in rows)
    row["emf"] = sorted({combo for r in rows for combo in r["emf"]})
    row["spread"] = {
        key: [min(r[key] for r in rows), max(r[key] for r in rows)] for key in ("round_trips", "wru", "log_bytes")
    }
    return row


def _offloaded(handler: Any, request: Request, meter: Meter) -> dict[str, Any]:
    """One request with OffloadThreshold at the template's minimum (what a large event costs)."""
    from lodge import config

    minimum = env.template().get("Parameters", {}).get("OffloadThreshold", {}).get("MinValue", 512)
    saved = os.environ.get("OFFLOAD_THRESHOLD")
    os.environ["OFFLOAD_THRESHOLD"] = str(minimum)
    config.settings.cache_clear()
    try:
        figures = _invoke(handler, request, meter)
    finally:
        if saved is None:
            os.environ.pop("OFFLOAD_THRESHOLD", None)
        else:
            os.environ["OFFLOAD_THRESHOLD"] = saved
        config.settings.cache_clear()
    figures["offload_threshold"] = int(minimum)
    return figures


def run(function: str, names: list[str]) -> dict[str, Any]:
    from moto import mock_aws

    with mock_aws():
        import botocore.session

        from lodge import auth, aws, config
        from lodge.storage import Store
        from lodge_devtools import emulation

        aws.reset()
        config.settings.cache_clear()
        auth.clear_cache()
        emulation.provision(aws.dynamodb(), aws.s3(), env.TABLE_NAME, env.BUCKET_NAME)
        store = Store()
        project_id, credentials = auth.create_project(store, "bench")
        credentials = {**credentials, "project_id": project_id}  # Sentry workloads name it in the path
        inspector = botocore.session.Session().create_client("dynamodb", region_name="us-east-1")
        key_names, index = env.table_keys()
        meter = Meter({"dynamodb": aws.dynamodb(), "s3": aws.s3()}, inspector, env.TABLE_NAME, key_names, index)
        try:
            with output():
                handler = load_handler(function)
        except Exception as error:
            return {"error": f"handler does not import: {type(error).__name__}: {error}"}
        results: dict[str, Any] = {}
        for name in names:
            workload = load(name)
            auth.clear_cache()
            try:
                first = _invoke(handler, workload.request(credentials), meter)
                warm_requests = [workload.request(credentials) for _ in range(WARM_REQUESTS)]
                warm = [_invoke(handler, r, meter) for r in warm_requests]
                duplicate = _invoke(handler, workload.request(credentials, ids=warm_requests[-1].ids), meter)
                wrong = {**credentials, workload.credential_kind: WRONG_CREDENTIAL}
                refused = _invoke(handler, workload.request(wrong), meter)
                offloaded = _offloaded(handler, workload.request(credentials), meter)
            except Exception:
                results[name] = {"error": traceback.format_exc(limit=3)[-600:]}
                continue
            results[name] = {
                "first": first,
                "warm": _median_row(warm),
                "duplicate": duplicate,
                "refused": refused,
                "offloaded": offloaded,
            }
        return results


if __name__ == "__main__":
    sys.exit(worker_main(run, sys.argv[1:]))
