"""Listings at scale (issue 16): DynamoDB reads and handler time of every query API and filter.

    PYTHONPATH=devtools:layers/lodge/python .venv/bin/python -m bench.listings [OCCURRENCES ...]

Seeds moto with what the digest would have written for N occurrences over ISSUES issues in one
project (the project listing, the filtered listings, the issue items), built by the digest's own
item functions and written in bulk (BatchWriteItem), not through ingest: listings never read
records, so no record is stored. Then calls each listing as its handler does and prints the reads
(Query/GetItem/BatchGetItem calls, each Query counted as ceil(bytes / 1 MB) since moto does not
cut a Query at 1 MB like DynamoDB) and the wall time, PASS/MISS against <= 5 reads and <= 300 ms.
Wall time here is moto's in-process time, not DynamoDB's: the reads are the figure that transfers.
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from collections.abc import Callable
from typing import Any

from bench import env
from bench.units import item_size

ISSUES = 50_000
BATCH = 100
"""Records per digest batch (one occurrence each): the digest writes its pages per batch."""
SPAN_S = 30 * 86_400
ACTIONS = 200
EXCEPTIONS = 300
PERFORMANCE_SHARE = 0.1
MAX_READS = 5
MAX_MS = 300.0
T0 = 1_760_000_000
PROJECT = "bench"
RARE_EXCEPTION = "RareTimeoutError"
RARE_ACTION = "RareController#show"
FILTERED = os.environ.get("LODGE_BENCH_FILTERED") == "1"
"""Also seed the filtered listings (lodge.storage.listings; the readers do not use them yet)."""


def _entry(rng: random.Random, i: int, n: int) -> tuple[dict[str, Any], str | None]:
    """An index entry as `records.index_entry` makes it, and its issue."""
    if i == n // 2:  # one occurrence of the rare filter values, in the middle of history
        return {"k": "error", "l": "error", "e": "production", "g": "f" * 31 + "0", "a": RARE_ACTION,
                "x": RARE_EXCEPTION, "m": f"{RARE_EXCEPTION}: took too long", "p": "/rare/1", "pr": "rollbar",
                "c": f"c{i:09d}"}, "f" * 31 + "0"  # fmt: skip
    if rng.random() < PERFORMANCE_SHARE:
        action = f"Perf{rng.randrange(ACTIONS)}Controller#index"
        return {"k": "performance", "l": "info", "e": "production", "a": action, "p": f"/perf/{i % 97}",
                "d": round(rng.random() * 900, 1), "s": 200, "pr": "appsignal", "c": f"c{i:09d}"}, None  # fmt: skip
    issue = rng.randrange(ISSUES)
    group = f"{issue:032x}"
    exception = f"App{issue % EXCEPTIONS}Error"
    return {"k": "error", "l": "error" if issue % 5 else "warning", "e": "production" if issue % 3 else "staging",
            "g": group, "a": f"Users{issue % ACTIONS}Controller#show", "x": exception,
            "m": f"{exception}: something failed for user {issue}", "p": f"/users/{issue}", "s": 500,
            "pr": "rollbar", "c": f"c{i:09d}"}, group  # fmt: skip


def seed(ddb: Any, table: str, n: int) -> dict[str, Any]:
    from lodge.dynamo import to_item
    from lodge.storage.keys import issue_sk, project_pk
    from lodge.storage.listings import filtered_listing_items
    from lodge.storage.records import RecordSummary, listing_items

    rng = random.Random(16)
    started = time.perf_counter()
    pending: list[dict[str, Any]] = []
    written = {"items": 0, "bytes": 0}
    counts: dict[str, int] = {}

    def flush(force: bool = False) -> None:
        while len(pending) >= 25 or (force and pending):
            chunk, pending[:] = pending[:25], pending[25:]
            request = {table: [{"PutRequest": {"Item": to_item(item)}} for item in chunk]}
            while request:
                request = ddb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
            written["items"] += len(chunk)

    step_ms = SPAN_S * 1000 // max(1, n)
    batch: list[RecordSummary] = []
    for i in range(n):
        entry, group = _entry(rng, i, n)
        received_ms = T0 * 1000 + i * step_ms
        entry["ts"] = received_ms / 1000
        if group:
            counts[group] = counts.get(group, 0) + 1
        batch.append(RecordSummary(f"r{i:011d}", received_ms, [entry]))
        if len(batch) == BATCH or i == n - 1:
            for item in listing_items(PROJECT, batch) + (filtered_listing_items(PROJECT, batch) if FILTERED else []):
                written["bytes"] += item_size(to_item(item))
                pending.append(item)
            batch = []
            flush()
    for issue in range(ISSUES):
        group = f"{issue:032x}"
        pending.append(
            {"pk": project_pk(PROJECT), "sk": issue_sk(group), "cnt": counts.get(group, 0) or 1,
             "ls": T0 + rng.randrange(SPAN_S), "fs": T0, "st": "resolved" if issue % 7 == 0 else "active",
             "lvl": "error" if issue % 5 else "warning", "env": "production" if issue % 3 else "staging",
             "title": f"App{issue % EXCEPTIONS}Error: something failed", "k": "error",
             "x": f"App{issue % EXCEPTIONS}Error", "pr": "rollbar"}
        )  # fmt: skip
        flush()
    flush(force=True)
    return {**written, "seconds": round(time.perf_counter() - started, 1)}


class Reads:
    """Counts DynamoDB reads: a Query as ceil(its items' bytes / 1 MB), others as calls."""

    def __init__(self, ddb: Any) -> None:
        self.count = 0
        ddb.meta.events.register("after-call.dynamodb", self._after)

    def _after(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        name = model.name
        if name == "Query":
            size = sum(item_size(item) for item in parsed.get("Items", []))
            self.count += max(1, math.ceil(size / (1024 * 1024)))
        elif name in ("GetItem", "BatchGetItem", "Scan"):
            self.count += 1


def cases(store: Any) -> list[tuple[str, Callable[[], Any]]]:
    from lodge.console import data
    from lodge.protocols.appsignal import query
    from lodge.protocols.rollbar import read_api

    hot = f"{7:032x}"
    rare = "f" * 31 + "0"
    window = str(T0 + SPAN_S // 2)
    viewer = data.Viewer(project_id=PROJECT, token_hash="bench")  # noqa: S106 - a test hash, not a secret

    def samples(kind: query.SampleKind, **params: str) -> Callable[[], Any]:
        return lambda: query.list_samples(store, PROJECT, kind, params)

    return [
        ("appsignal samples (no filter)", samples("all")),
        ("appsignal samples/errors", samples("errors")),
        ("appsignal samples/performance", samples("performance")),
        ("appsignal samples action=common", samples("all", action="Users7Controller-hash-show")),
        ("appsignal samples action=rare", samples("all", action="RareController-hash-show")),
        ("appsignal samples exception=common", samples("errors", exception="App7Error")),
        ("appsignal samples exception=rare", samples("errors", exception=RARE_EXCEPTION)),
        ("appsignal samples before=mid limit=100", samples("errors", before=window, limit="100")),
        ("appsignal samples since..before (1 h)", samples("all", since=window, before=str(int(window) + 3600))),
        ("appsignal count_only errors", samples("errors", count_only="true")),
        ("appsignal count_only exception=rare", samples("errors", exception=RARE_EXCEPTION, count_only="true")),
        ("rollbar item instances (hot issue)", lambda: read_api.instances_of_item(store, PROJECT, hot, "")),
        ("rollbar item instances (rare issue)", lambda: read_api.instances_of_item(store, PROJECT, rare, "")),
        ("rollbar items list", lambda: read_api.list_items(store, PROJECT, "")),
        ("rollbar items status=resolved", lambda: read_api.list_items(store, PROJECT, "status=resolved")),
        ("rollbar items level+env", lambda: read_api.list_items(store, PROJECT, "level=warning&environment=staging")),
        ("console issue occurrences", lambda: data.issue_occurrences(viewer, hot, store=store)),
    ]  # fmt: skip


def measure(n: int) -> list[tuple[str, int, float]]:
    from moto import mock_aws

    with mock_aws():
        from lodge import aws, config
        from lodge.storage import Store
        from lodge_devtools import emulation

        aws.reset()
        config.settings.cache_clear()
        emulation.provision(aws.dynamodb(), aws.s3(), env.TABLE_NAME, env.BUCKET_NAME)
        store = Store()
        seeded = seed(store.ddb, store.table, n)
        print(f"  seeded {n:,} occurrences / {ISSUES:,} issues: {seeded}", file=sys.stderr)
        reads = Reads(store.ddb)
        rows = []
        for name, call in cases(store):
            call()  # warm (imports, moto's first-call cost)
            reads.count = 0
            started = time.perf_counter()
            call()
            elapsed = (time.perf_counter() - started) * 1000
            rows.append((name, reads.count, elapsed))
        aws.reset()
    return rows


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [10_000, 100_000, 1_000_000]
    wanted = ("AWS_", "TABLE", "BUCKET")
    os.environ.update({k: v for k, v in env.subprocess_environment("query").items() if k.startswith(wanted)})
    results = {n: measure(n) for n in sizes}
    names = [name for name, _, _ in results[sizes[0]]]
    header = f"{'listing':42}" + "".join(f"{f'{n:,}':>24}" for n in sizes)
    print(header)
    print(f"{'':42}" + "".join(f"{'reads   ms  verdict':>24}" for _ in sizes))
    for row, name in enumerate(names):
        cells = ""
        for n in sizes:
            _, count, ms = results[n][row]
            verdict = "PASS" if count <= MAX_READS and ms <= MAX_MS else "MISS"
            cells += f"{count:>10}{ms:>8.0f}  {verdict:>4}"
        print(f"{name:42}{cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
