"""`python -m tests.fuzz`: fuzz every endpoint in-process, plus a share over HTTP through the runner.

    python -m tests.fuzz                       # 10,000 cases per endpoint, 200 per endpoint over HTTP
    python -m tests.fuzz -n 500 -e rollbar_item --http 0 --seed 7

Prints a status histogram per endpoint, then every distinct traceback class with a count and the
first case that produced it. Exit status 1 when any case got a 500, escaped the handler, timed out,
or logged a traceback (the issue's rule: 0 of those).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for _path in (ROOT / "layers" / "lodge" / "python", ROOT / "devtools", ROOT):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


def main(argv: list[str] | None = None) -> int:
    from tests.fuzz.driver import InProcess
    from tests.fuzz.endpoints import BY_NAME, ENDPOINTS
    from tests.fuzz.run import Tally, fuzz_endpoint, fuzz_http

    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--cases", type=int, default=10_000, help="cases per endpoint in-process (0: none)")
    parser.add_argument("-e", "--endpoint", action="append", choices=sorted(BY_NAME), help="only these")
    parser.add_argument("--http", type=int, default=200, help="cases per endpoint over HTTP (0: none)")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    args = parser.parse_args(argv)
    endpoints = [BY_NAME[name] for name in args.endpoint] if args.endpoint else list(ENDPOINTS)

    print(f"fuzz: seed {args.seed}, {args.cases} cases per endpoint in-process, {args.http} over HTTP", flush=True)
    tallies: list[Tally] = []
    for endpoint in endpoints if args.cases > 0 else []:
        started = time.monotonic()
        with InProcess() as harness:  # a fresh emulation per endpoint: no state carries over
            tally = fuzz_endpoint(harness, endpoint, args.cases, args.seed)
        tallies.append(tally)
        took = time.monotonic() - started
        print(
            f"{endpoint.name:<18} n={tally.cases:<6} {tally.histogram()}  | 500s {tally.answered_500}"
            f" tracebacks {sum(tally.tracebacks.values())} | slowest {tally.slowest:.2f}s ({took:.0f}s)",
            flush=True,
        )
        for signature, count in tally.tracebacks.most_common():  # at once: a long run may be cut short
            print(f"    {count}x {signature}", flush=True)
    logged: dict[str, int] = {}
    if args.http:
        with tempfile.TemporaryDirectory(prefix="lodge-fuzz-") as workdir:
            http_tallies, http_logged = fuzz_http(endpoints, args.http, args.seed, Path(workdir))
        logged = dict(http_logged)
        for tally in http_tallies:
            print(f"{tally.endpoint:<25} n={tally.cases:<5} {tally.histogram()}  | 500s {tally.answered_500}")
            tallies.append(tally)
        print(f"runner log: {sum(logged.values())} tracebacks")
    print()
    failures = tracebacks = 0
    for tally in tallies:
        failures += tally.failures
        tracebacks += sum(tally.tracebacks.values())
        for signature, count in tally.tracebacks.most_common():
            print(f"[{tally.endpoint}] {count}x {signature}\n    e.g. {tally.examples[signature].describe()[:400]}")
        for key, case in tally.examples.items():
            if key.startswith("status "):
                print(f"[{tally.endpoint}] {key}\n    e.g. {case.describe()[:400]}")
    for signature, count in sorted(logged.items()):
        tracebacks += count
        print(f"[runner log] {count}x {signature}")
    print(
        f"\nfuzz: {sum(t.cases for t in tallies)} cases; {failures} answered 500, escaped, timed out or malformed;"
        f" {tracebacks} tracebacks logged"
    )
    return 1 if failures or tracebacks else 0


if __name__ == "__main__":
    sys.exit(main())
