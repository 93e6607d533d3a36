"""The digest's share of the bill, measured on the reference workloads (issue 16).

    PYTHONPATH=devtools:layers/lodge/python .venv/bin/python -m bench.digest_run [N] [--out FILE]

Replays N single-event requests (the Rollbar and CrashLog workloads, fresh ids) and N/20 AppSignal
batches of 20 through their handlers into moto, then digests the stream as Lambda's event source
mapping would (lodge_devtools.streams) and measures, from the items written and the calls made:
the record's write units, the listing bytes per record, the issue update's write units, the
keep-first write (REMOVE ttl of an issue's first record), the digest's CPU per record with moto's
backend taken out, its log bytes per invocation and the Lambda event's bytes per record.

The workloads hold few distinct errors, so what depends on the mix is modelled (`per_occurrence`):
ISSUES active issues, events spread uniformly over them (the worst case for a batch: a skewed mix
has fewer distinct issues per batch), and a new issue (one keep-first) per MIX_EVENTS / ISSUES
events, as in the issue's realistic mix of 10,000 events over 200 issues. `make bench` adds the
figures at the template's BatchSize to every workload's bill (bench.cost.add_digest).
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

from bench import env, prices
from bench.meter import OTHER_LATENCY_MS, SIMULATED_LATENCY_MS
from bench.units import item_size, value_size, write_units
from bench.workload import FakeContext, load, load_handler

SINGLE_EVENT = ("rollbar_python_chained", "rollbar_node_error", "rollbar_message", "crashlog_ruby")
BATCH_WORKLOAD = "appsignal_batch20"
MIXES = {"single": SINGLE_EVENT, "batch20": (BATCH_WORKLOAD,)}
"""Which measured mix a workload's digest figures come from (`mix_of`)."""
ISSUES = 200
MIX_EVENTS = 10_000
"""The issue's realistic mix: 10,000 events over 200 issues, so one new issue per 50 events."""
SIDE_BATCHES = (1, 10, 100, 1000, 10_000)
EVENTS = 1000
"""Single-event requests `make bench` digests (and EVENTS / 20 AppSignal batches)."""
SAMPLE_ENTRIES = 400
"""Real listing entries kept from the run: pages of the modelled fill are packed from them."""
PAGE_KEY_BYTES = 90
"""A listing page's pk, sk and attribute names (what it costs besides its packed entries)."""
PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024
"""Lambda's invocation payload limit: a stream batch is cut when its event would pass it."""


def mix_of(workload: str) -> str:
    return "batch20" if workload == BATCH_WORKLOAD else "single"


def distinct_issues(events: float, issues: int = ISSUES) -> float:
    """Expected distinct issues among `events` events spread uniformly over `issues`."""
    return issues * (1 - (1 - 1 / issues) ** events)


class _Moto:
    """CPU spent between a request's signing and its parsed answer: moto's backend (and botocore's
    response parsing), which on Lambda is AWS's time, not the function's."""

    def __init__(self, clients: list[Any]) -> None:
        self.cpu = 0.0
        self.calls: dict[str, int] = {}
        self._start = 0.0
        for client in clients:
            prefix = client.meta.service_model.endpoint_prefix
            client.meta.events.register(f"request-created.{prefix}", self._begin)
            client.meta.events.register(f"needs-retry.{prefix}", self._end)
            client.meta.events.register(f"before-call.{prefix}", self._count)

    def _begin(self, **_: Any) -> None:
        self._start = time.process_time()

    def _end(self, **_: Any) -> None:
        if self._start:
            self.cpu += time.process_time() - self._start
            self._start = 0.0

    def _count(self, model: Any, **_: Any) -> None:
        key = f"{model.service_model.endpoint_prefix}:{model.name}"
        self.calls[key] = self.calls.get(key, 0) + 1


def measure(names: tuple[str, ...], requests: int) -> dict[str, Any]:
    """Digest `requests` requests of the named workloads (round robin) under moto."""
    from moto import mock_aws

    from bench.capture import output

    with mock_aws():
        from lodge import auth, aws, config
        from lodge.digest import new_records
        from lodge.dynamo import from_item
        from lodge.storage import Store
        from lodge.storage.keys import FILTERED_LISTING, ISSUE, LISTING, RECORD
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
        filtered_bytes: list[int] = []
        samples: list[dict[str, Any]] = []  # real listing entries, to model pages of any fill
        update_keys: list[dict[str, Any]] = []
        keep_keys: list[dict[str, Any]] = []

        def on_put(params: dict[str, Any], **_: Any) -> None:
            sk = params["Item"]["sk"]["S"]
            if sk.startswith(RECORD):
                record_wru.append(write_units(item_size(params["Item"])))
                if len(samples) < SAMPLE_ENTRIES:
                    record = from_item(params["Item"])
                    samples.extend({"t": int(record["t"]), "ix": entry} for entry in record.get("ix", []))
            elif sk.startswith(LISTING):
                listing_bytes.append(item_size(params["Item"]))
            elif sk.startswith(FILTERED_LISTING):
                filtered_bytes.append(item_size(params["Item"]))

        def on_update(params: dict[str, Any], **_: Any) -> None:
            sk = params["Key"]["sk"]["S"]
            if sk.startswith(ISSUE):
                update_keys.append(params["Key"])
            elif sk.startswith(RECORD):
                keep_keys.append(params["Key"])

        events = aws.dynamodb().meta.events
        events.register("before-parameter-build.dynamodb.PutItem", on_put)
        events.register("before-parameter-build.dynamodb.UpdateItem", on_update)
        index_writes = _IndexWrites(aws.dynamodb())
        workloads = [load(name) for name in names]
        handlers = {w.function: load_handler(w.function) for w in workloads}
        with output():
            for i in range(requests):
                workload = workloads[i % len(workloads)]
                event = workload.request(credentials).event()
                response = handlers[workload.function].lambda_handler(event, FakeContext())
                assert response["statusCode"] == 200, response
        digest = in_process_invoke()
        moto = _Moto([aws.dynamodb(), aws.s3(), aws.sqs()])
        spent = {"cpu": 0.0, "wall": 0.0, "log_bytes": 0, "event_bytes": 0, "invocations": 0, "records": 0}
        spent.update(grouped=0, occurrences=0)

        def invoke(event: dict[str, Any]) -> Any:
            spent["event_bytes"] += len(json.dumps(event))
            spent["records"] += len(event["Records"])
            spent["invocations"] += 1
            for _, record in new_records(event):  # occurrences the request grouped into an issue
                spent["grouped"] += sum(1 for listed in record.summary().summaries() if listed.issue_id is not None)
                spent["occurrences"] += len(record.index)
            with output() as logged:
                cpu, wall = time.process_time(), time.perf_counter()
                result = digest(event)
                spent["cpu"] += time.process_time() - cpu
                spent["wall"] += time.perf_counter() - wall
            spent["log_bytes"] += logged.size
            return result

        poller = StreamPoller(aws.dynamodb(), env.TABLE_NAME, invoke)
        index_writes.start()
        poller.drain()
        index_writes.stop()
        keep_wru = [
            write_units(item_size(aws.dynamodb().get_item(TableName=env.TABLE_NAME, Key=k)["Item"])) for k in keep_keys
        ]
        issue_wru = [
            write_units(item_size(aws.dynamodb().get_item(TableName=env.TABLE_NAME, Key=k)["Item"]))
            for k in update_keys[-20:]
        ]
        last = aws.dynamodb().get_item(TableName=env.TABLE_NAME, Key=update_keys[-1])["Item"] if update_keys else {}
        records = max(1, spent["records"])
        occurrences = sum(r["occurrences"] for r in poller.results)
        new_issues = sum(len(r["new_issue_ids"]) for r in poller.results)
        return {
            "workloads": list(names),
            "records": spent["records"],
            "invocations": spent["invocations"],
            "occurrences_per_record": occurrences / records,
            "record_wru": sum(record_wru) / max(1, len(record_wru)),
            "listing_bytes_per_record": sum(listing_bytes) / records,
            "listing_items": len(listing_bytes),
            "filtered_bytes_per_record": sum(filtered_bytes) / records,
            "filtered_items": len(filtered_bytes),
            "samples": samples[:SAMPLE_ENTRIES],
            "issue_update_wru": max(issue_wru) if issue_wru else 1,
            "issue_item_bytes": item_size(last),
            "issue_mark_bytes": sum(len(k) + value_size(v) for k, v in last.items() if k.startswith("q")),
            "issues_counted_per_invocation": sum(r["issues"] for r in poller.results) / max(1, spent["invocations"]),
            "grouped_per_occurrence": spent["grouped"] / max(1, spent["occurrences"]),
            "keep_wru": sum(keep_wru) / len(keep_wru) if keep_wru else 1.0,
            "index_wru_measured": index_writes.units,
            "index_entry_wru": index_writes.entry_units(last),
            "keeps_per_new_issue": len(keep_keys) / max(1, new_issues),
            "cpu_ms_per_record": 1000 * max(0.0, spent["cpu"] - moto.cpu) / records,
            "cpu_ms_per_record_with_moto": 1000 * spent["cpu"] / records,
            "wall_ms_per_record_moto": 1000 * spent["wall"] / records,
            "log_bytes_per_invocation": spent["log_bytes"] / max(1, spent["invocations"]),
            "event_bytes_per_record": spent["event_bytes"] / records,
            "calls": moto.calls,
            "hours": hour_item_model(aws.dynamodb(), len(names)),
        }


class _IndexWrites:
    """The issue listing index's write units of the digest's issue updates, by DynamoDB's rules
    (bench.units.Index): the item is read (unmetered, by a client of its own) before and after each
    UpdateItem of an issue, and the index entry charged when it appears or changes."""

    def __init__(self, ddb: Any) -> None:
        import boto3

        _, self.index = env.table_keys()
        self.reader = boto3.client("dynamodb", region_name=ddb.meta.region_name)
        self.events = ddb.meta.events
        self.before: dict[str, Any] = {}
        self.units = 0

    def start(self) -> None:
        self.events.register("before-parameter-build.dynamodb.UpdateItem", self._before)
        self.events.register("after-call.dynamodb.UpdateItem", self._after)

    def stop(self) -> None:
        self.events.unregister("before-parameter-build.dynamodb.UpdateItem", self._before)
        self.events.unregister("after-call.dynamodb.UpdateItem", self._after)

    def _get(self, key: dict[str, Any]) -> Any:
        return self.reader.get_item(TableName=env.TABLE_NAME, Key=key).get("Item")

    def _before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        from lodge.storage.keys import ISSUE

        key = params.get("Key") or {}
        if key.get("sk", {}).get("S", "").startswith(ISSUE):
            context["index_writes"] = (key, self._get(key))

    def _after(self, context: dict[str, Any], **_: Any) -> None:
        if "index_writes" in context:
            key, old = context.pop("index_writes")
            self.units += self.index.write_units(old, self._get(key))

    def entry_units(self, item: dict[str, Any]) -> int:
        entry = self.index.entry(item)
        return write_units(item_size(entry)) if entry else 0


def index_write_units(figures: dict[str, Any], issues: float, new_issues: float, window_s: int) -> float:
    """The listing index's write units of one full batch: an entry per new issue, and a moved entry
    (a delete and a put) per issue whose last-seen minute changed since its previous batch — at
    most once a minute, i.e. for window_s / 60 of the issues when batches come every window_s."""
    entry = figures.get("index_entry_wru", 0)
    return float(entry * (new_issues + issues * 2 * min(1.0, window_s / 60)))


def hour_item_model(ddb: Any, actions: int) -> dict[str, float]:
    """The hourly bucket item as measured (bytes per series, from the items the run wrote) and as
    modelled for ISSUES active issues in one hour (its size when the hour is full: the worst case)."""
    from lodge.storage.buckets import HOUR_SK, SERIES_INDEX

    items = ddb.scan(
        TableName=env.TABLE_NAME,
        FilterExpression="begins_with(sk, :h)",
        ExpressionAttributeValues={":h": {"S": HOUR_SK}},
    )["Items"]
    if not items:
        return {"series_bytes": 0.0, "item_bytes": 0.0, "fixed_bytes": 0.0}
    item = max(items, key=item_size)
    fixed = sum(len(k) + value_size(v) for k, v in item.items() if k in ("pk", "sk", "ttl") or k.startswith("q"))
    series = len(item.get(SERIES_INDEX, {}).get("SS", [])) + 1
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

    series = distinct_issues(batch) + min(batch, 2 * actions) + 1  # issues, actions (and with exceptions), total
    return -(-series // CHUNK) * write_units(int(hours["item_bytes"]))


def _chunk() -> int:
    from lodge.storage.buckets import CHUNK

    return int(CHUNK)


def packed_bytes(samples: list[dict[str, Any]], entries: int, values: int, *, filtered: str = "") -> int:
    """Bytes of one listing page of `entries` real entries (cycled from the run's) over `values`
    distinct issues, packed as the digest packs it (`records.pack_page`): the entries' own texts
    repeat in the workloads, so fresh record ids and times keep the compression honest. `filtered`:
    the filtered listing (`g…`, `a…`, `x…`, `kp`) whose page this is; empty: the project's."""
    import hashlib

    from lodge.storage.listings import filtered_entry
    from lodge.storage.records import entry_of, pack_page, summary

    if not samples or entries <= 0:
        return 0
    rows = []
    for i in range(entries):
        sample = samples[i % len(samples)]
        listed = summary("", "", 0, sample["t"], sample["ix"])
        if listed.issue_id is not None:
            listed = listed._replace(issue_id=hashlib.sha256(f"issue{i % max(1, values)}".encode()).hexdigest()[:32])
        entry = entry_of(listed)
        record_id = hashlib.sha256(f"record{i}".encode()).hexdigest()[:26]
        row: dict[str, Any] = {"r": record_id, "t": sample["t"] + i * 37}
        if filtered:
            row |= {"z": 1, "p": [0]}
            entry = filtered_entry(entry)
        rows.append(row | {"ix": [entry]})
    return PAGE_KEY_BYTES + len(pack_page(rows))


def listing_model(figures: dict[str, Any], batch: int, grouped: float) -> dict[str, Any]:
    """The listing pages one batch writes and their write units (docs/storage.md "Listings"): the
    project's listing (pages of up to 192 KB of entries), one page per occupied hash bucket of the
    batch's issues, actions and exception classes (a distinct action and exception class per
    issue modelled: the worst case), and the performance listing."""
    from lodge.storage.listings import ISSUE_BUCKETS, VALUE_BUCKETS
    from lodge.storage.records import LISTING_PAGE_BYTES, summary

    samples = figures.get("samples") or []
    k = figures["occurrences_per_record"]
    occurrences = max(1, round(batch * k))
    issues = max(1.0, distinct_issues(grouped))
    buckets = VALUE_BUCKETS * (1 - (1 - 1 / VALUE_BUCKETS) ** issues)
    issue_buckets = ISSUE_BUCKETS * (1 - (1 - 1 / ISSUE_BUCKETS) ** issues)
    performance = sum(1 for s in samples if summary("", "", 0, s["t"], s["ix"]).is_performance) / max(1, len(samples))
    raw_entry = 40 + sum(len(json.dumps(s["ix"])) for s in samples) / max(1, len(samples))
    main_items = max(1, math.ceil(occurrences * raw_entry / LISTING_PAGE_BYTES))
    # The project's listing: packed from the run's real entries, or (no samples) the measured bytes per record.
    main = packed_bytes(samples, occurrences, round(issues)) if samples else figures["listing_bytes_per_record"] * batch

    def pages_of(count: float, entries: float, stream: str) -> tuple[float, int]:
        per_page = max(1, round(entries / max(1.0, count)))
        values = max(1, round(issues / max(1.0, count)))
        return count, write_units(packed_bytes(samples, per_page, values, filtered=stream))

    parts: dict[str, float] = {"project": float(math.ceil(main / 1024) + main_items - 1)}
    counts = {"project": float(main_items)}
    tallies = main_items + (1 if performance else 0)  # a ~100-byte tally beside each counted page
    parts["tallies"], counts["tallies"] = float(tallies), float(tallies)
    for name, stream, count, entries in (
        ("issues", "g", issue_buckets, grouped),
        ("actions", "a", buckets, occurrences),
        ("exceptions", "x", buckets if grouped else 0.0, grouped),
        ("performance", "kp", 1.0 if performance else 0.0, occurrences * performance),
    ):
        if count <= 0 or entries <= 0:
            continue
        pages, wru = pages_of(count, entries, stream)
        parts[name] = pages * wru
        counts[name] = pages
    return {"items": math.ceil(sum(counts.values())), "wru": sum(parts.values()), "parts": parts}


def effective_batch(figures: dict[str, Any], batch_size: int) -> int:
    """Records per invocation at a BatchSize, cut by Lambda's 6 MB payload limit."""
    by_payload = int(PAYLOAD_LIMIT_BYTES // max(1.0, figures["event_bytes_per_record"]))
    return max(1, min(batch_size, by_payload))


def per_occurrence(
    figures: dict[str, Any],
    batch_size: int,
    memory_mb: int,
    *,
    s3_gets_per_record: float = 0.0,
    batching_window_s: int = 2,
) -> dict[str, Any]:
    """The digest's work per occurrence at `batch_size` records per invocation (full batches: a busy
    project; at low rates the batching window cuts batches shorter, see the side table)."""
    from bench.cost import cpu_share

    batch = effective_batch(figures, batch_size)
    k = figures["occurrences_per_record"]
    occurrences = batch * k
    grouped = occurrences * figures["grouped_per_occurrence"]
    issues = distinct_issues(grouped)
    pages = listing_model(figures, batch, grouped)
    listing_items = pages["items"]
    listing_wru = pages["wru"]
    new_issues = grouped * ISSUES / MIX_EVENTS
    keeps = new_issues * figures["keeps_per_new_issue"]
    s3_gets = s3_gets_per_record * batch
    hours = figures.get("hours") or {}  # measured hourly-bucket item (absent: no bucket writes modelled)
    hour_wru = hour_write_units(hours, batch) if hours.get("item_bytes") else 0.0
    index_wru = index_write_units(figures, issues, new_issues, batching_window_s)
    hour_updates = -(-(distinct_issues(batch) + 1) // _chunk()) if hour_wru else 0
    # The digest's calls are sequential: the listing put(s), one UpdateItem per issue, the keeps,
    # and the S3 GETs of offloaded detail.
    dynamodb = SIMULATED_LATENCY_MS.get("dynamodb", OTHER_LATENCY_MS)
    wait_ms = (listing_items + issues + keeps + hour_updates) * dynamodb + s3_gets * SIMULATED_LATENCY_MS.get(
        "s3", OTHER_LATENCY_MS
    )
    cpu_ms = figures["cpu_ms_per_record"] * batch
    billed_ms = max(1, math.ceil(cpu_ms / cpu_share(memory_mb) + wait_ms))
    return {
        "batch": batch,
        "listing_wru": listing_wru / occurrences,
        "listing_parts": {name: wru / occurrences for name, wru in pages["parts"].items()},
        "issue_wru": issues * figures["issue_update_wru"] / occurrences,
        "keep_wru": keeps * figures["keep_wru"] / occurrences,
        "hour_wru": hour_wru / occurrences,
        "index_wru": index_wru / occurrences,
        "wru": (listing_wru + issues * figures["issue_update_wru"] + keeps * figures["keep_wru"] + hour_wru + index_wru)
        / occurrences,
        "invocations": 1 / occurrences,
        "billed_ms_per_invocation": billed_ms,
        "wait_ms_per_invocation": wait_ms,
        "billed_ms": billed_ms / occurrences,
        "log_bytes": figures["log_bytes_per_invocation"] / occurrences,
        "s3_gets": s3_gets / occurrences,
    }


def run(requests: int) -> dict[str, Any]:
    return {
        "single": measure(SINGLE_EVENT, requests),
        "batch20": measure((BATCH_WORKLOAD,), max(1, requests // 20)),
        "batch_size": env.digest_batch_size(),
        "batching_window_s": env.digest_batching_window_s(),
        "memory_mb": env.memory_mb("digest"),
        "timeout_s": env.timeout_s("digest"),
    }


def report(results: dict[str, Any]) -> str:
    single, memory = results["single"], results["memory_mb"]
    lines = [
        f"Digest (issue 16), {single['records']} real single-event requests ({', '.join(SINGLE_EVENT)}) "
        f"and {results['batch20']['records']} {BATCH_WORKLOAD} requests; {ISSUES} issues modelled uniformly, "
        f"a new issue per {MIX_EVENTS // ISSUES} events:",
        f"  record put {single['record_wru']:.2f} WRU/event; listing {single['listing_bytes_per_record']:.0f} B/event; "
        f"issue update {single['issue_update_wru']} WRU (item {single['issue_item_bytes']} B, of which stream marks "
        f"{single['issue_mark_bytes']} B); keep-first {single['keep_wru']:.2f} WRU per new issue;",
        f"  digest CPU {single['cpu_ms_per_record']:.2f} ms/event without moto's backend "
        f"({single['cpu_ms_per_record_with_moto']:.2f} with it; moto wall {single['wall_ms_per_record_moto']:.2f}); "
        f"log {single['log_bytes_per_invocation']:.0f} B/invocation; "
        f"Lambda event {single['event_bytes_per_record']:.0f} B/record, "
        f"so at most {effective_batch(single, 10**9)} records fit a 6 MB invocation",
        f"  listings measured: project {single['listing_bytes_per_record']:.0f} B/event (zlib-packed pages), "
        f"filtered {single['filtered_bytes_per_record']:.0f} B/event in {single['filtered_items']} pages; "
        f"modelled at the template's batch: "
        + ", ".join(
            f"{name} {wru:.3f}"
            for name, wru in per_occurrence(single, results["batch_size"], memory)["listing_parts"].items()
        )
        + " WRU/event",
        f"  template: BatchSize {results['batch_size']}, "
        f"MaximumBatchingWindowInSeconds {results['batching_window_s']}, "
        f"digest {memory} MB, Timeout {results['timeout_s']} s",
        f"  issue listing index (GSI): entry {single.get('index_entry_wru', 0)} WRU, written on creation and when the "
        f"last-seen minute moves (measured in this run: {single.get('index_wru_measured', 0)} WRU); "
        "modelled per batch: new issues + 2 x issues x window/60",
        "  batch  record  listing  issues  keep-first  hours  index  WRU/event  $/M writes  digest Lambda $/M"
        "  ms/invocation   (target <= 1.3 WRU/event; records/invocation, full batches)",
    ]
    sizes = SIDE_BATCHES if results["batch_size"] in SIDE_BATCHES else (*SIDE_BATCHES, results["batch_size"])
    for size in sizes:
        row = per_occurrence(single, size, memory, batching_window_s=results["batching_window_s"])
        total = single["record_wru"] + row["wru"]
        lam = (
            row["invocations"] * 1e6 * prices.LAMBDA_PER_REQUEST
            + row["billed_ms"] * 1e6 / 1000 * memory / 1024 * prices.LAMBDA_ARM64_PER_GB_SECOND
        )
        over = " > Timeout" if row["billed_ms_per_invocation"] > results["timeout_s"] * 1000 else ""
        mark = " (template)" if size == results["batch_size"] else ""
        lines.append(
            f"  {row['batch']:>5}  {single['record_wru']:.2f}    {row['listing_wru']:.3f}    {row['issue_wru']:.3f}   "
            f"{row['keep_wru']:.3f}       {row['hour_wru']:.3f}  {row['index_wru']:.3f}  "
            f"{total:.2f}       ${total * prices.DYNAMODB_PER_WRU * 1e6:.2f}       "
            f"${lam:.3f}            {row['billed_ms_per_invocation']}{over}{mark}"
        )
    window = results["batching_window_s"]
    lines.append(
        f"  a batch fills only when the shard receives BatchSize records within the {window} s window: "
        f"at r events/s per stream shard the batch is about min(BatchSize, {window} x r)"
    )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    import os

    out = None
    if "--out" in argv:
        at = argv.index("--out")
        out = Path(argv[at + 1])
        argv = argv[:at] + argv[at + 2 :]
    n = int(argv[0]) if argv else EVENTS
    for function in ("rollbar_item", "appsignal_push", "crashlog_events"):
        os.environ.update(env.function_environment(function))
    os.environ["READS_SECRETS"] = "true"  # one process plays all three; CrashLog's verifies its HMAC secrets
    os.environ.update(env.in_process_environment())
    results = run(n)
    if out is not None:
        out.write_text(json.dumps(results, indent=1))
    else:
        print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
