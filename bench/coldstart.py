"""Cold start: init time of a function in a fresh Python process, next to the botocore floor.

Each sample is a new interpreter (the layer on PYTHONPATH, dummy AWS credentials, the function's
environment from template.yaml). Timed inside the process, from before the first import: the
interpreter's own start-up is the same for both and left out. Init is CPU-bound (imports, service
models), so the figures are the process's CPU time, which machine load does not inflate the way it
does wall time (wall time of the whole init is kept alongside). The ratio is the median of paired
samples (function run i / floor run i). Phases: importing the handler module;
creating the DynamoDB client (every first request does); creating the S3 client (only a request that
offloads detail does). The floor is what Lodge itself builds on, bare botocore:
`import botocore.session; botocore.session.get_session().create_client("dynamodb")`, in the same
conditions; `import boto3; boto3.client("dynamodb")` (the earlier floor, which imports boto3's
resource layer on top) is measured beside it for comparison. Samples are interleaved (floors, each
function, floors, ...) so machine load hits all alike.
"""

from __future__ import annotations

import json
import statistics
import subprocess
from typing import Any

from bench import env
from bench.workload import ROOT

RUNS = 9

_PROBE = r"""
import time
w0, c0 = time.perf_counter(), time.process_time()
import sys
def mark():
    return time.perf_counter() - w0, time.process_time() - c0
if sys.argv[1] == "floor":
    import botocore.session
    botocore.session.get_session().create_client("dynamodb")
    t1 = t2 = t3 = mark()
elif sys.argv[1] == "floor-boto3":
    import boto3
    boto3.client("dynamodb")
    t1 = t2 = t3 = mark()
else:
    import importlib.util
    spec = importlib.util.spec_from_file_location("app", sys.argv[2])
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
    spec.loader.exec_module(module)
    t1 = mark()
    from lodge import aws
    aws.dynamodb()
    t2 = mark()
    aws.s3()
    t3 = mark()
import json
print("\n" + json.dumps({"import": t1[1], "dynamodb": t2[1], "s3": t3[1], "wall_dynamodb": t2[0]}))
"""


FLOORS = ("floor", "floor-boto3")
"""Probe names of the botocore floor (the one ratios are taken against) and the older boto3 floor."""


def _probe_args(function: str | None, floor: str = "floor") -> list[str]:
    if function is None:
        return [_PROBE, floor]
    return [_PROBE, "function", str(ROOT / "functions" / function / "app.py")]


def _sample(function: str | None, floor: str = "floor") -> dict[str, float]:
    args = [env.PYTHON, "-c", *_probe_args(function, floor)]
    done = subprocess.run(
        args, env=env.subprocess_environment(function), capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def measure(functions: list[str], runs: int = RUNS) -> dict[str, Any]:
    """Median init figures (ms) per function and for the floor, with the ratio to the floor."""
    samples: dict[str, list[dict[str, float]]] = {floor: [] for floor in FLOORS}
    errors: dict[str, str] = {}
    alive = []
    for function in functions:  # one discarded run each: compiles .pyc files, as a deployed package has them
        try:
            _sample(function)
            alive.append(function)
            samples[function] = []
        except Exception as failure:
            errors[function] = str(failure)
    for floor_name in FLOORS:
        _sample(None, floor_name)
    for _ in range(runs):
        for floor_name in FLOORS:
            samples[floor_name].append(_sample(None, floor_name))
        for function in alive:
            samples[function].append(_sample(function))
    floor = statistics.median(s["dynamodb"] for s in samples["floor"]) * 1000
    boto3_floor = statistics.median(s["dynamodb"] for s in samples["floor-boto3"]) * 1000
    result: dict[str, Any] = {
        "runs": runs,
        "clock": "process CPU time",
        "floor": "botocore: botocore.session.get_session().create_client('dynamodb')",
        "floor_ms": round(floor, 1),
        "floor_wall_ms": round(statistics.median(s["wall_dynamodb"] for s in samples["floor"]) * 1000, 1),
        "floor_top_imports_ms": [[name, round(ms, 1)] for name, ms in import_breakdown(None)],
        "boto3_floor_ms": round(boto3_floor, 1),
        "boto3_floor_wall_ms": round(statistics.median(s["wall_dynamodb"] for s in samples["floor-boto3"]) * 1000, 1),
        "functions": {},
    }
    for function in alive:
        rows = samples[function]
        pairs = [r["dynamodb"] / f["dynamodb"] for r, f in zip(rows, samples["floor"], strict=True)]
        boto3_pairs = [r["dynamodb"] / f["dynamodb"] for r, f in zip(rows, samples["floor-boto3"], strict=True)]
        figures = {
            phase: round(statistics.median(r[phase] for r in rows) * 1000, 1) for phase in ("import", "dynamodb", "s3")
        }
        result["functions"][function] = {
            "import_ms": figures["import"],
            "init_ms": figures["dynamodb"],
            "init_with_s3_ms": figures["s3"],
            "ratio_import": round(figures["import"] / floor, 2),
            "ratio": round(statistics.median(pairs), 2),
            "init_wall_ms": round(statistics.median(r["wall_dynamodb"] for r in rows) * 1000, 1),
            "ratio_with_s3": round(figures["s3"] / floor, 2),
            "ratio_range": [round(min(pairs), 2), round(max(pairs), 2)],
            "ratio_boto3": round(statistics.median(boto3_pairs), 2),
            "top_imports_ms": [[name, round(ms, 1)] for name, ms in import_breakdown(function)],
        }
    for function, error in errors.items():
        result["functions"][function] = {"error": error}
    return result


def import_breakdown(function: str | None, top: int = 6) -> list[tuple[str, float]]:
    """The costliest top-level imports of one cold start (python -X importtime), in ms: where init goes."""
    args = [env.PYTHON, "-X", "importtime", "-c", *_probe_args(function)]
    done = subprocess.run(
        args, env=env.subprocess_environment(function), capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    found: list[tuple[str, float]] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, name = line[len("import time:") :].split("|")
        if not name[1:].startswith(" "):  # top level: no indentation after the separator's space
            found.append((name.strip(), int(cumulative) / 1000))
    return sorted(found, key=lambda item: -item[1])[:top]
