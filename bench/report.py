"""Tables and targets: what `make bench` prints, from the same dict it writes to results.json."""

from __future__ import annotations

from typing import Any

from bench import cost

HEADROOM = 0.7
"""Peak RSS may use at most this share of a function's memory (the rest is headroom)."""
SINGLE_EVENT_USD = 2.10
"""Issue 16: every request-driven line of the bill, per million single-event occurrences."""
BATCH_ENTRY_USD = 0.25
"""Issue 16: AppSignal batches of 20, per million entries."""
WRU_PER_EVENT = 1.3
"""Issue 16: write units per single event, digest included."""

_OPS = {
    "GetItem": "G",
    "PutItem": "P",
    "UpdateItem": "U",
    "DeleteItem": "D",
    "Query": "Q",
    "PutObject": "S3put",
    "DeleteObjectTagging": "S3deltag",
    "PutObjectTagging": "S3tag",
    "GetObject": "S3get",
}


def _ops(by_operation: dict[str, int]) -> str:
    return " ".join(f"{n}{_OPS.get(k.split(':')[1], k)}" for k, n in by_operation.items()) or "-"


def _num(value: float) -> str:
    return f"{value:g}"


def _table(headers: list[str], rows: list[list[str]], align: str = "") -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    align = align or "l" + "r" * (len(headers) - 1)

    def fmt(cells: list[str]) -> str:
        return (
            "| "
            + " | ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, align, strict=True))
            + " |"
        )

    rule = (
        "|"
        + "|".join(("-" * (w + 1) + ":") if a == "r" else ("-" * (w + 2)) for w, a in zip(widths, align, strict=True))
        + "|"
    )
    return "\n".join([fmt(headers), rule, *(fmt(r) for r in rows)])


CASES = (
    ("warm", "warm"),
    ("first", "first (cold token, new issue)"),
    ("duplicate", "duplicate retry"),
    ("refused", "refused (wrong credential)"),
    ("offloaded", "offloaded (OffloadThreshold at its minimum)"),
)


def aws_table(results: dict[str, Any]) -> str:
    headers = [
        "workload",
        "request",
        "status",
        "AWS calls",
        "seq. round trips",
        "AWS wait ms",
        "WRU (table+GSI)",
        "RRU",
        "S3 PUTs",
        "S3 bytes",
        "S3 tags",
        "record item B",
        "log B",
        "EMF metrics",
    ]
    rows = []
    for name, w in results["workloads"].items():
        if w["state"] != "ok":
            rows.append([name, "-", w["state"], *["-"] * (len(headers) - 3)])
            continue
        for case, label in CASES:
            a = w["aws"].get(case)
            if a is None:
                continue
            rows.append(
                [
                    name,
                    label,
                    str(a["status"]),
                    _ops(a["by_operation"]),
                    _num(a["round_trips"]),
                    _num(a.get("aws_wait_ms", 0)),
                    f"{_num(a['wru'])} ({_num(a['wru_table'])}+{_num(a['wru_gsi'])})",
                    _num(a["rru"]),
                    _num(a["s3_puts"]),
                    _num(a["s3_bytes"]),
                    _num(a.get("s3_tags", 0)),
                    _num(a["record_bytes"]),
                    _num(a["log_bytes"]),
                    ", ".join(m.split("/", 1)[1].split("{")[0] for m in a.get("emf", [])) or "-",
                ]
            )
    return _table(headers, rows, "lllrrrrrrrrrrl")


def cost_table(results: dict[str, Any], key: str = "cost") -> str:
    """The bill per million occurrences of each workload (`key`: which metered case's bill), request-
    driven lines first, then retention-driven ones; whatever lines the bills hold, in their order."""
    names = [n for n, w in results["workloads"].items() if w["state"] == "ok" and key in w]
    bills = {n: results["workloads"][n][key] for n in names}
    headers = ["per million occurrences (USD)", *names]
    rows = []
    for kind, total_label in (
        (cost.REQUEST, "**request-driven total** (targets)"),
        (cost.RETENTION, "retention-driven total"),
    ):
        labels: dict[str, str] = {}
        for bill in bills.values():
            for line in bill["lines"]:
                if line["kind"] == kind:
                    labels.setdefault(line["key"], line["label"])
        for line_key, label in labels.items():
            cells = []
            for n in names:
                usd = sum(x["usd"] for x in bills[n]["lines"] if x["key"] == line_key and x["kind"] == kind)
                cells.append(f"{usd:.4f}")
            rows.append([f"{label}" if kind == cost.REQUEST else f"{label} [retention]", *cells])
        field = "request_driven" if kind == cost.REQUEST else "retention_driven"
        bold = kind == cost.REQUEST
        rows.append(
            [total_label, *((f"**{bills[n][field]:.2f}**" if bold else f"{bills[n][field]:.2f}") for n in names)]
        )
    rows.append(["total", *(f"{bills[n]['total']:.2f}" for n in names)])
    rows.append(["floor (API + Lambda requests only)", *(f"{bills[n]['floor']:.2f}" for n in names)])
    rows.append(["occurrences per request", *(str(results["workloads"][n]["occurrences"]) for n in names)])
    rows.append(["API Gateway requests billed per request", *(str(bills[n]["api_requests"]) for n in names)])
    rows.append(["billed ms per request (CPU / CPU share + AWS waits)", *(str(bills[n]["billed_ms"]) for n in names)])
    rows.append(
        [
            "diagnostic: billed ms from wall time (inflated on a busy machine)",
            *(str(bills[n].get("billed_ms_wall_model", 0)) for n in names),
        ]
    )
    rows.append(["digest: records per invocation", *(str(bills[n].get("digest_batch", 0)) for n in names)])
    rows.append(["digest: WRU per occurrence", *(f"{bills[n].get('digest_wru', 0):.3f}" for n in names)])
    rows.append(["log bytes per request (+Lambda's own)", *(str(bills[n]["log_bytes"]) for n in names)])
    return _table(headers, rows)


def custom_metrics_text(results: dict[str, Any]) -> str:
    """The fixed monthly charge of the custom metrics the handlers created during the bench."""
    m = results.get("custom_metrics", {})
    steady, rare = m.get("every_request", []), m.get("rare", [])
    lines = [
        f"every accepted request publishes {len(steady)}: ${m.get('usd_per_month', 0):.2f}/month"
        + (f" ({', '.join(steady)})" if steady else ""),
        f"only refusals, duplicates, new issues or offloads publish {len(rare)}: at most "
        f"${m.get('usd_per_month_rare_at_most', 0):.2f}/month, prorated by the hours they occur in"
        + (f" ({', '.join(rare)})" if rare else ""),
    ]
    return "\n".join(lines)


def cpu_table(results: dict[str, Any]) -> str:
    headers = [
        "workload",
        "function",
        "handler CPU ms/request",
        "ms/occurrence",
        "json.loads ms",
        "ratio",
        "wall ms/request",
        "wall ms (least disturbed batch)",
        "peak RSS MB",
        "memory MB",
    ]
    rows = []
    for name, w in results["workloads"].items():
        if w["state"] != "ok":
            rows.append([name, w["function"], w["state"], *["-"] * 7])
            continue
        c = w["cpu"]
        rows.append(
            [
                name,
                w["function"],
                f"{c['cpu_ms_per_request']:.3f}",
                f"{c['cpu_ms_per_occurrence']:.3f}",
                f"{c['json_loads_ms']:.4f}",
                f"{c['cpu_ratio_to_json_loads']:g}x",
                f"{c['wall_ms_per_request']:.3f}",
                f"{c.get('wall_ms_min', 0):.3f}",
                f"{w['peak_rss_mb']:.1f}",
                str(w["memory_mb"]),
            ]
        )
    return _table(headers, rows)


def record_table(results: dict[str, Any]) -> str:
    """What the stored record item is made of (warm request): where its write units go."""
    headers = [
        "workload",
        "record item B",
        "d (compressed detail)",
        "ix (index entries)",
        "keys + rest",
        "GSI entry B",
        "decoded request B",
    ]
    rows = []
    for name, w in results["workloads"].items():
        if w["state"] != "ok":
            continue
        warm = w["aws"]["warm"]
        attrs = warm.get("record_attr_bytes", {})
        from lodge.storage.records import DETAIL_ATTR, INDEX_ATTR  # the names live in storage only

        d, ix = attrs.get(DETAIL_ATTR, 0), attrs.get(INDEX_ATTR, 0)
        rows.append(
            [
                name,
                _num(warm["record_bytes"]),
                str(d),
                str(ix),
                str(sum(attrs.values()) - d - ix),
                _num(warm["record_gsi_bytes"]),
                str(w["decoded_bytes"]),
            ]
        )
    return _table(headers, rows)


def cold_table(results: dict[str, Any]) -> str:
    cold = results["cold_start"]
    headers = [
        "function",
        "import ms",
        "x floor",
        "import + DynamoDB client ms",
        "x floor",
        "+ S3 client ms",
        "x floor",
        "x boto3 floor (older figure)",
        "wall ms (import + DynamoDB)",
    ]
    rows = []
    for function, f in cold.get("functions", {}).items():
        if "error" in f:
            rows.append([function, f"error: {f['error'][:60]}", *["-"] * 7])
            continue
        rows.append(
            [
                function,
                _num(f["import_ms"]),
                f"{f['ratio_import']:.2f}",
                _num(f["init_ms"]),
                f"{f['ratio']:.2f}",
                _num(f["init_with_s3_ms"]),
                f"{f['ratio_with_s3']:.2f}",
                f"{f.get('ratio_boto3', 0):.2f}",
                _num(f["init_wall_ms"]),
            ]
        )
    for label, key, botocore_ratio, boto3_ratio in (
        ("floor: botocore.session.get_session().create_client('dynamodb')", "floor", "1.00", ""),
        ("older floor: import boto3; boto3.client('dynamodb')", "boto3_floor", "", "1.00"),
    ):
        ms, wall = _num(cold.get(f"{key}_ms", 0)), _num(cold.get(f"{key}_wall_ms", 0))
        rows.append([label, "", "", ms, botocore_ratio, "", "", boto3_ratio, wall])
    lines = [_table(headers, rows), "", "Top-level imports of one cold start (python -X importtime, ms):"]
    for function, f in cold.get("functions", {}).items():
        if "top_imports_ms" in f:
            lines.append(f"- {function}: " + ", ".join(f"{n} {ms:g}" for n, ms in f["top_imports_ms"]))
    if cold.get("floor_top_imports_ms"):
        lines.append("- botocore floor: " + ", ".join(f"{n} {ms:g}" for n, ms in cold["floor_top_imports_ms"]))
    return "\n".join(lines)


def digest_text(results: dict[str, Any]) -> str:
    if "digest" not in results:
        return "not measured"
    from bench import digest_run

    return digest_run.report(results["digest"])


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def add(goal: str, subject: str, ok: bool, figure: str) -> None:
        found.append({"target": goal, "subject": subject, "pass": ok, "figure": figure})

    for name, w in results["workloads"].items():
        if w["state"] != "ok":
            found.append({"target": "all figures", "subject": name, "pass": None, "figure": w["state"]})
            continue
        bill = w["cost"]
        figure = (
            f"${bill['request_driven']:.2f} request-driven "
            f"(+ ${bill['retention_driven']:.2f} retention-driven for {results['assumptions']['retention_days']} days)"
        )
        warm = w["aws"]["warm"]
        if w["occurrences"] == 1:
            add(
                f"request-driven bill <= ${SINGLE_EVENT_USD:.2f} per M single events",
                name,
                bill["request_driven"] <= SINGLE_EVENT_USD,
                figure,
            )
            digest_wru = bill.get("digest_wru", 0.0)
            add(
                f"<= {WRU_PER_EVENT} DynamoDB WRU per single event (request path + digest)",
                name,
                warm["wru"] + digest_wru <= WRU_PER_EVENT,
                f"{warm['wru'] + digest_wru:.2f} WRU = {_num(warm['wru'])} request + {digest_wru:.3f} digest "
                f"(batches of {bill.get('digest_batch', 0)} records)",
            )
            add(
                "1 sequential AWS round trip, warm single-event ingest",
                name,
                warm["round_trips"] <= 1,
                f"{_num(warm['round_trips'])} round trips",
            )
        else:
            add(
                f"request-driven bill <= ${BATCH_ENTRY_USD:.2f} per M entries (batches of {w['occurrences']})",
                name,
                bill["request_driven"] <= BATCH_ENTRY_USD,
                figure,
            )
    for function, f in results["cold_start"].get("functions", {}).items():
        if "error" in f:
            continue
        add(
            "cold-start init <= 1.3x botocore floor",
            function,
            f["ratio"] <= 1.3,
            f"{f['init_ms']:g} ms = {f['ratio']:.2f}x floor ({results['cold_start']['floor_ms']:g} ms); "
            f"paired samples {f['ratio_range'][0]:.2f}-{f['ratio_range'][1]:.2f}x; "
            f"{f.get('ratio_boto3', 0):.2f}x the older boto3 floor",
        )
    for function, f in results["functions"].items():
        if f.get("peak_rss_mb") is None:
            continue
        limit = f["memory_mb"] * HEADROOM
        fits_128 = f["peak_rss_mb"] <= 128 * HEADROOM
        add(
            f"peak RSS <= {HEADROOM:.0%} of configured memory",
            function,
            f["peak_rss_mb"] <= limit,
            f"{f['peak_rss_mb']:.1f} MB of {f['memory_mb']} MB"
            + ("; fits 128 MB" if fits_128 else "; too big for 128 MB"),
        )
    return found


def targets_text(found: list[dict[str, Any]]) -> str:
    lines = []
    for t in found:
        mark = "n/a " if t["pass"] is None else ("PASS" if t["pass"] else "MISS")
        lines.append(f"{mark}  {t['target']}: {t['subject']}: {t['figure']}")
    return "\n".join(lines)


def text(results: dict[str, Any]) -> str:
    meta = results["meta"]
    parts = [
        f"Lodge bench — {meta['when']} — Python {meta['python']} on {meta['machine']} — prices {meta['prices']}",
        "",
        "## AWS per request (moto in-process; units from item sizes by DynamoDB's rules)",
        aws_table(results),
        "",
        "## Record item composition (warm request, bytes by DynamoDB's size rules)",
        record_table(results),
        "",
        f"## Cost per million occurrences, us-east-1 list prices ({meta['prices']})",
        cost_table(results),
        "",
        "## Cost per million occurrences when the detail goes to S3 (the offloaded request above)",
        cost_table(results, "cost_offloaded"),
        "",
        "## CloudWatch custom metrics (fixed monthly, from the handlers' EMF lines during the bench)",
        custom_metrics_text(results),
        "",
        "## Warm handler CPU (AWS answered by a botocore before-send stub) and memory",
        cpu_table(results),
        "",
        f"## Cold start (fresh process, CPU ms, median of {results['cold_start'].get('runs', 0)}; "
        "x floor: paired, against bare botocore)",
        cold_table(results),
        "",
        "## The digest's write units and Lambda by batch size (bench.digest_run)",
        digest_text(results),
        "",
        "## Targets (the request-driven bill includes the digest's lines)",
        targets_text(results["targets"]),
        "",
        f"bench took {results['meta']['seconds']:.0f} s; figures in bench/results.json",
    ]
    return "\n".join(parts)
