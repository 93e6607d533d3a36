"""`python -m bench.scrub_cpu` (also run by `make bench`): the CPU server-side scrubbing adds.

Every workload (the realistic payload mix of bench/workloads) runs through its warm handler with
AWS answered by bench.stub, as bench.cpu_run does, twice per round: once with the default scrubbing
policy and once with scrubbing off (`lodge.scrubbing.policy_for` answering a disabled policy), the
two alternating so drift on a shared machine hits both alike; the least CPU of the rounds is kept.
Prints, per workload and for the whole mix (each workload weighted alike), handler CPU with and
without scrubbing and the share of handler CPU the scrubber takes: (on - off) / on. Target: at most
15 % over the mix.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import env
from bench.workload import ROOT, FakeContext, Workload, load, load_all, load_handler, under_flood_limit, worker_main

TARGET_SHARE = 0.15
ROUNDS = 9
BATCH = 40


def _cpu_per_request(handler: Any, workload: Workload, credentials: dict[str, str]) -> float:
    import time

    events = [workload.request(credentials).event() for _ in range(BATCH)]
    context = FakeContext()
    under_flood_limit()
    started = time.process_time()
    for event in events:
        handler.lambda_handler(event, context)
    return (time.process_time() - started) / BATCH


def run(function: str, names: list[str]) -> dict[str, Any]:
    """Worker: one function's workloads, scrubbing on and off (a fresh process per function)."""
    from bench.stub import Stub

    stub = Stub()
    handler = load_handler(function)
    from lodge import aws, scrub, scrubbing

    stub.attach(aws.dynamodb(), aws.s3())
    real_policy_for = scrubbing.policy_for
    disabled = scrub.Policy.build(enabled=False)
    results: dict[str, Any] = {}
    for name in names:
        workload = load(name)
        for _ in range(3):  # warm: imports, caches, the stub's first answers
            _cpu_per_request(handler, workload, stub.credentials)
        on, off = [], []
        for _ in range(ROUNDS):
            scrubbing.policy_for = real_policy_for
            on.append(_cpu_per_request(handler, workload, stub.credentials))
            scrubbing.policy_for = lambda *_: disabled
            off.append(_cpu_per_request(handler, workload, stub.credentials))
        scrubbing.policy_for = real_policy_for
        # The least CPU of each: what the code costs, with the least interference from neighbours.
        results[name] = {"on_ms": min(on) * 1000, "off_ms": min(off) * 1000}
    return results


def _worker(function: str, names: list[str]) -> dict[str, Any]:
    import subprocess

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out.json"
        done = subprocess.run(
            [env.PYTHON, "-m", "bench.scrub_cpu", "--worker", function, str(out), *names],
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


def main() -> int:
    functions: dict[str, list[str]] = {}
    for workload in load_all():
        if workload.available():
            functions.setdefault(workload.function, []).append(workload.name)
    rows: dict[str, dict[str, float]] = {}
    for function, names in functions.items():
        result = _worker(function, names)
        if "error" in result:
            print(f"scrubbing CPU: {function}: {result['error']}")
            continue
        rows.update(result)
    print("\nScrubbing: handler CPU per request with the default policy and with scrubbing off")
    print(f"{'workload':<26} {'on ms':>8} {'off ms':>8} {'scrub share':>12}")
    for name, row in rows.items():
        share = (row["on_ms"] - row["off_ms"]) / row["on_ms"] if row["on_ms"] else 0.0
        print(f"{name:<26} {row['on_ms']:>8.3f} {row['off_ms']:>8.3f} {share:>11.1%}")
    if rows:
        on = sum(row["on_ms"] for row in rows.values())
        off = sum(row["off_ms"] for row in rows.values())
        share = (on - off) / on if on else 0.0
        verdict = "ok" if share <= TARGET_SHARE else "OVER TARGET"
        print(f"scrubbing CPU: {share:.1%} of handler CPU over the mix (target <= {TARGET_SHARE:.0%}): {verdict}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        sys.exit(worker_main(run, sys.argv[2:]))
    sys.exit(main())
