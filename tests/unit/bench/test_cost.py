"""bench.cost: the bill's lines, request-driven apart from retention-driven."""

from __future__ import annotations

from typing import Any

import pytest

from bench import cost, prices


def metered(**overrides: Any) -> dict[str, Any]:
    figures = {
        "wru": 1,
        "rru": 0,
        "s3_puts": 0,
        "s3_bytes": 0,
        "s3_tags": 0,
        "log_bytes": 0,
        "record_bytes": 924,
        "record_gsi_bytes": 0,
        "aws_wait_ms": 5.0,
        "request_bytes": 2000,
    }
    return {**figures, **overrides}


def lines(bill: cost.Bill) -> dict[str, float]:
    return {line.key: line.usd for line in bill.lines}


def test_http_api_requests_are_metered_in_512_kb_increments() -> None:
    assert cost.api_requests(0) == 1
    assert cost.api_requests(512 * 1024) == 1
    assert cost.api_requests(512 * 1024 + 1) == 2
    big = cost.per_million(metered(request_bytes=600 * 1024), 1.0, 1, 256, 90)
    assert lines(big)["api_gateway"] == pytest.approx(2.00)


def test_duration_is_the_handlers_cpu_time_at_its_cpu_share_plus_the_wait_for_aws() -> None:
    bill = cost.per_million(metered(aws_wait_ms=5.0), 1.0, 1, 256, 90, wall_ms=3.0)
    assert bill.billed_ms == 12  # 1 ms CPU x 1769/256 = 6.9 ms, + 5 ms
    assert bill.billed_ms_wall_model == 26  # diagnostic only: 3 ms wall x 6.9 = 20.7 ms, + 5 ms
    assert lines(bill)["lambda_duration"] == pytest.approx(12 / 1000 * 0.25 * prices.LAMBDA_ARM64_PER_GB_SECOND * 1e6)


def test_the_cpu_share_is_capped_at_one_vcpu() -> None:
    assert cost.billed_duration_ms(10.0, 3538, 5.0) == 15


def test_point_in_time_recovery_is_billed_on_the_table_size_for_the_retention_period() -> None:
    bill = cost.per_million(metered(record_bytes=924, record_gsi_bytes=200), 1.0, 1, 256, 90)
    months = 90 / prices.DAYS_PER_MONTH
    assert lines(bill)["dynamodb_pitr"] == pytest.approx(1e6 * 1024 / prices.GB * months * 0.20)
    assert lines(bill)["dynamodb_storage"] == pytest.approx(1e6 * (1024 + 300) / prices.GB * months * 0.25)


def test_offloaded_detail_pays_s3_storage_and_its_tags() -> None:
    bill = cost.per_million(metered(s3_puts=1, s3_bytes=10_000, s3_tags=1), 1.0, 1, 256, 90)
    months = 90 / prices.DAYS_PER_MONTH
    assert lines(bill)["s3_requests"] == pytest.approx(5.0)
    assert lines(bill)["s3_tags"] == pytest.approx(1e6 * months * 0.01 / 10_000)
    assert lines(bill)["s3_storage"] == pytest.approx(1e6 * 10_000 / prices.GB * months * 0.023)


def test_request_driven_and_retention_driven_lines_are_summed_apart_and_other_lines_slot_in() -> None:
    bill = cost.per_million(metered(), 1.0, 1, 256, 90)
    kinds = {line.key: line.kind for line in bill.lines}
    assert {k for k, v in kinds.items() if v == cost.RETENTION} == {
        "dynamodb_storage",
        "dynamodb_pitr",
        "s3_storage",
        "s3_tags",
    }
    before = bill.request_driven
    bill.add("digest_writes", "Digest: DynamoDB write units", 0.10)
    assert bill.request_driven == pytest.approx(before + 0.10)
    assert bill.total == pytest.approx(bill.request_driven + bill.retention_driven)


def test_custom_metrics_every_request_publishes_are_full_months_and_rare_ones_at_most() -> None:
    metrics = cost.custom_metrics(
        {
            "w": {
                "warm": {"emf": ["Lodge/A{service=f}"]},
                "duplicate": {"emf": ["Lodge/A{service=f}", "Lodge/D{service=f}"]},
                "refused": {"emf": ["Lodge/R{service=f}"]},
            }
        }
    )
    assert metrics["every_request"] == ["Lodge/A{service=f}"]
    assert metrics["rare"] == ["Lodge/D{service=f}", "Lodge/R{service=f}"]
    assert metrics["usd_per_month"] == 0.30
    assert metrics["usd_per_month_rare_at_most"] == 0.60


DIGEST = {"batch": 1000, "wru": 0.4, "invocations": 1e-3, "billed_ms": 4.0, "log_bytes": 0.5, "s3_gets": 1.0}


def test_the_digests_lines_are_request_driven_and_part_of_the_total() -> None:
    bill = cost.per_million(metered(), 1.0, 1, 256, 90)
    before = bill.request_driven
    cost.add_digest(bill, DIGEST, 256)
    digest = {k: v for k, v in lines(bill).items() if k.startswith("digest_")}
    assert digest["digest_writes"] == pytest.approx(0.4 * 0.625)
    assert digest["digest_stream_reads"] == 0.0  # Lambda's reads of the stream are free
    assert digest["digest_requests"] == pytest.approx(1e3 * prices.LAMBDA_PER_REQUEST)
    assert digest["digest_duration"] == pytest.approx(4e3 * 0.25 * prices.LAMBDA_ARM64_PER_GB_SECOND)
    assert digest["digest_s3_gets"] == pytest.approx(1e6 * prices.S3_PER_GET)
    assert all(line.kind == cost.REQUEST for line in bill.lines if line.key.startswith("digest_"))
    assert bill.request_driven == pytest.approx(before + sum(digest.values()))
    assert bill.as_dict()["request_driven"] == pytest.approx(before + sum(digest.values()), abs=1e-4)
    assert bill.digest_wru == 0.4


def test_the_single_event_targets_count_the_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import report

    bill = cost.per_million(metered(wru=1), 0.1, 1, 256, 90)
    cost.add_digest(bill, {**DIGEST, "wru": 0.38, "s3_gets": 0.0}, 256)
    results = {
        "workloads": {
            "w": {"state": "ok", "occurrences": 1, "cost": bill.as_dict(), "aws": {"warm": metered(round_trips=1)}}
        },
        "cold_start": {},
        "functions": {},
        "assumptions": {"retention_days": 90},
    }
    found = {t["target"]: t for t in report.targets(results)}
    wru = next(t for k, t in found.items() if "WRU" in k)
    assert wru["pass"] is False  # 1 + 0.38 > 1.3: the request path alone would pass
    assert "1.38 WRU" in wru["figure"]
    dollars = next(t for k, t in found.items() if "request-driven bill" in k)
    assert f"${bill.request_driven:.2f}" in dollars["figure"]
