"""Digest lag under a burst, in the local runner (issue 16; a measurement, not a test).

    PYTHONPATH=devtools:layers/lodge/python .venv/bin/python -m bench.digest_lag [SECONDS] [RATE]

Starts the runner with its stream poller (`--no-sync-digest`: the digest follows the stream as the
event source mapping does, not before each request), sends RATE Rollbar items per second for
SECONDS over loopback, and meanwhile polls AppSignal's `graphs.json` (the digest's hourly buckets,
one bounded read) for the project's count. The i-th accepted event counts as digested at the
first poll that sees at least i+1 counted; its lag is that time minus its 2xx. Prints p50/p99/max
(target p99 <= 5 s) and the poll interval, which bounds the resolution.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
POLL = 0.2
SENDERS = 4


def _start(workdir: Path) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    import requests

    state_file = workdir / "runner.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "devtools"), str(ROOT / "layers" / "lodge" / "python")])
    log = open(workdir / "runner.log", "wb")  # noqa: SIM115 - the runner's output for its lifetime
    command = [sys.executable, "-m", "lodge_devtools.runner", "--port", "0", "--demo", "--quiet"]
    process = subprocess.Popen(
        [*command, "--no-sync-digest", "--state-file", str(state_file)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((workdir / "runner.log").read_text())
        if state_file.exists():
            state: dict[str, Any] = json.loads(state_file.read_text())
            try:
                requests.get(state["url"] + "/__ready__", timeout=2)
                return process, state
            except requests.ConnectionError:
                pass
        time.sleep(0.2)
    process.terminate()
    raise RuntimeError("the runner did not start")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run(seconds: float, rate: float) -> dict[str, Any]:
    import requests

    from lodge_devtools.demo import DEMO_CREDENTIALS, DEMO_PROJECT_ID

    with tempfile.TemporaryDirectory() as folder:
        process, state = _start(Path(folder))
        url = state["url"]
        accepted: list[float] = []
        lock = threading.Lock()
        stop = threading.Event()
        observed: list[tuple[float, int]] = []
        failed: list[int] = []

        def send(offset: int) -> None:
            session = requests.Session()
            interval = SENDERS / rate
            start = time.monotonic() + offset / rate
            i = 0
            while not stop.is_set():
                due = start + i * interval
                time.sleep(max(0.0, due - time.monotonic()))
                body = {
                    "access_token": DEMO_CREDENTIALS["rollbar_post_server_item"],
                    "data": {
                        "environment": "bench",
                        "uuid": str(uuid.uuid4()),
                        "body": {"message": {"body": f"lag probe {(offset + i) % 50}"}},
                    },
                }
                try:
                    response = session.post(url + "/api/1/item/", json=body, timeout=10)
                except requests.RequestException:
                    failed.append(1)  # a slow runner: counted, not fatal
                    i += 1
                    continue
                if response.status_code == 200:
                    with lock:
                        accepted.append(time.monotonic())
                i += 1

        def poll() -> None:
            session = requests.Session()
            query = {"token": DEMO_CREDENTIALS["personal"], "kind": "web", "timeframe": "day", "fields[]": "count"}
            while not stop.is_set() or (observed and observed[-1][1] < len(accepted)):
                try:
                    response = session.get(f"{url}/api/{DEMO_PROJECT_ID}/graphs.json", params=query, timeout=10)
                except requests.RequestException:
                    continue
                if response.status_code == 200:
                    observed.append((time.monotonic(), sum(p["count"] for p in response.json()["data"])))
                if stop.is_set() and observed and time.monotonic() - observed[0][0] > seconds + 60:
                    return  # the digest never caught up: report what was seen
                time.sleep(POLL)

        try:
            baseline = 0
            senders = [threading.Thread(target=send, args=(k,), daemon=True) for k in range(SENDERS)]
            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            time.sleep(1.0)
            baseline = observed[-1][1] if observed else 0
            for thread in senders:
                thread.start()
            time.sleep(seconds)
            stop.set()
            for thread in senders:
                thread.join()
            poller.join(timeout=90)
        finally:
            process.terminate()
            process.wait(timeout=15)
    times = sorted(accepted)
    lags = []
    j = 0
    for i, at in enumerate(times):
        while j < len(observed) and observed[j][1] - baseline < i + 1:
            j += 1
        if j == len(observed):
            break
        lags.append(max(0.0, observed[j][0] - at))
    return {
        "seconds": seconds,
        "rate": rate,
        "accepted": len(times),
        "failed": len(failed),
        "digested_seen": len(lags),
        "p50": percentile(lags, 0.5),
        "p99": percentile(lags, 0.99),
        "max": max(lags) if lags else float("nan"),
    }


def report(figures: dict[str, Any]) -> str:
    return (
        f"Digest lag in the local runner, {figures['rate']:.0f} Rollbar items/s for {figures['seconds']:.0f} s "
        f"({figures['accepted']} accepted, {figures['failed']} failed, {figures['digested_seen']} seen counted): "
        f"p50 {figures['p50']:.2f} s, p99 {figures['p99']:.2f} s, max {figures['max']:.2f} s "
        f"(target p99 <= 5 s; resolution {POLL} s polls of graphs.json)"
    )


def main(argv: list[str]) -> int:
    seconds = float(argv[0]) if argv else 60.0
    rate = float(argv[1]) if len(argv) > 1 else 20.0
    print(report(run(seconds, rate)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
