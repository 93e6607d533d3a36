"""Every distinct 500 / traceback class the fuzzer found, and the issue's named defects, each as a
minimal regression test on a real captured payload.

A finding that is still open is pinned `xfail(strict=True)` with its root cause (the day its fix
lands, strict xfail fails and the marker must go) and listed in `tests.fuzz.findings.KNOWN`, so the
fixed-seed fuzz subset accepts known classes and fails on any new one. Every finding so far is fixed.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.fuzz import mutators as m
from tests.fuzz.driver import InProcess, Outcome
from tests.fuzz.endpoints import BY_NAME
from tests.fuzz.strategies import valid_case

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

SURROGATE = "\ud800"


def send(harness: InProcess, endpoint: str, tree: Any, fresh: str = "") -> tuple[Outcome, dict[str, Any] | None]:
    case = valid_case(BY_NAME[endpoint], tree, fresh=fresh or str(uuid.uuid4()))
    return harness.invoke(BY_NAME[endpoint].function, case.event())


def seed(endpoint: str, index: int = 0) -> Any:
    return m.clone(BY_NAME[endpoint].seeds()[index])


def assert_stored(outcome: Outcome, response: dict[str, Any] | None, status: int = 200) -> None:
    assert outcome.status == status, (outcome, response and response.get("body", "")[:300])
    assert not outcome.signatures, outcome.signatures


SURROGATE_KEYS = "lone UTF-16 surrogates in object keys reach pydantic"
SURROGATE_DUMP = (
    "occurrence.py:Occurrence.to_detail: model_dump(mode='json') cannot encode a dict key with a lone surrogate"
)


# ---- fuzz findings: lone surrogates in object keys ---------------------------------------------


def test_rollbar_frame_with_a_surrogate_key(harness: InProcess) -> None:
    payload = seed("rollbar_item")
    payload["data"]["body"]["trace"]["frames"][0][SURROGATE] = 1
    assert_stored(*send(harness, "rollbar_item", payload))


def test_rollbar_notifier_with_a_surrogate_key(harness: InProcess) -> None:
    payload = seed("rollbar_item")
    payload["data"]["notifier"][SURROGATE] = "x"
    assert_stored(*send(harness, "rollbar_item", payload))


def test_rollbar_exception_with_a_surrogate_key(harness: InProcess) -> None:
    payload = seed("rollbar_item")
    payload["data"]["body"]["trace"]["exception"][SURROGATE] = "x"
    assert_stored(*send(harness, "rollbar_item", payload))


def test_rollbar_nested_locals_with_a_surrogate_key(harness: InProcess) -> None:
    payload = seed("rollbar_item")
    payload["data"]["body"]["trace"]["frames"][1]["locals"]["payload"][SURROGATE] = "x"
    assert_stored(*send(harness, "rollbar_item", payload))


def test_rollbar_custom_data_with_a_surrogate_key(harness: InProcess) -> None:
    """Already safe (custom data is coerced before pydantic sees it): kept as a guard."""
    payload = seed("rollbar_item")
    payload["data"]["custom"] = {SURROGATE: "x"}
    assert_stored(*send(harness, "rollbar_item", payload))


def test_appsignal_exception_with_a_surrogate_key(harness: InProcess) -> None:
    batch = seed("appsignal_push", 0)
    failed = next(entry for entry in batch if entry.get("exception"))
    failed["exception"][SURROGATE] = "x"
    assert_stored(*send(harness, "appsignal_push", batch))


def test_appsignal_event_with_a_surrogate_key(harness: InProcess) -> None:
    batch = seed("appsignal_push", 0)
    entry = next(entry for entry in batch if entry.get("events"))
    entry["events"][0][SURROGATE] = "x"
    assert_stored(*send(harness, "appsignal_push", batch))


def test_appsignal_entry_with_a_surrogate_key(harness: InProcess) -> None:
    batch = seed("appsignal_push", 0)
    batch[0][SURROGATE] = "x"
    assert_stored(*send(harness, "appsignal_push", batch))


def test_crashlog_frame_with_a_surrogate_key(harness: InProcess) -> None:
    payload = seed("crashlog_events", 3)  # ruby 1.0.7
    payload["payload"]["backtrace"][0][SURROGATE] = "x"
    assert_stored(*send(harness, "crashlog_events", payload))


def test_crashlog_notifier_with_a_surrogate_key(harness: InProcess) -> None:
    payload = seed("crashlog_events", 3)
    payload["payload"]["notifier"][SURROGATE] = "x"
    assert_stored(*send(harness, "crashlog_events", payload))


def test_crashlog_context_with_a_surrogate_key(harness: InProcess) -> None:
    payload = seed("crashlog_events", 3)
    payload["payload"]["context"][SURROGATE] = "x"
    assert_stored(*send(harness, "crashlog_events", payload))


# ---- the named defects -----------------------------------------------------------------


def surrogate_in_every_key_and_value(tree: Any) -> Any:
    """Every string value gets a lone surrogate appended, every object one more key that is one."""
    if isinstance(tree, dict):
        copied = {key: surrogate_in_every_key_and_value(value) for key, value in tree.items()}
        copied[SURROGATE] = "\udfff"
        return copied
    if isinstance(tree, list):
        return [surrogate_in_every_key_and_value(value) for value in tree]
    return tree + SURROGATE if isinstance(tree, str) else tree


@pytest.mark.parametrize(
    ("endpoint", "status"),
    [
        ("rollbar_item", 200),
        ("appsignal_push", 200),
        ("crashlog_events", 200),
        ("crashlog_announce", 201),
        ("appsignal_markers", 200),
        ("sentry_envelope", 200),
        ("sentry_store", 200),
    ],
)
def test_a_lone_surrogate_in_every_key_and_value_of_every_seed(harness: InProcess, endpoint: str, status: int) -> None:
    for index in range(len(BY_NAME[endpoint].seeds())):
        outcome, response = send(harness, endpoint, surrogate_in_every_key_and_value(seed(endpoint, index)))
        assert outcome.status == status, (index, response and response["body"][:200])
        assert not outcome.signatures


HUGE = "E" * 450_000
"""Fits the 1 MB body limit, but not DynamoDB's 400 KB item limit unless Lodge clips it."""


def leaf_paths(endpoint: str) -> list[tuple[int, m.Path]]:
    """Every leaf (string, number, boolean, null) of every seed, each distinct path once."""
    seen: set[m.Path] = set()
    found = []
    for index, tree in enumerate(BY_NAME[endpoint].seeds()):
        for path in m.paths(tree, limit=100_000):
            if path and path not in seen and not isinstance(m.get(tree, path), (dict, list)):
                seen.add(path)
                found.append((index, path))
    return found


EXTRA_FIELDS: dict[str, list[m.Path]] = {
    # Named in the issue, absent from some captured payloads: added so they are always covered.
    "rollbar_item": [("data", "platform"), ("data", "framework")],
    "crashlog_events": [("payload", "environment", "system", "platform"), ("payload", "context", "stage")],
}


@pytest.mark.parametrize(
    ("endpoint", "status"),
    [
        ("rollbar_item", 200),
        ("appsignal_push", 200),
        ("crashlog_events", 200),
        ("crashlog_announce", 201),
    ],
)
def test_a_450_kb_value_in_every_field_is_stored(harness: InProcess, endpoint: str, status: int) -> None:
    """Any field may carry 450 KB: it is clipped and stored (never a 503 that repeats forever).
    Fields whose protocol documents another answer for a huge value (a 422 for an invalid uuid
    or level) may answer that 4xx, but never 5xx."""
    refused: list[str] = []
    cases = leaf_paths(endpoint) + [(0, path) for path in EXTRA_FIELDS.get(endpoint, [])]
    for index, path in cases:
        tree = seed(endpoint, index)
        parent = m.get(tree, path[:-1]) if len(path) > 1 else tree
        if not isinstance(parent, (dict, list)):
            continue
        if isinstance(parent, dict) or (isinstance(path[-1], int) and path[-1] < len(parent)):
            m.replace(tree, path, HUGE)
        outcome, _response = send(harness, endpoint, tree)
        if outcome.status != status and not (isinstance(outcome.status, int) and 400 <= outcome.status < 500):
            refused.append(f"{'/'.join(map(str, path))}: {outcome.status}")
    assert not refused, refused


EXPOSED = (
    "Rollbar-Replay-Enabled",
    "Rollbar-Replay-RateLimit-Remaining",
    "Rollbar-Replay-RateLimit-Reset",
    "X-Rate-Limit-Limit",
    "X-Rate-Limit-Remaining",
    "X-Rate-Limit-Remaining-Seconds",
    "X-Rate-Limit-Reset",
    "Retry-After",
)


def test_cors_exposes_every_header_the_browser_clients_read() -> None:
    from lodge_devtools import template

    api = template.load()["Resources"]["LodgeApi"]["Properties"]["CorsConfiguration"]
    exposed = {name.lower() for name in api.get("ExposeHeaders", [])}
    missing = [name for name in EXPOSED if name.lower() not in exposed]
    assert not missing, missing


def test_the_local_runner_exposes_them_too() -> None:
    from lodge_devtools.sam_app import load_app

    cors = load_app().cors
    assert cors is not None
    exposed = {name.lower() for name in cors.expose_headers}
    assert not [name for name in EXPOSED if name.lower() not in exposed]


# ---- fuzz finding: a model field whose own name is a sensitive key ------------------------------


def test_a_sensitive_field_name_keeps_the_fields_type(harness: InProcess) -> None:
    """`session` (the request's session data) is a dict field of the occurrence model and also in
    the sensitive-key list, so scrubbing replaced the whole dict with the string "[Filtered]":
    pydantic warned on every write (a wrong-typed field) and the AppSignal samples API served
    `session_data` as a string. The dict stays a dict, its keys kept, its values filtered."""
    import time
    import warnings

    from lodge import scrub, scrubbing
    from lodge.protocols.appsignal import mapping as appsignal

    batch = seed("appsignal_push", 0)
    entry = next(entry for entry in batch if isinstance(entry.get("log_entry"), dict))
    entry["log_entry"]["session_data"] = {"user_id": "42", "cart": ["sku-1"]}
    occurrence = appsignal.to_occurrence(entry, project_id="p", query={}, received_at=time.time())
    scrubbing.scrub_occurrence(occurrence, scrub.DEFAULT_POLICY)
    assert occurrence.request is not None
    assert occurrence.request.session == {"user_id": scrub.FILTERED, "cart": scrub.FILTERED}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pydantic's serializer warning would become a 500
        assert_stored(*send(harness, "appsignal_push", batch))
