"""Traceback classes the fuzzer has found and that are still open, with the regression test that
pins each (tests/fuzz/test_findings.py). The fixed-seed subset tolerates these and fails on any
other class, so a new defect cannot hide behind a known one. Remove an entry when its fix lands
(its xfail-strict test will have flipped to a failure to say so)."""

from __future__ import annotations

KNOWN: dict[str, str] = {
    # Empty: every class found so far is fixed and guarded by its test in test_findings.py.
    # An open one is listed as "<Exception> @ <file>:<function>": "<its xfail test>".
}


def is_known(signature: str) -> bool:
    return signature in KNOWN
