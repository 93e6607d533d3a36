"""The Sentry adapter's pure parts: envelopes, DSNs, event mapping, grouping v2, client reports."""

from __future__ import annotations

from typing import Any

import pytest

from lodge import grouping
from lodge.http import HttpError
from lodge.normalize import normalize
from lodge.protocols.sentry import envelope, mapping, outcomes
from lodge.protocols.sentry.auth import dsn, dsn_project_number, project_from_path

PROJECT = "5114f7e38c5ce90000000011"


def occurrence(event: dict[str, Any]) -> Any:
    """The mapped event after the normalization pass every occurrence goes through."""
    mapped = mapping.to_occurrence(event, PROJECT, mapping.event_id(event.get("event_id")), 1_700_000_000.0)
    normalize(mapped)
    return mapped


def frames(*specs: tuple[str, str, bool]) -> list[dict[str, Any]]:
    return [{"filename": f, "function": fn, "lineno": 1, "in_app": app} for f, fn, app in specs]


def error(type_: str, value: str, stack: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {"exception": {"values": [{"type": type_, "value": value, "stacktrace": {"frames": stack}}]}, **fields}


# ---- DSNs and envelopes ---------------------------------------------------------------------------


def test_dsn_carries_the_project_id_as_a_number_that_maps_back() -> None:
    number = dsn_project_number(PROJECT)
    assert number.isdigit() and project_from_path(number) == PROJECT
    assert dsn("https://abc.execute-api.eu-west-1.amazonaws.com/", "k" * 32, PROJECT) == (
        f"https://{'k' * 32}@abc.execute-api.eu-west-1.amazonaws.com/{number}"
    )
    assert dsn("http://127.0.0.1:3000/prefix/", "key", PROJECT) == f"http://key@127.0.0.1:3000/prefix/{number}"


@pytest.mark.parametrize("number", ["", "12a", "-1", "²", str(16**24), "1" * 31])
def test_impossible_project_numbers_are_400(number: str) -> None:
    with pytest.raises(HttpError) as raised:
        project_from_path(number)
    assert raised.value.status == 400 and raised.value.body["detail"] == "bad project path"


def test_envelope_items_with_and_without_length() -> None:
    data = b'{"event_id":"x"}\n{"type":"attachment","length":3}\na\nb\n{"type":"event"}\n{"k":1}\n'
    parsed = envelope.parse(data)
    assert parsed.headers == {"event_id": "x"}
    assert [(i.type, i.payload) for i in parsed.items] == [("attachment", b"a\nb"), ("event", b'{"k":1}')]


def test_envelope_last_item_may_end_without_newline_and_with_empty_payload() -> None:
    parsed = envelope.parse(b'{}\n{"type":"session","length":0}\n\n{"type":"event"}\n{}')
    assert [(i.type, i.payload) for i in parsed.items] == [("session", b""), ("event", b"{}")]


# ---- mapping --------------------------------------------------------------------------------------


def test_exception_chain_is_reversed_into_outermost_first() -> None:
    event = {
        "exception": {
            "values": [
                {"type": "KeyError", "value": "'k'", "mechanism": {"type": "chained", "exception_id": 1}},
                {"type": "ValueError", "value": "wrapped", "mechanism": {"type": "generic", "handled": True}},
            ]
        }
    }
    mapped = occurrence(event)
    assert [e.type for e in mapped.exceptions] == ["ValueError", "KeyError"]
    assert mapped.exceptions[0].model_extra["mechanism"] == {"type": "generic", "handled": True}
    assert mapped.default_title() == "ValueError: wrapped"


def test_frame_fields() -> None:
    frame = {
        "filename": "app/views.py", "abs_path": "/srv/app/views.py", "module": "app.views", "function": "show",
        "lineno": "12", "colno": 4, "in_app": True, "context_line": "  x = y", "pre_context": ["a", 1],
        "post_context": ["b"], "vars": {"y": "None"}, "package": None,
    }  # fmt: skip
    (mapped,) = occurrence(error("E", "m", [frame])).exceptions[0].frames
    assert (mapped.filename, mapped.method, mapped.lineno, mapped.colno) == ("app/views.py", "show", 12, 4)
    assert (mapped.code, mapped.context_pre, mapped.context_post) == ("  x = y", ["a", "1"], ["b"])
    assert mapped.locals == {"y": "None"}
    assert mapped.model_extra == {
        "abs_path": "/srv/app/views.py",
        "module": "app.views",
        "in_app": True,
        "package": None,
    }


def test_logentry_is_formatted_and_its_template_kept() -> None:
    mapped = occurrence({"logentry": {"message": "user %s not found", "params": ["42"]}, "level": "warning"})
    assert mapped.message == "user 42 not found" and mapped.kind == "message" and mapped.level == "warning"
    assert mapped.extra == {"logentry": {"message": "user %s not found", "params": ["42"]}}
    assert occurrence({"message": {"formatted": "done", "message": "d%s"}}).message == "done"
    assert occurrence({"message": "plain"}).message == "plain"


def test_context_fields_map_onto_the_occurrence() -> None:
    mapped = occurrence(
        {
            "event_id": "9EC79C33-EC99-42AB-8353-589FCB2E04DC",
            "timestamp": "2026-12-01T10:00:00.5Z",
            "level": "fatal",
            "environment": "staging",
            "release": "shop@1.2",
            "server_name": "web-1",
            "transaction": "/checkout",
            "platform": "node",
            "user": {"id": 7, "email": "a@b.c", "ip_address": "10.0.0.1", "segment": "pro"},
            "request": {"url": "https://x/y", "method": "POST", "headers": [["Authorization", "Bearer s"], ["A", "b"]],
                        "query_string": [["q", "1"]], "data": {"n": 1}, "cookies": "sid=secret"},
            "contexts": {"os": {"name": "Linux"}, "runtime": {"name": "node"}},
            "tags": [["shard", "eu"]],
            "extra": {"order": 17},
            "breadcrumbs": {"values": [{"message": "hi"}]},
            "sdk": {"name": "sentry.javascript.node", "version": "11.12.0", "integrations": ["Http"]},
            "fingerprint": ["{{ default }}", "checkout"],
        }
    )  # fmt: skip
    assert mapped.client_id == "9ec79c33ec9942ab8353589fcb2e04dc"
    assert mapped.timestamp == 1796119200.5 and mapped.level == "critical" and mapped.environment == "staging"
    assert mapped.code_version == "shop@1.2" and mapped.server is not None and mapped.server.code_version == "shop@1.2"
    assert mapped.hostname == "web-1" and mapped.context == "/checkout" and mapped.language == "javascript"
    assert mapped.person is not None and mapped.person.id == "7" and mapped.person.model_extra["segment"] == "pro"
    assert mapped.request is not None and mapped.request.user_ip == "10.0.0.1"
    assert mapped.request.headers == {"Authorization": "[Filtered]", "A": "b"}
    assert mapped.request.query_string == "q=1" and mapped.request.body == {"n": 1}
    assert mapped.request.model_extra["cookies"] == "[Filtered]"
    assert mapped.client == {"os": {"name": "Linux"}, "runtime": {"name": "node"}}
    assert mapped.tags == {"shard": "eu"} and mapped.custom == {"order": 17}
    assert mapped.notifier is not None and mapped.notifier.name == "sentry.javascript.node"
    assert mapped.extra == {
        "breadcrumbs": {"values": [{"message": "hi"}]},
        "fingerprint": ["{{ default }}", "checkout"],
    }


@pytest.mark.parametrize("value", [None, "tomorrow", True, float("nan"), 1e300, "9" * 400])
def test_unusable_timestamps_are_dropped(value: Any) -> None:
    assert occurrence({"timestamp": value, "message": "x"}).timestamp is None


def test_odd_shapes_are_kept_not_rejected() -> None:
    mapped = occurrence({"exception": "boom", "tags": 5, "contexts": [1], "user": "x", "request": 3, "sdk": []})
    assert mapped.exceptions == [] and mapped.extra is not None
    assert mapped.extra["exception"] == "boom" and mapped.extra["tags"] == 5 and mapped.extra["contexts"] == [1]
    assert mapped.extra["user"] == "x" and mapped.extra["request"] == 3 and mapped.extra["sdk"] == []


# ---- grouping v2 ----------------------------------------------------------------------------------


def test_in_app_frames_decide_the_group() -> None:
    app = ("app/views.py", "show", True)
    one = occurrence(error("E", "a", frames(("site-packages/lib.py", "call", False), app)))
    other = occurrence(error("E", "b", frames(("site-packages/lib.py", "call_v2", False), app)))
    g1, g2 = grouping.compute(one), grouping.compute(other)
    assert g1 is not None and g2 is not None
    assert g1.group_id == g2.group_id and g1.version == 2
    assert "1 in-app frame(s)" in g1.reason
    no_app = occurrence(error("E", "a", frames(("lib.py", "call", False), ("lib.py", "x", False))))
    assert "2 frame(s)" in grouping.compute(no_app).reason  # type: ignore[union-attr]


def test_logentry_params_do_not_split_issues() -> None:
    a = occurrence({"logentry": {"message": "order %s of %s failed", "params": ["A-1", "bob"]}})
    b = occurrence({"logentry": {"message": "order %s of %s failed", "params": ["Z-9", "eve"]}})
    assert grouping.compute(a).group_id == grouping.compute(b).group_id  # type: ignore[union-attr]
    c = occurrence({"logentry": {"message": "refund %s failed", "params": ["A-1"]}})
    assert grouping.compute(a).group_id != grouping.compute(c).group_id  # type: ignore[union-attr]


def test_fingerprint_with_default_placeholder() -> None:
    base = error("E", "a", frames(("app.py", "f", True)))
    plain = grouping.compute(occurrence(base))
    tenant_a = grouping.compute(occurrence({**base, "fingerprint": ["{{ default }}", "tenant-a"]}))
    tenant_b = grouping.compute(occurrence({**base, "fingerprint": ["{{default}}", "tenant-b"]}))
    fixed = grouping.compute(occurrence({**base, "fingerprint": ["db-down"]}))
    fixed_other_stack = grouping.compute(
        occurrence({**error("F", "z", frames(("b.py", "g", True))), "fingerprint": ["db-down"]})
    )
    ids = {g.group_id for g in (plain, tenant_a, tenant_b, fixed)}  # type: ignore[union-attr]
    assert len(ids) == 4
    assert fixed.group_id == fixed_other_stack.group_id  # type: ignore[union-attr]
    assert tenant_a.reason.startswith("client fingerprint with {{ default }}")  # type: ignore[union-attr]


def test_other_protocols_keep_grouping_v1() -> None:
    from lodge.occurrence import Occurrence

    rollbar = Occurrence(project_id=PROJECT, protocol="rollbar", client_id="u", received_at=1.0, message="hi")
    assert grouping.compute(rollbar).version == 1  # type: ignore[union-attr]


# ---- client reports -------------------------------------------------------------------------------


def test_client_report_discards_are_counted_and_bounded() -> None:
    report = {
        "discarded_events": [
            {"reason": "queue_overflow", "category": "error", "quantity": 2},
            {"reason": "queue_overflow", "category": "error", "quantity": 3},
            {"reason": "x", "category": "y", "quantity": -1},
            {"reason": "x", "category": "y", "quantity": True},
            "junk",
        ],
        "rate_limited_events": [{"category": "transaction", "quantity": 1}],
    }
    assert outcomes.discards(report) == {"queue_overflow:error": 5, "rate_limited:transaction": 1}
    many = {"discarded_events": [{"reason": f"r{i}", "category": "c", "quantity": 1} for i in range(500)]}
    assert len(outcomes.discards(many)) == outcomes.MAX_PAIRS
    assert outcomes.discards([1]) == {}
