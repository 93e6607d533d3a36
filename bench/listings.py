"""Listings at scale (issue 16): DynamoDB reads and handler time of every occurrence listing and filter.

    PYTHONPATH=devtools:layers/lodge/python .venv/bin/python -m bench.listings [OCCURRENCES ...]

Seeds moto with what the digest writes for N occurrences over ISSUES issues in one project (the
project listing and the filtered listings, built by the digest's own item functions in batches of
BATCH records, and written in bulk with BatchWriteItem, not through ingest: listings never read
records, so no record is stored; the two issues the cases read are counted in through the storage
layer). Then calls each listing as its handler does and prints the reads (Query/GetItem/
BatchGetItem calls, each Query counted as ceil(bytes / 1 MB) since moto does not cut a Query at
1 MB like DynamoDB), the handler time (its own, with moto's backend taken out, plus a modelled
DYNAMODB_READ_MS per read), whether the answer was complete or capped (a cursor), and PASS/MISS
against <= 5 reads and <= 300 ms. Issue listings (the Rollbar items list, the
console's issue list) are measured with the issues (bench.issue_listings, where present).
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
BATCH = 3_642
"""Records per digest batch (one occurrence each; the template's full batch, bench.digest_run)."""
SPAN_S = 30 * 86_400
ACTIONS = 200
EXCEPTIONS = 300
PERFORMANCE_SHARE = 0.1
HOT_SHARE = 0.2
"""Of the errors, the share of one hot issue (issue 7); the rest spread over ISSUES."""
BATCH_SPAN_MS = 2_000
"""A batch's records arrive within the event source mapping's batching window."""
DYNAMODB_READ_MS = 10.0
"""Modelled latency of one DynamoDB read (a Query of up to 1 MB, a GetItem, a BatchGetItem)."""
MAX_READS = 5
MAX_MS = 300.0
T0 = 1_760_000_000
PROJECT = "bench"
RARE_EXCEPTION = "RareTimeoutError"
RARE_ACTION = "RareController#show"
HOT = f"{7:032x}"
RARE = "f" * 31 + "0"


def _entry(rng: random.Random, i: int, n: int, received_ms: int) -> dict[str, Any]:
    """An index entry as the digest lists it (built by `records.entry_of` from a listing's view)."""
    from lodge.models.occurrences import OccurrenceSummary
    from lodge.storage.records import entry_of

    base = OccurrenceSummary(
        id="", record_id="", position=0, received_ms=received_ms, kind=None, level=None, environment=None,
        issue_id=None, title=None, exception_class=None, action=None, path=None, duration=None, status=None,
        occurred_at=received_ms / 1000, client_id=f"c{i:09d}", protocol=None,
    )  # fmt: skip
    if i == n // 2:  # one occurrence of the rare filter values, in the middle of history
        return entry_of(base._replace(
            kind="error", level="error", environment="production", issue_id=RARE, action=RARE_ACTION,
            exception_class=RARE_EXCEPTION, title=f"{RARE_EXCEPTION}: took too long", path="/rare/1",
            protocol="rollbar",
        ))  # fmt: skip
    if rng.random() < PERFORMANCE_SHARE:
        return entry_of(base._replace(
            kind="performance", level="info", environment="production",
            action=f"Perf{rng.randrange(ACTIONS)}Controller#index", path=f"/perf/{i % 97}",
            duration=round(rng.random() * 900, 1), status=200, protocol="appsignal",
        ))  # fmt: skip
    issue = 7 if rng.random() < HOT_SHARE else rng.randrange(ISSUES)
    exception = f"App{issue % EXCEPTIONS}Error"
    return entry_of(base._replace(
        kind="error", level="error" if issue % 5 else "warning", environment="production" if issue % 3 else "staging",
        issue_id=f"{issue:032x}", action=f"Users{issue % ACTIONS}Controller#show", exception_class=exception,
        title=f"{exception}: something failed for user {issue}", path=f"/users/{issue}", status=500,
        protocol="rollbar",
    ))  # fmt: skip


def seed_issue(store: Any, issue_id: str, exception: str) -> None:
    """One issue item, counted in through the storage layer as the digest counts one."""
    import dataclasses

    from lodge import grouping
    from lodge.occurrence import ExceptionInfo, Occurrence
    from lodge.storage import GroupDelta

    occurrence = Occurrence(
        project_id=PROJECT, protocol="rollbar", client_id=issue_id, received_at=float(T0), kind="error",
        level="error", exceptions=[ExceptionInfo(type=exception, message="something failed")],
    )  # fmt: skip
    group = grouping.compute(occurrence)
    assert group is not None
    group = dataclasses.replace(group, group_id=issue_id)
    store.bump_group(PROJECT, GroupDelta(group, occurrence, occurrence, issue_id, issue_id, 1))


def seed(ddb: Any, table: str, n: int) -> dict[str, Any]:
    from lodge.dynamo import to_item
    from lodge.storage.listings import filtered_listing_items
    from lodge.storage.records import RecordSummary, listing_items

    rng = random.Random(16)
    started = time.perf_counter()
    pending: list[dict[str, Any]] = []
    written = {"items": 0, "bytes": 0}

    def flush(force: bool = False) -> None:
        while len(pending) >= 25 or (force and pending):
            chunk, pending[:] = pending[:25], pending[25:]
            request = {table: [{"PutRequest": {"Item": to_item(item)}} for item in chunk]}
            while request:
                request = ddb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
            written["items"] += len(chunk)

    batches = -(-n // BATCH)
    step_ms = SPAN_S * 1000 // batches  # batches spread over the span, each within BATCH_SPAN_MS
    batch: list[RecordSummary] = []
    for i in range(n):
        received_ms = T0 * 1000 + (i // BATCH) * step_ms + (i % BATCH) * BATCH_SPAN_MS // BATCH
        entry = _entry(rng, i, n, received_ms)
        batch.append(RecordSummary(f"r{i:011d}", received_ms, [entry]))
        if len(batch) == BATCH or i == n - 1:
            for item in listing_items(PROJECT, batch) + filtered_listing_items(PROJECT, batch):
                written["bytes"] += item_size(to_item(item))
                pending.append(item)
            batch = []
            flush()
    flush(force=True)
    return {**written, "seconds": round(time.perf_counter() - started, 1)}


class Reads:
    """Counts DynamoDB reads (a Query as ceil(its items' bytes / 1 MB), others as calls) and the
    time spent inside the calls (moto's backend, which on Lambda is DynamoDB's time)."""

    def __init__(self, ddb: Any) -> None:
        self.count = 0
        self.inside = 0.0
        self._start = 0.0
        ddb.meta.events.register("after-call.dynamodb", self._after)
        ddb.meta.events.register("request-created.dynamodb", self._begin)
        ddb.meta.events.register("needs-retry.dynamodb", self._end)

    def _begin(self, **_: Any) -> None:
        self._start = time.perf_counter()

    def _end(self, **_: Any) -> None:
        if self._start:
            self.inside += time.perf_counter() - self._start
            self._start = 0.0

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

    hot, rare = HOT, RARE
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
        ("console issue occurrences", lambda: data.issue_occurrences(viewer, hot, store=store)),
    ]  # fmt: skip


def measure(n: int) -> list[tuple[str, int, float, str]]:
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
        seed_issue(store, HOT, "App7Error")
        seed_issue(store, RARE, RARE_EXCEPTION)
        print(f"  seeded {n:,} occurrences / {ISSUES:,} issues: {seeded}", file=sys.stderr)
        reads = Reads(store.ddb)
        rows = []
        for name, call in cases(store):
            call()  # warm (imports, moto's first-call cost)
            reads.count, reads.inside = 0, 0.0
            started = time.perf_counter()
            answer = call()
            # The handler's own time (moto's taken out) plus DynamoDB's modelled time per read.
            own = time.perf_counter() - started - reads.inside
            elapsed = own * 1000 + reads.count * DYNAMODB_READ_MS
            rows.append((name, reads.count, elapsed, summary(answer)))
        aws.reset()
    return rows


def summary(answer: Any) -> str:
    """What a listing answered, in a few characters: entries (or the count), `+` when capped."""
    if isinstance(answer, tuple):  # the console's (occurrences, next page's before)
        return f"{len(answer[0])}"
    capped = "+" if isinstance(answer, dict) and "lodge" in answer else ""
    if isinstance(answer, dict) and "log_entries" in answer:
        return f"{len(answer['log_entries'])}{capped}"
    if isinstance(answer, dict) and "count" in answer:
        return f"n={answer['count']}{capped}"
    if isinstance(answer, dict) and "instances" in answer:
        return f"{len(answer['instances'])}"
    return "?"


def main(argv: list[str]) -> int:
    sizes = [int(a) for a in argv] or [10_000, 100_000, 1_000_000]
    wanted = ("AWS_", "TABLE", "BUCKET")
    os.environ.update({k: v for k, v in env.subprocess_environment("query").items() if k.startswith(wanted)})
    results = {n: measure(n) for n in sizes}
    names = [name for name, _, _, _ in results[sizes[0]]]
    print(
        f"Occurrence listings at scale ({ISSUES:,} issues, digest batches of {BATCH:,}; reads per call, "
        f"handler ms = own time without moto's + {DYNAMODB_READ_MS:.0f} ms per read; the answer: entries or "
        "n=count, + when capped with a cursor)"
    )
    print(f"{'listing':42}" + "".join(f"{f'{n:,} occurrences':>32}" for n in sizes))
    print(f"{'':42}" + "".join(f"{'reads     ms   answer  verdict':>32}" for _ in sizes))
    for row, name in enumerate(names):
        cells = ""
        for n in sizes:
            _, count, ms, answer = results[n][row]
            verdict = "PASS" if count <= MAX_READS and ms <= MAX_MS else "MISS"
            cells += f"{count:>11}{ms:>7.0f}{answer:>9}  {verdict:>7}"
        print(f"{name:42}{cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
