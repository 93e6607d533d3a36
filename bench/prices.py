"""AWS list prices used by the cost model: us-east-1, on-demand, no free tier.

Checked 2026-11-22 against the public pricing pages (aws.amazon.com/{api-gateway,lambda,dynamodb,s3,
cloudwatch}/pricing). Change them here only.
"""

from __future__ import annotations

PRICES_DATE = "2026-11-22"
PRICES_SOURCE = "AWS public pricing pages, us-east-1"

HTTP_API_PER_REQUEST = 1.00 / 1e6
"""API Gateway HTTP API, first 300M requests/month."""
LAMBDA_PER_REQUEST = 0.20 / 1e6
LAMBDA_ARM64_PER_GB_SECOND = 0.0000133334
DYNAMODB_PER_WRU = 0.625 / 1e6
"""On-demand write request unit (after the November 2024 price cut)."""
DYNAMODB_PER_RRU = 0.125 / 1e6
DYNAMODB_STORAGE_PER_GB_MONTH = 0.25
S3_PER_PUT = 0.005 / 1000
"""PUT, COPY, POST, LIST class requests (PutObject, PutObjectTagging)."""
S3_PER_GET = 0.0004 / 1000
S3_STORAGE_PER_GB_MONTH = 0.023
CLOUDWATCH_LOGS_PER_GB = 0.50
"""Log ingestion (standard class)."""

GB = 1024**3
DAYS_PER_MONTH = 30.4375

LAMBDA_MB_PER_VCPU = 1769
"""Lambda gives a function CPU in proportion to its memory: one full vCPU at 1,769 MB."""
