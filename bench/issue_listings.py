"""Issue listings at scale (issue 16 point 3): reads and handler time per listing and filter.

    PYTHONPATH=devtools:layers/lodge/python .venv/bin/python -m bench.issue_listings [ISSUES ...]

Seeds ISSUES issue items (default 10,000 and 50,000) of one project straight into moto's table
(BatchWriteItem of the storage layer's own items, `lodge.storage.issues.stored_issue` and
`counter_item`: numbered, as issues are once they were listed), then drives each listing warm —
the Rollbar items list and item_by_counter through the rollbar_read handler, the console's issue
list through its data seam (`lodge.console.data.list_issues`, the page's HTML not rendered) — and
prints per listing the DynamoDB calls, the reads (a Query counts ⌈bytes read / 1 MB⌉, since moto
does not cut pages at 1 MB; any other read call counts 1) and the handler time: the process's CPU
time minus moto's backend, plus 5 ms simulated latency per DynamoDB call (they are sequential). PASS/MISS
against the issue's target: ≤ 5 reads and ≤ 300 ms at 50,000 issues.
"""

from __future__ import annotations

import gc
import math
import random
import sys
import time
from typing import Any

from bench import env
from bench.meter import SIMULATED_LATENCY_MS
from bench.units import item_size

ISSUES = (10_000, 50_000)
READ_TARGET = 5
MS_TARGET = 300
MB = 1024 * 1024
STATUSES = (("resolved", 0.70), ("active", 0.22), ("muted", 0.05), ("archived", 0.03))
ENVIRONMENTS = ("production", "staging", "development")
LEVELS = ("error", "error", "error", "warning", "critical", "info")
FRAMEWORKS = ("django", "flask", "rails", None)
RARE = "UnicornOverflow"
"""A title word one issue in 2,000 carries: the search that matches rarely."""


def _issues(project_id: str, n: int, now: float) -> list[Any]:
    from lodge.models.issues import Issue

    rng = random.Random(16)
    found = []
    for i in range(n):
        last = now - rng.expovariate(1 / (7 * 86400))  # most issues seen lately, a long tail of old ones
        first = last - rng.expovariate(1 / (30 * 86400))
        roll, status = rng.random(), "resolved"
        for name, share in STATUSES:
            if roll < share:
                status = name
                break
            roll -= share
        level = LEVELS[i % len(LEVELS)]
        word = RARE if i % 2000 == 7 else "KeyError"
        found.append(
            Issue(
                id=f"{i:020x}",
                project_id=project_id,
                environment=ENVIRONMENTS[i % 3],
                fingerprint=f"fp{i}",
                title=f"{word}: 'user_{i}' in handler /api/orders/{i % 97}",
                kind="error",
                level=level,
                last_level=level,
                status=status,
                status_changed_at=None,
                total_occurrences=1 + int(rng.paretovariate(1.2)),
                first_seen=round(first, 3),
                first_occurrence_id=f"f{i}",
                last_seen=round(last, 3),
                last_occurrence_id=f"l{i}",
                grouping_version=2,
                grouping_reason="exception",
                exception_class=word,
                platform="python",
                framework=FRAMEWORKS[i % 4],
                protocol="rollbar",
                counter=i + 1,
            )
        )
    return found


def seed(ddb: Any, project_id: str, n: int) -> None:
    from lodge.dynamo import to_item
    from lodge.storage.issues import counter_item, stored_issue

    items = []
    for issue in _issues(project_id, n, time.time()):
        items.append(stored_issue(issue))
        items.append(counter_item(project_id, issue.counter or 0, issue.id))
    for start in range(0, len(items), 25):
        request = {env.TABLE_NAME: [{"PutRequest": {"Item": to_item(i)}} for i in items[start : start + 25]]}
        while request:
            request = ddb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


class _Meter:
    """DynamoDB calls and read bytes of the listing's client; moto's backend time taken out."""

    def __init__(self, ddb: Any) -> None:
        from moto.core import botocore_stubber

        self.calls: list[str] = []
        self.reads = 0
        self.moto_s = 0.0
        ddb.meta.events.register("after-call.dynamodb", self._after)
        original = botocore_stubber.BotocoreStubber.__call__
        meter = self

        def timed(stubber: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return original(stubber, *args, **kwargs)
            finally:
                meter.moto_s += time.process_time() - start

        botocore_stubber.BotocoreStubber.__call__ = timed  # type: ignore[method-assign,assignment]

    def reset(self) -> None:
        self.calls, self.reads, self.moto_s = [], 0, 0.0

    def _after(self, model: Any, parsed: dict[str, Any], **_: Any) -> None:
        self.calls.append(model.name)
        if model.name == "Query":
            read = sum(item_size(item) for item in parsed.get("Items", []))
            self.reads += max(1, math.ceil(read / MB))
        elif model.name in ("GetItem", "BatchGetItem", "Scan"):
            self.reads += 1


def _rollbar(handler: Any, token: str, path: str, query: str = "") -> Any:
    from bench.workload import FakeContext
    from lodge_devtools.apigw import build_event

    event = build_event("GET", path, headers={"x-rollbar-access-token": token}, raw_query=query)
    response = handler.lambda_handler(event, FakeContext())
    assert response["statusCode"] in (200, 301), response
    return response


def listings(project_id: str, token: str, issues: int) -> list[tuple[str, Any]]:
    from bench.workload import load_handler
    from lodge.console import data
    from lodge.storage import Store

    rollbar = load_handler("rollbar_read")
    viewer = data.Viewer(project_id, "bench")
    store = Store()
    return [
        ("rollbar items, page 1", lambda: _rollbar(rollbar, token, "/api/1/items/")),
        ("rollbar items, page 3", lambda: _rollbar(rollbar, token, "/api/1/items/", "page=3")),
        ("rollbar items, status=active", lambda: _rollbar(rollbar, token, "/api/1/items/", "status=active")),
        ("rollbar items, level=critical", lambda: _rollbar(rollbar, token, "/api/1/items/", "level=critical")),
        ("rollbar items, env=staging", lambda: _rollbar(rollbar, token, "/api/1/items/", "environment=staging")),
        ("rollbar items, q (rare)", lambda: _rollbar(rollbar, token, "/api/1/items/", f"q={RARE}")),
        ("rollbar items, ids=3", lambda: _rollbar(rollbar, token, "/api/1/items/", "ids=" + ",".join(_ids(3)))),
        ("rollbar item_by_counter", lambda: _rollbar(rollbar, token, f"/api/1/item_by_counter/{issues // 2 + 1}")),
        ("console active, last seen", lambda: data.list_issues(viewer, store=store)),
        ("console resolved, page 3", lambda: data.list_issues(viewer, status="resolved", page=3, store=store)),
        ("console active, first seen", lambda: data.list_issues(viewer, sort="first_seen", store=store)),
        ("console active, by count", lambda: data.list_issues(viewer, sort="count", store=store)),
        ("console search (rare)", lambda: data.list_issues(viewer, search=RARE.lower(), store=store)),
    ]


def _ids(n: int) -> list[str]:
    return [f"{i * 101:020x}" for i in range(n)]


def measure(issues: int) -> list[dict[str, Any]]:
    from moto import mock_aws

    from bench.capture import output

    with mock_aws():
        from lodge import auth, aws, config
        from lodge_devtools import emulation

        aws.reset()
        config.settings.cache_clear()
        auth.clear_cache()
        emulation.provision(aws.dynamodb(), aws.s3(), env.TABLE_NAME, env.BUCKET_NAME)
        from lodge.storage import Store

        project_id, credentials = auth.create_project(Store(), "bench")
        started = time.perf_counter()
        seed(aws.dynamodb(), project_id, issues)
        print(f"seeded {issues} issues in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        meter = _Meter(aws.dynamodb())
        latency = SIMULATED_LATENCY_MS["dynamodb"] / 1000
        rows = []
        runs = listings(project_id, credentials["rollbar_read"], issues)
        with output():  # warm: the handler imported, the token cached (moto is slow to list: once each)
            dict(runs)["rollbar item_by_counter"]()
            data_module = sys.modules["lodge.console.data"]
            data_module.list_issues(data_module.Viewer(project_id, "bench"), per_page=1)
        for name, run in runs:
            with output():
                meter.reset()
                gc.collect()  # moto's heap (every seeded item) is not the function's: no GC of it timed
                gc.disable()
                start, cpu = time.perf_counter(), time.process_time()
                try:
                    answer = run()
                finally:
                    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
                    gc.enable()
            # CPU time, not wall time: the machine running the bench may be shared (one thread here).
            handler_ms = 1000 * (cpu - meter.moto_s + latency * len(meter.calls))
            print(f"  {name}: {wall:.1f} s wall, {meter.moto_s:.1f} s moto CPU", file=sys.stderr, flush=True)
            rows.append(
                {
                    "issues": issues,
                    "listing": name,
                    "calls": list(meter.calls),
                    "reads": meter.reads,
                    "handler_ms": round(handler_ms, 1),
                    "capped": _capped(answer),
                }
            )
        return rows


def _capped(answer: Any) -> bool:
    import json

    if isinstance(answer, dict):  # a handler's response
        return bool(json.loads(answer["body"]).get("result", {}).get("capped"))
    return bool(getattr(answer, "capped", False))


def report(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"Issue listings (issue 16 point 3): target <= {READ_TARGET} reads and <= {MS_TARGET} ms handler time",
        f"  {'issues':>7}  {'listing':<36} {'reads':>5} {'ms':>7}  capped  calls",
    ]
    for row in rows:
        ok = row["reads"] <= READ_TARGET and row["handler_ms"] <= MS_TARGET
        calls = ", ".join(f"{row['calls'].count(c)} {c}" for c in dict.fromkeys(row["calls"]))
        lines.append(
            f"  {row['issues']:>7}  {row['listing']:<36} {row['reads']:>5} {row['handler_ms']:>7.1f}  "
            f"{'yes' if row['capped'] else 'no':<6}  {calls}  {'PASS' if ok else 'MISS'}"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    import os

    os.environ.update(env.function_environment("rollbar_read"))
    os.environ.update(env.in_process_environment())
    sizes = [int(a) for a in argv] or list(ISSUES)
    rows = [row for size in sizes for row in measure(size)]
    print(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
