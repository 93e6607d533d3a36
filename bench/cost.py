"""The bill per million occurrences, line by line, from measured per-request figures.

A workload's bill is a list of lines (`Bill.lines`), each either *request-driven* (paid per request:
API Gateway, Lambda requests and duration, DynamoDB writes and reads, S3 requests, logs) or
*retention-driven* (paid for keeping what a request stored for RetentionDays: DynamoDB and S3
storage, point-in-time recovery, S3 object tags). Other measurements append their own lines with
`Bill.add` (the digest's writes and Lambda, for instance); the report prints whatever lines a bill
holds, in order, and the targets are set on the request-driven sum. Custom metrics are a fixed
monthly charge, not per occurrence (`custom_metrics`).

Duration model (Lambda bills per 1 ms): the handler's measured CPU time with AWS answered at once
(bench.cpu_run), divided by the CPU share Lambda gives the configured memory (a full vCPU only at
1,769 MB; capped at 1), plus the request's wait for AWS: the simulated in-region latency of each
sequential round trip (bench.meter.SIMULATED_LATENCY_MS, measured on the critical path by
bench.aws_run). That is what a single-threaded handler is billed, and CPU time does not grow when
the bench machine is busy; the same with wall time instead of CPU time is kept as a diagnostic
(`billed_ms_wall_model`: on a shared machine wall time includes waiting for a core). The bench
machine is not a Graviton2 core; the figures are what this machine measured.

The digest's lines (`add_digest`) come from bench.digest_run at the template's BatchSize.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from bench import prices

REQUEST = "request-driven"
RETENTION = "retention-driven"

PLATFORM_LOG_BYTES = len(
    "START RequestId: 0d1c9c6e-8a5c-4b4e-9d38-3f0c1b2a7e11 Version: $LATEST\n"
    "END RequestId: 0d1c9c6e-8a5c-4b4e-9d38-3f0c1b2a7e11\n"
    "REPORT RequestId: 0d1c9c6e-8a5c-4b4e-9d38-3f0c1b2a7e11\tDuration: 23.45 ms\tBilled Duration: 24 ms\t"
    "Memory Size: 256 MB\tMax Memory Used: 81 MB\t\n"
)
"""The START/END/REPORT lines Lambda itself writes per invocation (text log format)."""
ITEM_OVERHEAD_BYTES = 100
"""DynamoDB bills storage per item (and per index entry) with 100 bytes of overhead."""


@dataclass
class Line:
    key: str
    label: str
    usd: float
    """Per million occurrences."""
    kind: str = REQUEST


@dataclass
class Bill:
    lines: list[Line] = field(default_factory=list)
    billed_ms: int = 0
    billed_ms_wall_model: int = 0
    """Diagnostic only: the same with the handler's wall time (inflated on a busy machine)."""
    digest_wru: float = 0.0
    """The digest's write units per occurrence (listing, issue updates, keep-first): `add_digest`."""
    digest_batch: int = 0
    log_bytes: int = 0
    api_requests: int = 1

    def add(self, key: str, label: str, usd: float, kind: str = REQUEST) -> None:
        """Append one line (per million occurrences)."""
        self.lines.append(Line(key, label, usd, kind))

    def sum(self, kind: str) -> float:
        return sum(line.usd for line in self.lines if line.kind == kind)

    @property
    def request_driven(self) -> float:
        """The bill the targets are set on: what every request costs, whatever is kept."""
        return self.sum(REQUEST)

    @property
    def retention_driven(self) -> float:
        return self.sum(RETENTION)

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": [{"key": x.key, "label": x.label, "kind": x.kind, "usd": round(x.usd, 6)} for x in self.lines],
            "request_driven": round(self.request_driven, 4),
            "retention_driven": round(self.retention_driven, 4),
            "total": round(self.total, 4),
            "billed_ms": self.billed_ms,
            "billed_ms_wall_model": self.billed_ms_wall_model,
            "digest_wru": round(self.digest_wru, 4),
            "digest_batch": self.digest_batch,
            "log_bytes": self.log_bytes,
            "api_requests": self.api_requests,
        }


def cpu_share(memory_mb: int) -> float:
    return min(1.0, memory_mb / prices.LAMBDA_MB_PER_VCPU)


def billed_duration_ms(own_ms: float, memory_mb: int, aws_wait_ms: float) -> int:
    """Lambda's billed ms: the handler's own CPU time at the memory's CPU share plus its wait for AWS."""
    return max(1, math.ceil(own_ms / cpu_share(memory_mb) + aws_wait_ms))


def api_requests(request_bytes: int) -> int:
    """HTTP API requests billed for one request (metered in 512 KB increments)."""
    return max(1, math.ceil(request_bytes / prices.HTTP_API_METERING_BYTES))


def per_million(
    aws: dict[str, Any],
    cpu_ms: float,
    occurrences: int,
    memory_mb: int,
    retention_days: int,
    *,
    wall_ms: float | None = None,
    platform_logs: bool = True,
) -> Bill:
    """Cost of one million occurrences arriving `occurrences` per request. `aws`: one metered request
    (bench.meter's summary plus `request_bytes`); `cpu_ms`: the handler's CPU time with AWS answered
    at once (`wall_ms`, its wall time, gives the diagnostic wall-time figure beside it).
    `platform_logs`: whether Lambda writes its START/END/REPORT lines (not at SystemLogLevel WARN)."""
    requests = 1e6 / occurrences
    months = retention_days / prices.DAYS_PER_MONTH
    wait = float(aws.get("aws_wait_ms", 0.0))
    billed = billed_duration_ms(cpu_ms, memory_mb, wait)
    log_bytes = int(aws["log_bytes"]) + (PLATFORM_LOG_BYTES if platform_logs else 0)
    record = aws["record_bytes"] + ITEM_OVERHEAD_BYTES if aws["record_bytes"] else 0
    index = aws["record_gsi_bytes"] + ITEM_OVERHEAD_BYTES if aws["record_gsi_bytes"] else 0
    metered = api_requests(int(aws.get("request_bytes", 0)))
    bill = Bill(
        billed_ms=billed,
        billed_ms_wall_model=billed_duration_ms(wall_ms, memory_mb, wait) if wall_ms is not None else 0,
        log_bytes=log_bytes,
        api_requests=metered,
    )
    gb_months = requests * months / prices.GB
    bill.add(
        "api_gateway",
        "API Gateway HTTP API requests (512 KB metering)",
        requests * metered * prices.HTTP_API_PER_REQUEST,
    )
    bill.add("lambda_requests", "Lambda requests", requests * prices.LAMBDA_PER_REQUEST)
    bill.add(
        "lambda_duration",
        "Lambda duration (arm64 GB-s, CPU / CPU share + AWS waits)",
        requests * billed / 1000 * memory_mb / 1024 * prices.LAMBDA_ARM64_PER_GB_SECOND,
    )
    bill.add("dynamodb_writes", "DynamoDB write units", requests * aws["wru"] * prices.DYNAMODB_PER_WRU)
    bill.add("dynamodb_reads", "DynamoDB read units", requests * aws["rru"] * prices.DYNAMODB_PER_RRU)
    bill.add("s3_requests", "S3 PUT requests", requests * aws["s3_puts"] * prices.S3_PER_PUT)
    bill.add(
        "cloudwatch_logs", "CloudWatch Logs ingestion", requests * log_bytes / prices.GB * prices.CLOUDWATCH_LOGS_PER_GB
    )
    days = f"{retention_days} days"
    bill.add(
        "dynamodb_storage",
        f"DynamoDB storage ({days})",
        (record + index) * gb_months * prices.DYNAMODB_STORAGE_PER_GB_MONTH,
        RETENTION,
    )
    bill.add(
        "dynamodb_pitr",
        f"DynamoDB point-in-time recovery ({days})",
        record * gb_months * prices.DYNAMODB_PITR_PER_GB_MONTH,
        RETENTION,
    )
    bill.add(
        "s3_storage", f"S3 storage ({days})", aws["s3_bytes"] * gb_months * prices.S3_STORAGE_PER_GB_MONTH, RETENTION
    )
    bill.add(
        "s3_tags",
        f"S3 object tags ({days})",
        requests * aws.get("s3_tags", 0) * months * prices.S3_PER_TAG_MONTH,
        RETENTION,
    )
    return bill


def add_digest(bill: Bill, digest: dict[str, Any], memory_mb: int, platform_logs: bool = False) -> None:
    """The digest's request-driven lines, per million occurrences: `digest` is
    bench.digest_run.per_occurrence at the template's BatchSize (what one occurrence costs the
    digest: write units, invocations, billed ms, log bytes, S3 GETs of offloaded detail)."""
    m = 1e6
    batch = int(digest["batch"])
    bill.digest_wru = float(digest["wru"])
    bill.digest_batch = batch
    bill.add(
        "digest_writes",
        "Digest: DynamoDB writes (listing + issue updates + keep-first, a full batch)",
        m * digest["wru"] * prices.DYNAMODB_PER_WRU,
    )
    bill.add("digest_stream_reads", "Digest: stream reads by Lambda's event source mapping (free)", 0.0)
    bill.add(
        "digest_requests",
        "Digest: Lambda requests (1 per batch)",
        m * digest["invocations"] * prices.LAMBDA_PER_REQUEST,
    )
    bill.add(
        "digest_duration",
        "Digest: Lambda duration (CPU / CPU share + AWS waits)",
        m * digest["billed_ms"] / 1000 * memory_mb / 1024 * prices.LAMBDA_ARM64_PER_GB_SECOND,
    )
    log_bytes = digest["log_bytes"] + (PLATFORM_LOG_BYTES * digest["invocations"] if platform_logs else 0)
    bill.add(
        "digest_logs", "Digest: CloudWatch Logs ingestion", m * log_bytes / prices.GB * prices.CLOUDWATCH_LOGS_PER_GB
    )
    bill.add("digest_s3_gets", "Digest: S3 GETs of offloaded detail", m * digest["s3_gets"] * prices.S3_PER_GET)


def floor_per_million(occurrences: int = 1) -> float:
    """What no design can avoid: one API request and one Lambda invocation per request."""
    return 1e6 / occurrences * (prices.HTTP_API_PER_REQUEST + prices.LAMBDA_PER_REQUEST)


STEADY_CASES = ("warm",)
"""Requests every accepted event makes: a metric they publish is published every hour."""


def custom_metrics(metered: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The fixed monthly charge for the custom metrics the handlers' EMF lines created during the
    bench. `metered`: per workload, per case (warm, first, duplicate, ...), the `emf` combinations.
    A metric published by every accepted request is billed every hour (a full month); one published
    only by rarer requests (refusals, duplicates, new issues) costs at most that, prorated by hour."""
    steady: set[str] = set()
    seen: set[str] = set()
    for cases in metered.values():
        for case, figures in cases.items():
            if not isinstance(figures, dict):
                continue
            combos = set(figures.get("emf", []))
            seen |= combos
            if case in STEADY_CASES:
                steady |= combos
    rare = seen - steady
    return {
        "every_request": sorted(steady),
        "rare": sorted(rare),
        "usd_per_month": round(len(steady) * prices.CLOUDWATCH_PER_METRIC_MONTH, 2),
        "usd_per_month_rare_at_most": round(len(rare) * prices.CLOUDWATCH_PER_METRIC_MONTH, 2),
    }
