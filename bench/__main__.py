"""`make bench`: run every measurement over bench/workloads/, print the tables, write results.json.

Each function is measured in fresh worker processes (bench.aws_run under moto, bench.cpu_run with a
stub), so figures never mix functions and peak RSS is one function's own.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import coldstart, console, cost, digest_run, env, meter, prices, report
from bench.workload import ROOT, Workload, load_all

RESULTS = Path(__file__).resolve().parent / "results.json"


def _worker(module: str, function: str, names: list[str]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.json"
        done = subprocess.run(
            [env.PYTHON, "-m", module, function, str(out), *names],
            env=env.subprocess_environment(function),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=240,
        )
        if done.returncode != 0 or not out.exists():
            tail = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            return {"error": tail[0]}
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def _bill(
    workload: Workload, metered: dict[str, Any], cpu: dict[str, Any], memory: int, digest: dict[str, Any]
) -> dict[str, Any]:
    """One metered request's bill per million occurrences (bench.cost) with its digest's lines, as
    results.json holds it."""
    bill = cost.per_million(
        metered,
        cpu["cpu_ms_per_request"],
        workload.occurrences,
        memory,
        env.retention_days(),
        wall_ms=cpu.get("wall_ms_min", cpu["wall_ms_per_request"]),
        platform_logs=env.platform_logs_written(workload.function),
    )
    figures = digest[digest_run.mix_of(workload.name)]
    per_occurrence = digest_run.per_occurrence(
        figures,
        digest["batch_size"],
        digest["memory_mb"],
        s3_gets_per_record=metered["s3_puts"],
        batching_window_s=digest["batching_window_s"],
    )
    cost.add_digest(bill, per_occurrence, digest["memory_mb"], env.platform_logs_written("digest"))
    return {
        **bill.as_dict(),
        "floor": round(cost.floor_per_million(workload.occurrences), 4),
        "per_request_total": round(bill.total * workload.occurrences / 1e6, 10),
    }


def _state(workload: Workload, aws: dict[str, Any], cpu: dict[str, Any]) -> str:
    if not workload.available():
        return "not available yet"
    for part in (aws, cpu):
        if "error" in part:
            return f"not available yet ({part['error'][:100]})"
    a, c = aws.get(workload.name, {}), cpu.get("workloads", {}).get(workload.name, {})
    if "error" in a or "error" in c:
        return f"error: {(a.get('error') or c.get('error'))[-120:]}"
    bad = [str(a[k]["status"]) for k in ("first", "warm", "duplicate") if a[k]["status"] != 200] + [
        str(s) for s in c["statuses"] if s != 200
    ]
    return f"answered {','.join(sorted(set(bad)))}" if bad else "ok"


def main(argv: list[str]) -> int:
    if "--report" in argv:  # re-print the last run's tables (after editing bench/report.py)
        last = json.loads(RESULTS.read_text())
        last["targets"] = report.targets(last)
        print(report.text(last))
        return 0
    started = time.perf_counter()
    workloads = load_all()
    functions: dict[str, list[Workload]] = {}
    for workload in workloads:
        functions.setdefault(workload.function, []).append(workload)
    results: dict[str, Any] = {"workloads": {}, "functions": {}}
    # The digest (issue 16): its figures join every workload's bill (bench.digest_run).
    print("digest: replaying requests and digesting the stream (moto) ...", file=sys.stderr)
    results["digest"] = digest = _digest(digest_run.EVENTS)
    available = []
    for function, members in functions.items():
        names = [w.name for w in members]
        memory = env.memory_mb(function)
        if not members[0].available():
            aws: dict[str, Any] = {"error": f"functions/{function}/app.py does not exist"}
            cpu: dict[str, Any] = aws
            print(f"{function}: not available yet", file=sys.stderr)
        else:
            print(f"{function}: metering AWS calls (moto) ...", file=sys.stderr)
            aws = _worker("bench.aws_run", function, names)
            print(f"{function}: measuring CPU and memory (stub) ...", file=sys.stderr)
            cpu = _worker("bench.cpu_run", function, names)
            if "error" not in aws and "error" not in cpu:
                available.append(function)
        results["functions"][function] = {
            "memory_mb": memory,
            "peak_rss_mb": cpu.get("peak_rss_mb"),
            "rss_after_import_mb": cpu.get("rss_after_import_mb"),
            "error": aws.get("error") or cpu.get("error"),
        }
        for workload in members:
            state = _state(workload, aws, cpu)
            row: dict[str, Any] = {
                "function": function,
                "description": workload.description,
                "source": workload.source,
                "occurrences": workload.occurrences,
                "wire_bytes": len(workload.body),
                "decoded_bytes": len(workload.decoded_body()),
                "memory_mb": memory,
                "state": state,
            }
            if state == "ok":
                a, c = aws[workload.name], cpu["workloads"][workload.name]
                bills = {case: _bill(workload, a[case], c, memory, digest) for case in ("warm", "offloaded")}
                row.update(
                    aws=a,
                    cpu=c,
                    peak_rss_mb=cpu["peak_rss_mb"],
                    cost=bills["warm"],
                    cost_offloaded=bills["offloaded"],
                )
            results["workloads"][workload.name] = row
    metered = {n: w["aws"] for n, w in results["workloads"].items() if w["state"] == "ok"}
    results["custom_metrics"] = cost.custom_metrics(metered)
    print("cold start: fresh processes ...", file=sys.stderr)
    results["cold_start"] = coldstart.measure(available) if available else {"functions": {}, "floor_ms": 0}
    results["assumptions"] = {
        "simulated_latency_ms": meter.SIMULATED_LATENCY_MS,
        "lambda_mb_per_vcpu": prices.LAMBDA_MB_PER_VCPU,
        "platform_log_bytes": cost.PLATFORM_LOG_BYTES,
        "dynamodb_item_overhead_bytes": cost.ITEM_OVERHEAD_BYTES,
        "retention_days": env.retention_days(),
        "rss_headroom": report.HEADROOM,
    }
    # Console pages (bench/console.py): page size and read units of the issues list and an issue page.
    print("console: seeding 1,000 issues and rendering pages (moto) ...", file=sys.stderr)
    results["console"] = console.measure()
    results["targets"] = report.targets(results)
    results["meta"] = {
        "when": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} x{_cpus()}",
        "prices": f"{prices.PRICES_DATE}, {prices.PRICES_SOURCE}",
        "seconds": time.perf_counter() - started,
    }
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(report.text(results))
    print(console.text(results["console"]))
    # alerts (issue 11): the extra cost of an ingest that hands off an alert
    subprocess.run([env.PYTHON, "-m", "bench.alerts"], env=env.subprocess_environment(), cwd=ROOT, timeout=240)
    # scrubbing (issue 15): the share of handler CPU the scrubber takes, on vs off, same payload mix
    subprocess.run([env.PYTHON, "-m", "bench.scrub_cpu"], env=env.subprocess_environment(), cwd=ROOT, timeout=600)
    # listings at scale (issue 16): reads and handler time per query API and filter over 50k issues, at 10k
    # and 100k occurrences (~1 min); `python -m bench.listings 1000000` adds the million (~15 min in moto).
    scale = os.environ.get("LODGE_BENCH_LISTINGS", "10000 100000").split()
    subprocess.run(
        [env.PYTHON, "-m", "bench.listings", *scale], env=env.subprocess_environment(), cwd=ROOT, timeout=3600
    )
    return 0


def _digest(events: int) -> dict[str, Any]:
    """bench.digest_run's figures, measured in a fresh process (it mocks AWS and sets its environment)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "digest.json"
        subprocess.run(
            [env.PYTHON, "-m", "bench.digest_run", str(events), "--out", str(out)],
            env=env.subprocess_environment(),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            check=True,
            timeout=900,
        )
        figures: dict[str, Any] = json.loads(out.read_text())
        return figures


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
