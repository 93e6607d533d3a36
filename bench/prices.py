"""AWS list prices used by the cost model: us-east-1, on-demand, no free tier.

Checked 2026-11-22 against the public pricing pages (aws.amazon.com/{api-gateway,lambda,dynamodb,s3,
cloudwatch}/pricing). Added 2026-12-01 from the same pages' published us-east-1 list prices (Lambda
on arm64), not re-fetched that day (the bench machine has no web access): the HTTP API's 512 KB
metering, DynamoDB point-in-time recovery, S3 object tags, CloudWatch custom metrics. Change them
here only.
"""

from __future__ import annotations

PRICES_DATE = "2026-12-01"
PRICES_SOURCE = "AWS public pricing pages, us-east-1"

HTTP_API_PER_REQUEST = 1.00 / 1e6
"""API Gateway HTTP API, first 300M requests/month."""
HTTP_API_METERING_BYTES = 512 * 1024
"""HTTP API requests are metered in 512 KB increments: a 513 KB request is billed as 2 requests."""
LAMBDA_PER_REQUEST = 0.20 / 1e6
LAMBDA_ARM64_PER_GB_SECOND = 0.0000133334
DYNAMODB_PER_WRU = 0.625 / 1e6
"""On-demand write request unit (after the November 2024 price cut)."""
DYNAMODB_PER_RRU = 0.125 / 1e6
DYNAMODB_STORAGE_PER_GB_MONTH = 0.25
DYNAMODB_PITR_PER_GB_MONTH = 0.20
"""Continuous backups (point-in-time recovery), per GB-month of table size (table data, not GSIs);
the same whatever the recovery period (the template enables it)."""
S3_PER_PUT = 0.005 / 1000
"""PUT, COPY, POST, LIST class requests (PutObject, PutObjectTagging)."""
S3_PER_GET = 0.0004 / 1000
S3_STORAGE_PER_GB_MONTH = 0.023
"""S3 Standard, first 50 TB/month."""
S3_PER_TAG_MONTH = 0.01 / 10_000
"""Object tagging: $0.01 per 10,000 tags per month."""
CLOUDWATCH_LOGS_PER_GB = 0.50
"""Log ingestion (standard class)."""
CLOUDWATCH_PER_METRIC_MONTH = 0.30
"""Custom metric (first 10,000), per metric-month, prorated by the hour; each metric name x
dimension combination an EMF line publishes is one metric."""

GB = 1024**3
DAYS_PER_MONTH = 30.4375

LAMBDA_MB_PER_VCPU = 1769
"""Lambda gives a function CPU in proportion to its memory: one full vCPU at 1,769 MB."""
