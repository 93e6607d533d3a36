"""The bill per million occurrences, line by line, from measured per-request figures.

Duration model (Lambda bills per 1 ms): the handler's measured CPU time, scaled for the CPU share
Lambda gives the configured memory (a full vCPU only at 1,769 MB), plus an assumed in-region latency
per sequential DynamoDB round trip and per S3 PUT. The bench machine is not a Graviton2 core; the
CPU figure is what this machine measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from bench import prices

DYNAMODB_LATENCY_MS = 5.0
"""Assumed p50 of a small PutItem/UpdateItem from Lambda in the same region ("single-digit ms")."""
S3_PUT_LATENCY_MS = 25.0
"""Assumed p50 of a small S3 PutObject in the same region."""
PLATFORM_LOG_BYTES = len(
    "START RequestId: 0d1c9c6e-8a5c-4b4e-9d38-3f0c1b2a7e11 Version: $LATEST\n"
    "END RequestId: 0d1c9c6e-8a5c-4b4e-9d38-3f0c1b2a7e11\n"
    "REPORT RequestId: 0d1c9c6e-8a5c-4b4e-9d38-3f0c1b2a7e11\tDuration: 23.45 ms\tBilled Duration: 24 ms\t"
    "Memory Size: 256 MB\tMax Memory Used: 81 MB\t\n"
)
"""The START/END/REPORT lines Lambda itself writes per invocation (text log format)."""
ITEM_OVERHEAD_BYTES = 100
"""DynamoDB bills storage per item (and per index entry) with 100 bytes of overhead."""

LINES = (
    ("api_gateway", "API Gateway HTTP API requests"),
    ("lambda_requests", "Lambda requests"),
    ("lambda_duration", "Lambda duration (arm64 GB-s)"),
    ("dynamodb_writes", "DynamoDB write units"),
    ("dynamodb_reads", "DynamoDB read units"),
    ("dynamodb_storage", "DynamoDB storage for the retention period"),
    ("s3_requests", "S3 PUT requests"),
    ("s3_storage", "S3 storage for the retention period"),
    ("cloudwatch_logs", "CloudWatch Logs ingestion"),
)
STORAGE_LINES = ("dynamodb_storage", "s3_storage")
"""Added by the bench beyond the issue's bill: what keeping the data for RetentionDays costs."""


@dataclass
class Bill:
    lines: dict[str, float]
    billed_ms: int
    log_bytes: int

    @property
    def total(self) -> float:
        """Everything, storage for the retention period included."""
        return sum(self.lines.values())

    @property
    def running(self) -> float:
        """The bill the targets are set on: requests, compute, writes, reads, S3 and logs (no storage)."""
        return self.total - sum(self.lines[k] for k in STORAGE_LINES)


def billed_duration_ms(cpu_ms: float, memory_mb: int, ddb_round_trips: float, s3_puts: float) -> int:
    cpu_share = min(1.0, memory_mb / prices.LAMBDA_MB_PER_VCPU)
    return max(1, math.ceil(cpu_ms / cpu_share + ddb_round_trips * DYNAMODB_LATENCY_MS + s3_puts * S3_PUT_LATENCY_MS))


def per_million(
    aws: dict[str, Any],
    cpu_ms: float,
    occurrences: int,
    memory_mb: int,
    retention_days: int,
    platform_logs: bool = True,
) -> Bill:
    """Cost of one million occurrences arriving `occurrences` per request. `platform_logs`: whether
    Lambda writes its START/END/REPORT lines (not at SystemLogLevel WARN)."""
    requests = 1e6 / occurrences
    months = retention_days / prices.DAYS_PER_MONTH
    billed = billed_duration_ms(cpu_ms, memory_mb, aws["ddb_round_trips"], aws["s3_puts"])
    log_bytes = int(aws["log_bytes"]) + (PLATFORM_LOG_BYTES if platform_logs else 0)
    stored = aws["record_bytes"] + ITEM_OVERHEAD_BYTES if aws["record_bytes"] else 0
    stored += aws["record_gsi_bytes"] + ITEM_OVERHEAD_BYTES if aws["record_gsi_bytes"] else 0
    lines = {
        "api_gateway": requests * prices.HTTP_API_PER_REQUEST,
        "lambda_requests": requests * prices.LAMBDA_PER_REQUEST,
        "lambda_duration": requests * billed / 1000 * memory_mb / 1024 * prices.LAMBDA_ARM64_PER_GB_SECOND,
        "dynamodb_writes": requests * aws["wru"] * prices.DYNAMODB_PER_WRU,
        "dynamodb_reads": requests * aws["rru"] * prices.DYNAMODB_PER_RRU,
        "dynamodb_storage": requests * stored / prices.GB * prices.DYNAMODB_STORAGE_PER_GB_MONTH * months,
        "s3_requests": requests * aws["s3_puts"] * prices.S3_PER_PUT,
        "s3_storage": requests * aws["s3_bytes"] / prices.GB * prices.S3_STORAGE_PER_GB_MONTH * months,
        "cloudwatch_logs": requests * log_bytes / prices.GB * prices.CLOUDWATCH_LOGS_PER_GB,
    }
    return Bill(lines=lines, billed_ms=billed, log_bytes=log_bytes)


def floor_per_million(occurrences: int = 1) -> float:
    """What no design can avoid: one API request and one Lambda invocation per request."""
    return 1e6 / occurrences * (prices.HTTP_API_PER_REQUEST + prices.LAMBDA_PER_REQUEST)
