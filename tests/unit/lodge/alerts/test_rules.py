"""lodge.alerts.rules: validation messages that never repeat a URL, masking, and add_rule's email
subscription - the functions the CLI and the console share."""

from __future__ import annotations

import pytest

from lodge.alerts import rules

SLACK = "https://hooks.slack.com/services/T0001/B0002/abcdefghijklmnopqrstuvwx"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (SLACK, "https://hooks.slack.com/…uvwx"),
        ("http://127.0.0.1:8123/hook", "http://127.0.0.1:8123/…"),  # too short to show a tail
        ("https://user:pa55word@ops.example.com/x/y/z/0123456789", "https://ops.example.com/…6789"),
        ("https://[::1]:9000/hooks/abcdefghijklmnop", "https://[::1]:9000/…mnop"),
        ("https://ops.example.com/?token=0123456789abcdef", "https://ops.example.com/…cdef"),
    ],
)
def test_mask_url_keeps_scheme_and_host_only(url: str, masked: str) -> None:
    assert rules.mask_url(url) == masked


def test_masked_destination_and_describe_never_show_a_credential() -> None:
    hook = rules.new_rule("p", "webhook", url=SLACK)
    line = rules.describe(hook)
    assert hook.secret and hook.secret not in line and SLACK not in line and "B0002" not in line
    assert "https://hooks.slack.com/…uvwx signed" in line
    email = rules.new_rule("p", "email", email="ops@example.com")
    assert rules.masked_destination(email) == "ops@example.com"


@pytest.mark.parametrize(
    "url", ["hooks.slack.com/services/T/B/s3cr3t", "ftp://x.example/s3cr3t", "https:///s3cr3t", "http://x:port/s3cr3t"]
)
def test_bad_urls_are_refused_without_repeating_them(url: str) -> None:
    with pytest.raises(rules.RuleError) as refused:
        rules.new_rule("p", "slack", url=url)
    assert "s3cr3t" not in str(refused.value)


def test_unknown_triggers_levels_and_oversized_fields_are_refused_by_name() -> None:
    with pytest.raises(rules.RuleError, match="unknown trigger 'sometimes'"):
        rules.new_rule("p", "slack", url=SLACK, kinds=["new_issue", "sometimes"])
    with pytest.raises(rules.RuleError, match="unknown level 'fatal'"):
        rules.new_rule("p", "slack", url=SLACK, min_level="fatal")
    with pytest.raises(rules.RuleError, match="longer than"):
        rules.new_rule("p", "slack", url=SLACK, name="n" * (rules.MAX_NAME + 1))
    with pytest.raises(rules.RuleError, match="environments"):
        rules.new_rule("p", "slack", url=SLACK, environments=["e"] * (rules.MAX_ENVIRONMENTS + 1))
    with pytest.raises(rules.RuleError, match="longer than"):
        rules.new_rule("p", "slack", url="https://x.example/" + "a" * rules.MAX_URL)


def test_an_email_rule_needs_the_alert_topic() -> None:
    rule = rules.new_rule("p", "email", email="ops@example.com")
    with pytest.raises(rules.RuleError, match="no alert topic"):
        rules.add_rule(None, rule)  # type: ignore[arg-type]  # refused before storage is touched


class RefusingSns:
    def subscribe(self, **request: object) -> None:
        raise OSError("the topic is unreachable")


def test_a_refused_subscription_stores_nothing_and_says_so() -> None:
    rule = rules.new_rule("p", "email", email="ops@example.com")
    with pytest.raises(rules.RuleError, match=r"SNS did not subscribe the address \(OSError\)"):
        rules.add_rule(None, rule, RefusingSns(), "arn:aws:sns:us-east-1:123456789012:alerts")  # type: ignore[arg-type]
