"""What the bench reads from template.yaml: each function's memory, environment and permissions,
and the table's keys and GSI, so the figures follow the template rather than copies of it."""

from __future__ import annotations

import contextlib
import os
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from bench import units

ROOT = Path(__file__).resolve().parents[1]
PYTHONPATH = [ROOT / "layers" / "lodge" / "python", ROOT / "devtools", ROOT]
TABLE_NAME = "lodge-bench"
BUCKET_NAME = "lodge-bench-payloads"


@lru_cache(maxsize=1)
def template() -> dict[str, Any]:
    from lodge_devtools import template as tpl

    return tpl.load()


def _function_resource(function: str) -> dict[str, Any]:
    from lodge_devtools import template as tpl

    for resource in tpl.resources(template(), "AWS::Serverless::Function").values():
        if str(resource["Properties"].get("CodeUri", "")).rstrip("/").endswith(f"functions/{function}"):
            return dict(resource["Properties"])
    raise KeyError(function)


def memory_mb(function: str) -> int:
    globals_ = template().get("Globals", {}).get("Function", {})
    try:
        own = _function_resource(function).get("MemorySize")
    except KeyError:
        own = None
    return int(own or globals_.get("MemorySize", 128))


def platform_logs_written(function: str) -> bool:
    """Whether Lambda writes its START/END/REPORT lines: they are INFO-level system logs, so a
    `LoggingConfig.SystemLogLevel` of WARN or above (function over Globals) drops them."""
    globals_ = template().get("Globals", {}).get("Function", {}).get("LoggingConfig", {})
    try:
        own = _function_resource(function).get("LoggingConfig", {})
    except KeyError:
        own = {}
    level = str({**globals_, **own}.get("SystemLogLevel", "INFO")).upper()
    return level in ("DEBUG", "INFO")


def uses_s3(function: str) -> bool:
    try:
        return "s3:" in repr(_function_resource(function).get("Policies", ""))
    except KeyError:
        return False


def _plain(value: Any, default: str) -> str:
    return str(value) if isinstance(value, (str, int, float)) else default


def function_environment(function: str) -> dict[str, str]:
    """The function's environment as Lambda would set it (intrinsics replaced by bench values)."""
    variables: dict[str, Any] = dict(
        template().get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    with contextlib.suppress(KeyError):
        variables.update(_function_resource(function).get("Environment", {}).get("Variables", {}))
    params = template().get("Parameters", {})
    env = {name: _plain(value, "") for name, value in variables.items()}
    env.update(TABLE_NAME=TABLE_NAME, BUCKET_NAME=BUCKET_NAME)
    for name, param in (("RETENTION_DAYS", "RetentionDays"), ("OFFLOAD_THRESHOLD", "OffloadThreshold")):
        if name in env and not env[name]:
            env[name] = str(params.get(param, {}).get("Default", ""))
    env.setdefault("POWERTOOLS_SERVICE_NAME", function)
    env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = str(memory_mb(function))
    env["AWS_LAMBDA_FUNCTION_NAME"] = function
    return {k: v for k, v in env.items() if v != ""}


def retention_days() -> int:
    return int(template().get("Parameters", {}).get("RetentionDays", {}).get("Default", 90))


def in_process_environment() -> dict[str, str]:
    """What a bench module that runs the layer in its own process (against moto) sets besides its
    functions' template environment: dummy credentials, the bench's table, bucket and namespace."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # moto's dummy credentials
        "AWS_DEFAULT_REGION": "us-east-1",
        "TABLE_NAME": TABLE_NAME,
        "BUCKET_NAME": BUCKET_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": "LodgeBench",
    }


def subprocess_environment(function: str | None = None) -> dict[str, str]:
    """A clean environment for a fresh Python: the layer on PYTHONPATH, dummy AWS credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "PYTHON"))}
    env.update(
        PYTHONPATH=os.pathsep.join(str(p) for p in PYTHONPATH),
        PYTHONHASHSEED="0",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - dummy credentials for moto and the stub
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    if function:
        env.update(function_environment(function))
    return env


def table_keys() -> tuple[tuple[str, ...], units.Index]:
    from lodge_devtools import emulation

    props = emulation.table_properties(template())
    keys = tuple(k["AttributeName"] for k in props["KeySchema"])
    if not props.get("GlobalSecondaryIndexes"):
        # No index since issue 16 (the digest writes the listing): an index nothing is ever in.
        return keys, units.Index("none", keys, ("__no_index__",), ())
    (gsi,) = props["GlobalSecondaryIndexes"]
    projection = gsi["Projection"]
    projected = None if projection["ProjectionType"] == "ALL" else tuple(projection.get("NonKeyAttributes", ()))
    return keys, units.Index(gsi["IndexName"], keys, (k["AttributeName"] for k in gsi["KeySchema"]), projected)


PYTHON = sys.executable


def _digest_stream_mapping() -> dict[str, Any]:
    """The digest's DynamoDB stream event source (template.yaml, DigestFunction's Events)."""
    events = _function_resource("digest").get("Events", {})
    (mapping,) = [e["Properties"] for e in events.values() if e.get("Type") == "DynamoDB"]
    return dict(mapping)


def digest_batch_size() -> int:
    """Records per digest invocation at most (the stream mapping's BatchSize; Lambda's default 100)."""
    return int(_digest_stream_mapping().get("BatchSize", 100))


def digest_batching_window_s() -> int:
    return int(_digest_stream_mapping().get("MaximumBatchingWindowInSeconds", 0))


def timeout_s(function: str) -> int:
    globals_ = template().get("Globals", {}).get("Function", {})
    return int(_function_resource(function).get("Timeout") or globals_.get("Timeout", 3))
