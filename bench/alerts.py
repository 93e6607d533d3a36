"""`python -m bench.alerts` (also run by `make bench`): what alerts add to an ingest.

Replays the rollbar_python_chained workload under moto with the alert queue configured, metering
DynamoDB, S3 and SQS: the first request (a new issue: one alert is due) and warm requests of the
same issue (no alert due), each followed by the digest of its record (a batch of one: the alert is
decided and handed off there, issue 16). Prints calls, round trips and write units of both, for
the request and for its digest, so the request figures can be compared with the main table (they
must match), and the extra cost of a batch that alerts.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from bench import env
from bench.capture import output
from bench.meter import Meter
from bench.workload import FakeContext, load, load_handler

WORKLOAD = "rollbar_python_chained"
SQS_PER_REQUEST = 0.40 / 1e6
"""SQS standard queue, per 64 KB request chunk (us-east-1); an alert is one SendMessageBatch."""


def run() -> dict[str, Any]:
    from moto import mock_aws

    for key, value in env.subprocess_environment("rollbar_item").items():
        os.environ.setdefault(key, value)
    with mock_aws():
        import botocore.session

        from lodge import auth, aws, config
        from lodge.storage import Store
        from lodge_devtools import emulation, queues
        from lodge_devtools.streams import StreamPoller, in_process_invoke

        aws.reset()
        config.settings.cache_clear()
        emulation.provision(aws.dynamodb(), aws.s3(), env.TABLE_NAME, env.BUCKET_NAME)
        os.environ["ALERT_QUEUE_URL"] = queues.provision(aws.sqs(), aws.sns(), env.TABLE_NAME)["AlertQueue"]
        _project, credentials = auth.create_project(Store(), "bench-alerts")
        inspector = botocore.session.Session().create_client("dynamodb", region_name="us-east-1")
        key_names, index = env.table_keys()
        clients = {"dynamodb": aws.dynamodb(), "s3": aws.s3(), "sqs": aws.sqs()}
        meter = Meter(clients, inspector, env.TABLE_NAME, key_names, index)
        with output():
            handler = load_handler("rollbar_item")
        workload = load(WORKLOAD)
        poller = StreamPoller(aws.dynamodb(), env.TABLE_NAME, in_process_invoke())
        digest = in_process_invoke()
        rows = {}
        for label in ("alerting (new issue)", "no alert (warm)"):
            request = workload.request(credentials)
            with output():
                meter.start()
                handler.lambda_handler(request.event(), FakeContext())
                tally = meter.stop()
                event = poller.next_event()  # stream reads are free (Lambda's event source mapping)
                meter.start()
                digest(event)
                digested = meter.stop()
            for step, metered in (("request", tally), ("digest", digested)):
                summary = metered.summary()
                rows[f"{label}: {step}"] = {
                    "calls": summary["calls"],
                    "round_trips": summary["round_trips"],
                    "wru": summary["wru"],
                    "sqs": sum(1 for c in metered.calls if c.service == "sqs"),
                }
        return rows


def main() -> int:
    rows = run()
    print(f"\nAlerts ({WORKLOAD}, alert queue configured):")
    print(f"  {'request':<38} {'calls':>5} {'round trips':>11} {'WRU':>5} {'SQS calls':>9}")
    for label, row in rows.items():
        print(f"  {label:<38} {row['calls']:>5} {row['round_trips']:>11} {row['wru']:>5} {row['sqs']:>9}")
    alerting, quiet = rows["alerting (new issue): digest"], rows["no alert (warm): digest"]
    print(
        f"  an alerting digest batch adds {alerting['sqs']} SendMessageBatch call (+{alerting['sqs']} round trip, "
        f"${alerting['sqs'] * SQS_PER_REQUEST * 1e6:.2f} per million alerts, plus the delivery function); "
        f"a batch with no alert adds {quiet['sqs']} calls, the request never any "
        f"({rows['alerting (new issue): request']['sqs']})"
    )
    # issue 11: an alert is due only for a new issue, a 10^n count or a regression, so its cost is
    # per alerting occurrence, apart from the per-event bill.
    from bench import prices
    from bench.meter import SIMULATED_LATENCY_MS

    wait_usd = SIMULATED_LATENCY_MS["sqs"] / 1000 * env.memory_mb("digest") / 1024 * prices.LAMBDA_ARM64_PER_GB_SECOND
    extra = alerting["sqs"] * SQS_PER_REQUEST + 2 * SQS_PER_REQUEST + prices.LAMBDA_PER_REQUEST + wait_usd
    print(
        f"  extra cost of an occurrence that triggers an alert: ${extra * 1e6:.2f} per million alerting occurrences "
        f"(SendMessageBatch ${SQS_PER_REQUEST * 1e6:.2f}, the delivery function's SQS receive + delete "
        f"${2 * SQS_PER_REQUEST * 1e6:.2f}, its Lambda request ${prices.LAMBDA_PER_REQUEST * 1e6:.2f}, the digest's "
        f"{SIMULATED_LATENCY_MS['sqs']:g} ms wait ${wait_usd * 1e6:.3f}; plus the delivery's own duration and channel)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
