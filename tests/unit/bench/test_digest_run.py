"""bench.digest_run's model: the digest's work per occurrence at a batch size."""

from __future__ import annotations

from typing import Any

import pytest

from bench import digest_run

FIGURES: dict[str, Any] = {
    "occurrences_per_record": 1.0,
    "grouped_per_occurrence": 1.0,
    "listing_bytes_per_record": 186.0,
    "issue_update_wru": 1,
    "keep_wru": 1.0,
    "keeps_per_new_issue": 1.0,
    "cpu_ms_per_record": 0.5,
    "log_bytes_per_invocation": 0.0,
    "event_bytes_per_record": 1727.0,
}


def test_a_batch_is_cut_by_lambdas_6_mb_payload() -> None:
    assert digest_run.effective_batch(FIGURES, 100) == 100
    assert digest_run.effective_batch(FIGURES, 10_000) == 6 * 1024 * 1024 // 1727


def test_issue_updates_amortize_over_larger_batches_and_the_listing_does_not() -> None:
    small, full = (digest_run.per_occurrence(FIGURES, b, 256) for b in (10, 1000))
    assert small["issue_wru"] == pytest.approx(digest_run.distinct_issues(10) / 10)
    assert full["issue_wru"] == pytest.approx(digest_run.distinct_issues(1000) / 1000)
    assert full["issue_wru"] < small["issue_wru"] / 4
    # The project's listing is paid per byte (it does not amortize); the filtered listings per page
    # (each at least a write unit) and a tally per counted page come on top (docs/storage.md "Listings").
    assert full["listing_parts"]["project"] == pytest.approx(-(-186 * 1000 // 1024) / 1000)
    assert small["listing_parts"]["project"] == pytest.approx(-(-186 * 10 // 1024) / 10)
    assert full["listing_wru"] == pytest.approx(sum(full["listing_parts"].values()))
    occupied = 256 * (1 - (1 - 1 / 256) ** digest_run.distinct_issues(1000))  # issue buckets with a page
    assert full["listing_parts"]["issues"] == pytest.approx(occupied / 1000)  # each page >= 1 write unit
    assert full["listing_parts"]["tallies"] == pytest.approx(1 / 1000)
    assert full["keep_wru"] == pytest.approx(digest_run.ISSUES / digest_run.MIX_EVENTS)
    assert full["wru"] == pytest.approx(full["listing_wru"] + full["issue_wru"] + full["keep_wru"])


def test_duration_is_cpu_at_the_share_plus_the_sequential_waits_and_offloaded_detail_is_read() -> None:
    plain = digest_run.per_occurrence(FIGURES, 100, 256)
    offloaded = digest_run.per_occurrence(FIGURES, 100, 256, s3_gets_per_record=1.0)
    assert plain["s3_gets"] == 0 and offloaded["s3_gets"] == 1.0
    assert offloaded["billed_ms_per_invocation"] - plain["billed_ms_per_invocation"] == pytest.approx(100 * 25, abs=1)
    cpu = 100 * 0.5 / (256 / 1769)
    assert plain["billed_ms_per_invocation"] >= cpu + plain["wait_ms_per_invocation"]
    assert plain["invocations"] == pytest.approx(1 / 100)
