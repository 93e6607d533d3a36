"""Settings read from the function's environment (set by template.yaml, or by the local runner)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

DEFAULT_OFFLOAD_THRESHOLD = 4096
"""Compressed detail above this many bytes goes to S3. See docs/storage.md for the arithmetic:
with 90-day retention a stored KB costs ~$1.34/M in DynamoDB (write + storage) against a flat
~$5/M for an S3 PUT, so S3 wins from ~4 KB."""
DEFAULT_MAX_BODY = 1024 * 1024
"""Largest decoded request body accepted (Rollbar documents 1024 KB; its SDKs trim to 512 KiB)."""


@dataclass(frozen=True)
class Settings:
    table_name: str
    bucket_name: str
    retention_days: int
    offload_threshold: int
    max_body_bytes: int
    token_cache_seconds: float
    reads_secrets: bool = True
    """False where IAM denies the CrashLog secrets (every function but CrashLog's: READS_SECRETS=false)."""

    @property
    def retention_seconds(self) -> int:
        return self.retention_days * 86400


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings(
        table_name=os.environ.get("TABLE_NAME", "lodge"),
        bucket_name=os.environ.get("BUCKET_NAME", "lodge-payloads"),
        retention_days=_int("RETENTION_DAYS", 90),
        offload_threshold=_int("OFFLOAD_THRESHOLD", DEFAULT_OFFLOAD_THRESHOLD),
        max_body_bytes=_int("MAX_BODY_BYTES", DEFAULT_MAX_BODY),
        token_cache_seconds=float(_int("TOKEN_CACHE_SECONDS", 60)),
        reads_secrets=os.environ.get("READS_SECRETS", "true").lower() != "false",
    )
