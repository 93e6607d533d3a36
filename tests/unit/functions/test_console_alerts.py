"""functions/console in-process: alert rules in Settings - list (masked), add (a signed webhook's
secret shown once), validation messages, escaping, CSRF, remove with confirmation, send test,
email via the SNS topic, and one project never touching another's rules."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from lodge import aws
from lodge.alerts import signing
from lodge.alerts.model import ALERT_KINDS, LEVELS
from lodge.console import data
from lodge.storage import Store
from tests.alert_receiver import receiver
from tests.conftest import Project
from tests.unit.functions.test_console import Browser, html

SLACK = "https://hooks.slack.com/services/T0001/B0002/abcdefghijklmnopqrstuvwx"
SCRIPT = "<script>window.__xss=1</script>"
IMG = '"><img src=x onerror="window.__xss=2">'


@pytest.fixture(autouse=True)
def _fresh_key(aws_mock: None) -> Iterator[None]:
    data.forget_session_key()
    yield
    data.forget_session_key()


@pytest.fixture
def browser(project: Project) -> Browser:
    signed_in = Browser()
    signed_in.sign_in(project.credentials["personal"])
    return signed_in


def add(browser: Browser, **fields: str | list[str]) -> dict[str, Any]:
    """POST the add-rule form the way a browser encodes it (one `trigger` per ticked box)."""
    form: dict[str, str | list[str]] = {
        "csrf": browser.csrf("/console/settings"),
        "destination": "webhook",
        "trigger": list(ALERT_KINDS),
        "min_level": "debug",
        "cap": "30",
        **fields,
    }
    return browser.post("/console/settings/alerts", form)


def test_the_console_lists_the_same_triggers_and_levels_as_the_alert_model() -> None:
    assert tuple(data.ALERT_TRIGGERS) == ALERT_KINDS
    assert data.ALERT_LEVELS == LEVELS
    assert set(data.ALERT_DESTINATIONS) == {"slack", "webhook", "email"}


def test_a_signed_webhook_shows_its_secret_once_and_is_listed_masked(
    browser: Browser, project: Project, store: Store
) -> None:
    url = "https://ops.example.com/hooks/lodge/0123456789abcdef"
    resp = add(browser, url=url, name="ops", environments="production, staging", min_level="error")
    assert resp["statusCode"] == 200
    page = html(resp)
    (rule,) = store.alert_rules(project.id)
    assert rule.secret and rule.secret.startswith("whsec_")
    assert page.count(rule.secret) == 1 and 'id="signing-secret"' in page
    assert url not in page and "/hooks/lodge/" not in page
    assert rule.environments == {"production", "staging"} and rule.min_level == "error"
    assert rule.url == url and rule.name == "ops"
    again = html(browser.get("/console/settings"))
    assert rule.secret not in again and url not in again
    assert "https://ops.example.com/…cdef" in again and ">signed<" in again
    assert "production, staging" in again and "error" in again


def test_a_slack_rule_redirects_with_a_flash_and_never_shows_the_url(
    browser: Browser, project: Project, store: Store
) -> None:
    resp = add(browser, destination="slack", url=SLACK, trigger=["new_issue", "regression"])
    assert resp["statusCode"] == 303
    assert resp["headers"]["Location"] == "/console/settings?flash=alert-added#alerts"
    (rule,) = store.alert_rules(project.id)
    assert rule.destination == "slack" and rule.kinds == {"new_issue", "regression"} and rule.secret is None
    page = html(browser.get(resp["headers"]["Location"].split("#")[0]))  # a browser keeps the fragment
    assert "Alert rule added." in page
    assert SLACK not in page and "T0001" not in page and "B0002" not in page
    assert "https://hooks.slack.com/…uvwx" in page
    assert "New issue, Regression" in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"url": "ftp://files.example.com/drop"}, "must start with http:// or https:// and name a host (got ftp:)"),
        ({"url": "javascript:alert(1)"}, "(got javascript:)"),
        ({"url": "hooks.slack.com/services/T/B/secret"}, "(got no scheme)"),
        ({"url": ""}, "A webhook destination needs a URL."),
        ({"url": "https://ok.example/x", "trigger": ["new_issue", "bogus"]}, "Unknown trigger &#39;bogus&#39;"),
        ({"url": "https://ok.example/x", "trigger": []}, "Choose at least one trigger."),
        ({"url": "https://ok.example/x", "min_level": "fatal"}, "Unknown level &#39;fatal&#39;: the levels are"),
        ({"url": "https://ok.example/x", "cap": "0"}, "The hourly cap must be between 1 and"),
        ({"url": "https://ok.example/x", "cap": "ten"}, "The hourly cap must be a whole number"),
        ({"destination": "pager"}, "Unknown destination &#39;pager&#39;"),
        ({"destination": "email", "email": "not-an-address"}, "needs an address like oncall@example.com"),
        ({"url": "https://ok.example/a b"}, "must not contain spaces or control characters"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_stored(
    browser: Browser, project: Project, store: Store, fields: dict[str, str | list[str]], message: str
) -> None:
    resp = add(browser, name="kept name", **fields)
    assert resp["statusCode"] == 400
    page = html(resp)
    assert 'id="alert-error"' in page and message in page, page[page.find("alert-error") - 200 :][:600]
    assert 'value="kept name"' in page  # the form comes back filled in ...
    url = fields.get("url")
    if isinstance(url, str) and url:
        assert url not in page  # ... but never with the URL
    assert store.alert_rules(project.id) == []


def test_a_hostile_rule_name_and_url_are_escaped(browser: Browser, project: Project, store: Store) -> None:
    hostile_url = f"https://evil.example/{IMG}{SCRIPT}"
    resp = add(browser, destination="slack", url=hostile_url.replace(" ", "%20"), name=f"{SCRIPT}{IMG}")
    assert resp["statusCode"] == 303
    page = html(browser.get("/console/settings"))
    assert SCRIPT not in page and "<img" not in page
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=" in page
    (rule,) = store.alert_rules(project.id)
    confirm = html(browser.post(f"/console/settings/alerts/{rule.id}/remove", {"csrf": browser.csrf()}))
    assert SCRIPT not in confirm and "&lt;script&gt;" in confirm


def test_alert_forms_need_the_csrf_token_and_the_consoles_origin(
    browser: Browser, project: Project, store: Store
) -> None:
    form = {"destination": "slack", "url": SLACK, "trigger": "new_issue", "min_level": "debug"}
    assert browser.post("/console/settings/alerts", form)["statusCode"] == 403
    assert browser.post("/console/settings/alerts", {**form, "csrf": "forged"})["statusCode"] == 403
    csrf = browser.csrf("/console/settings")
    refused = browser.post("/console/settings/alerts", {**form, "csrf": csrf}, origin="https://evil.example")
    assert refused["statusCode"] == 403
    assert store.alert_rules(project.id) == []
    assert add(browser, destination="slack", url=SLACK)["statusCode"] == 303
    (rule,) = store.alert_rules(project.id)
    for action in ("remove", "test"):
        path = f"/console/settings/alerts/{rule.id}/{action}"
        assert browser.post(path, {"confirm": "yes"})["statusCode"] == 403
        assert (
            browser.post(path, {"confirm": "yes", "csrf": csrf}, **{"sec-fetch-site": "cross-site"})["statusCode"]
            == 403
        )
    assert store.alert_rules(project.id) == [rule]
    anonymous = Browser().post("/console/settings/alerts", {**form, "csrf": csrf})
    assert anonymous["statusCode"] == 303 and anonymous["headers"]["Location"].startswith("/console/signin")


def test_remove_asks_first_then_removes(browser: Browser, project: Project, store: Store) -> None:
    add(browser, destination="slack", url=SLACK, name="team chat")
    (rule,) = store.alert_rules(project.id)
    path = f"/console/settings/alerts/{rule.id}/remove"
    confirm = browser.post(path, {"csrf": browser.csrf()})
    assert confirm["statusCode"] == 200 and "Yes, remove" in html(confirm) and "team chat" in html(confirm)
    assert SLACK not in html(confirm)
    assert store.alert_rules(project.id) == [rule]
    done = browser.post(path, {"csrf": browser.csrf(), "confirm": "yes"})
    assert done["statusCode"] == 303 and done["headers"]["Location"] == "/console/settings?flash=alert-removed#alerts"
    assert store.alert_rules(project.id) == []
    page = html(browser.get("/console/settings?flash=alert-removed"))
    assert "Alert rule removed." in page and 'id="no-alert-rules"' in page
    assert browser.post(path, {"csrf": browser.csrf(), "confirm": "yes"})["statusCode"] == 404


def test_send_test_delivers_a_signed_sample_and_shows_the_result(
    browser: Browser, project: Project, store: Store
) -> None:
    with receiver() as hook:
        secret = re.search(r'id="signing-secret">([^<]+)<', html(add(browser, url=hook.url))).group(1)  # type: ignore[union-attr]
        (rule,) = store.alert_rules(project.id)
        assert rule.secret == secret
        resp = browser.post(f"/console/settings/alerts/{rule.id}/test", {"csrf": browser.csrf()})
        (request,) = hook.wait_for(1)
        hook.statuses = [500]
        failed = browser.post(f"/console/settings/alerts/{rule.id}/test", {"csrf": browser.csrf()})
        assert len(hook.wait_for(2)) == 2
    assert resp["statusCode"] == 200
    page = html(resp)
    assert 'id="test-result" data-ok="yes"' in page and "delivered" in page
    assert secret not in page and hook.url not in page
    assert signing.verify(secret, request.body, request.headers[signing.HEADER])
    body = json.loads(request.body)
    assert body["kind"] == "new_issue" and "a test alert" in body["issue"]["title"]
    assert body["project"]["id"] == project.id
    assert 'data-ok="no"' in html(failed) and "failed: HTTP 500" in html(failed)


def test_email_rules_subscribe_the_address_to_the_alert_topic(
    browser: Browser, project: Project, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = add(browser, destination="email", email="oncall@example.com")
    assert refused["statusCode"] == 400 and "has no alert topic" in html(refused)
    sns = aws.sns()
    topic = sns.create_topic(Name="lodge-test-alerts")["TopicArn"]
    monkeypatch.setenv("ALERT_TOPIC_ARN", topic)
    assert add(browser, destination="email", email="oncall@example.com")["statusCode"] == 303
    (subscription,) = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert subscription["Protocol"] == "email" and subscription["Endpoint"] == "oncall@example.com"
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])["Attributes"]
    assert json.loads(attributes["FilterPolicy"]) == {"email": ["oncall@example.com"]}
    (rule,) = store.alert_rules(project.id)
    assert "oncall@example.com" in html(browser.get("/console/settings"))
    tested = html(browser.post(f"/console/settings/alerts/{rule.id}/test", {"csrf": browser.csrf()}))
    assert 'data-ok="yes"' in tested and "published to the alert topic" in tested


def test_one_project_never_sees_or_changes_anothers_rules(
    browser: Browser, other_project: Project, store: Store
) -> None:
    from lodge.alerts import rules

    theirs = rules.new_rule(other_project.id, "slack", url=SLACK, name="their chat")
    store.put_alert_rule(theirs)
    page = html(browser.get("/console/settings"))
    assert "their chat" not in page and theirs.id not in page
    for action in ("remove", "test"):
        path = f"/console/settings/alerts/{theirs.id}/{action}"
        assert browser.post(path, {"csrf": browser.csrf(), "confirm": "yes"})["statusCode"] == 404
    assert store.alert_rules(other_project.id) == [theirs]
    assert browser.post("/console/settings/alerts/nothex/remove", {"csrf": browser.csrf()})["statusCode"] == 404
