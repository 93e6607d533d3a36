"""Tables and targets: what `make bench` prints, from the same dict it writes to results.json."""

from __future__ import annotations

from typing import Any

from bench import cost

HEADROOM = 0.7
"""Peak RSS may use at most this share of a function's memory (the rest is headroom)."""

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


def aws_table(results: dict[str, Any]) -> str:
    headers = [
        "workload",
        "request",
        "status",
        "AWS calls",
        "seq. round trips",
        "WRU (table+GSI)",
        "RRU",
        "S3 PUTs",
        "S3 bytes",
        "record item B",
        "log B",
    ]
    rows = []
    for name, w in results["workloads"].items():
        if w["state"] != "ok":
            rows.append([name, "-", w["state"], *["-"] * 8])
            continue
        for case, label in (
            ("warm", "warm"),
            ("first", "first (cold token, new issue)"),
            ("duplicate", "duplicate retry"),
        ):
            a = w["aws"][case]
            rows.append(
                [
                    name,
                    label,
                    str(a["status"]),
                    _ops(a["by_operation"]),
                    _num(a["round_trips"]),
                    f"{_num(a['wru'])} ({_num(a['wru_table'])}+{_num(a['wru_gsi'])})",
                    _num(a["rru"]),
                    _num(a["s3_puts"]),
                    _num(a["s3_bytes"]),
                    _num(a["record_bytes"]),
                    _num(a["log_bytes"]),
                ]
            )
    return _table(headers, rows, "lllrrrrrrrr")


def cost_table(results: dict[str, Any]) -> str:
    names = [n for n, w in results["workloads"].items() if w["state"] == "ok"]
    headers = ["per million occurrences (USD)", *names]
    rows = []
    for key, label in cost.LINES:
        rows.append([label, *(f"{results['workloads'][n]['cost']['lines'][key]:.4f}" for n in names)])
    rows.append(
        [
            "**total without storage** (targets)",
            *(f"**{results['workloads'][n]['cost']['running']:.2f}**" for n in names),
        ]
    )
    rows.append(["total with storage", *(f"{results['workloads'][n]['cost']['total']:.2f}" for n in names)])
    rows.append(
        ["floor (API + Lambda requests only)", *(f"{results['workloads'][n]['cost']['floor']:.2f}" for n in names)]
    )
    rows.append(["occurrences per request", *(str(results["workloads"][n]["occurrences"]) for n in names)])
    rows.append(["billed ms per request (model)", *(str(results["workloads"][n]["cost"]["billed_ms"]) for n in names)])
    rows.append(
        ["log bytes per request (+Lambda's own)", *(str(results["workloads"][n]["cost"]["log_bytes"]) for n in names)]
    )
    return _table(headers, rows)


def cpu_table(results: dict[str, Any]) -> str:
    headers = [
        "workload",
        "function",
        "handler CPU ms/request",
        "ms/occurrence",
        "json.loads ms",
        "ratio",
        "wall ms/request",
        "peak RSS MB",
        "memory MB",
    ]
    rows = []
    for name, w in results["workloads"].items():
        if w["state"] != "ok":
            rows.append([name, w["function"], w["state"], *["-"] * 6])
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
        d, ix = attrs.get("d", 0), attrs.get("ix", 0)
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
        "wall ms (import + DynamoDB)",
    ]
    rows = []
    for function, f in cold.get("functions", {}).items():
        if "error" in f:
            rows.append([function, f"error: {f['error'][:60]}", *["-"] * 6])
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
                _num(f["init_wall_ms"]),
            ]
        )
    rows.append(
        [
            "floor: import boto3; boto3.client('dynamodb')",
            "",
            "",
            _num(cold.get("floor_ms", 0)),
            "1.00",
            "",
            "",
            _num(cold.get("floor_wall_ms", 0)),
        ]
    )
    lines = [_table(headers, rows), "", "Top-level imports of one cold start (python -X importtime, ms):"]
    for function, f in cold.get("functions", {}).items():
        if "top_imports_ms" in f:
            lines.append(f"- {function}: " + ", ".join(f"{n} {ms:g}" for n, ms in f["top_imports_ms"]))
    if cold.get("floor_top_imports_ms"):
        lines.append("- floor: " + ", ".join(f"{n} {ms:g}" for n, ms in cold["floor_top_imports_ms"]))
    return "\n".join(lines)


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []

    def add(goal: str, subject: str, ok: bool, figure: str) -> None:
        found.append({"target": goal, "subject": subject, "pass": ok, "figure": figure})

    for name, w in results["workloads"].items():
        if w["state"] != "ok":
            found.append({"target": "all figures", "subject": name, "pass": None, "figure": w["state"]})
            continue
        running, total = w["cost"]["running"], w["cost"]["total"]
        figure = f"${running:.2f} (${total:.2f} with {results['assumptions']['retention_days']}-day storage)"
        if w["function"] == "rollbar_item":
            add("cost <= $3.00 per M single-event Rollbar occurrences", name, running <= 3.0, figure)
        if w["occurrences"] > 1:
            add("cost <= $1.00 per M AppSignal entries (batches of 20)", name, running <= 1.0, figure)
        if w["occurrences"] == 1:
            warm = w["aws"]["warm"]
            add("<= 3 DynamoDB WRU per single-event occurrence", name, warm["wru"] <= 3, f"{_num(warm['wru'])} WRU")
            add(
                "<= 2 sequential AWS round trips, warm single-event ingest",
                name,
                warm["round_trips"] <= 2,
                f"{_num(warm['round_trips'])} round trips",
            )
    for function, f in results["cold_start"].get("functions", {}).items():
        if "error" in f:
            continue
        add(
            "cold-start init <= 1.3x boto3 floor",
            function,
            f["ratio"] <= 1.3,
            f"{f['init_ms']:g} ms = {f['ratio']:.2f}x floor ({results['cold_start']['floor_ms']:g} ms); "
            f"paired samples {f['ratio_range'][0]:.2f}-{f['ratio_range'][1]:.2f}x",
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
        "## Warm handler CPU (AWS answered by a botocore before-send stub) and memory",
        cpu_table(results),
        "",
        f"## Cold start (fresh process, CPU ms, median of {results['cold_start'].get('runs', 0)}; x floor: paired)",
        cold_table(results),
        "",
        "## Targets",
        targets_text(results["targets"]),
        "",
        f"bench took {results['meta']['seconds']:.0f} s; figures in bench/results.json",
    ]
    return "\n".join(parts)
