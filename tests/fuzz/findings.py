"""Traceback classes the fuzzer has found and that are still open, with the regression test that
pins each (tests/fuzz/test_findings.py). The fixed-seed subset tolerates these and fails on any
other class, so a new defect cannot hide behind a known one. Remove an entry when its fix lands
(its xfail-strict test will have flipped to a failure to say so)."""

from __future__ import annotations

KNOWN: dict[str, str] = {
    "ValidationError @ layers/lodge/python/lodge/protocols/rollbar.py:_frame": (
        "test_rollbar_frame_with_a_surrogate_key"
    ),
    "ValidationError @ layers/lodge/python/lodge/protocols/rollbar.py:_open_model": (
        "test_rollbar_notifier_with_a_surrogate_key"
    ),
    "ValidationError @ layers/lodge/python/lodge/protocols/rollbar.py:_trace": (
        "test_rollbar_exception_with_a_surrogate_key"
    ),
    "UnicodeEncodeError @ layers/lodge/python/lodge/occurrence.py:to_detail": (
        "test_rollbar_nested_locals_with_a_surrogate_key"
    ),
    "ValidationError @ layers/lodge/python/lodge/protocols/appsignal.py:_exception": (
        "test_appsignal_exception_with_a_surrogate_key"
    ),
    "ValidationError @ layers/lodge/python/lodge/protocols/appsignal.py:_events": (
        "test_appsignal_event_with_a_surrogate_key"
    ),
    "ValidationError @ layers/lodge/python/lodge/protocols/crashlog.py:_frame": (
        "test_crashlog_frame_with_a_surrogate_key"
    ),
    "ValidationError @ layers/lodge/python/lodge/protocols/crashlog.py:to_occurrence": (
        "test_crashlog_notifier_with_a_surrogate_key"
    ),
    # A 450 KB field passes DynamoDB's item limit: answered 503 (logged with its traceback), forever.
    "StorageError @ layers/lodge/python/lodge/store.py:put_record": "test_a_450_kb_value_in_every_field_is_stored",
    "StorageError @ layers/lodge/python/lodge/ingest.py:ingest": "test_a_450_kb_value_in_every_field_is_stored",
}


def is_known(signature: str) -> bool:
    return signature in KNOWN
