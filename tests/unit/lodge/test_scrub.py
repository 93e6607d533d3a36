"""lodge.scrub: key rules at any depth, value rules in any text, policies, and bounded work."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from lodge import scrub
from lodge.scrub import FILTERED, Policy, luhn_valid, normalize_key, policy_from_config, scrub_text, scrub_tree

ROOT = Path(__file__).resolve().parents[3]
CARD = "4111111111111111"
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n"
    "-----END RSA PRIVATE KEY-----"
)


# ---- key names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "normalized"),
    [
        ("HTTP_AUTHORIZATION", "authorization"),
        ("X-Api-Key", "apikey"),
        ("HTTP_X_API_KEY", "apikey"),
        ("api_key", "apikey"),
        ("ApiKey", "apikey"),
        ("connect.sid", "connectsid"),
        ("XSRF-TOKEN", "xsrftoken"),
        ("x", "x"),
        ("http", "http"),
    ],
)
def test_key_names_are_normalized(key: str, normalized: str) -> None:
    assert normalize_key(key) == normalized


@pytest.mark.parametrize("key", [*scrub.SENTRY_KEYS, *scrub.ROLLBAR_KEYS])
def test_every_default_key_of_sentry_and_pyrollbar_is_filtered(key: str) -> None:
    assert scrub_tree({key: "value-1"}) == {key: FILTERED}
    assert scrub_tree({key.upper(): "value-1"}) == {key.upper(): FILTERED}


def test_the_default_lists_match_the_clients_own() -> None:
    """The lists are restated, not imported (no client library in the layer): check they agree."""
    sentry_scrubber = pytest.importorskip("sentry_sdk.scrubber")
    assert set(sentry_scrubber.DEFAULT_DENYLIST) <= set(scrub.SENTRY_KEYS)
    rollbar = pytest.importorskip("rollbar")
    assert set(rollbar.SETTINGS["scrub_fields"]) <= set(scrub.ROLLBAR_KEYS) | set(scrub.SENTRY_KEYS)


@pytest.mark.parametrize(
    "key",
    [
        "HTTP_AUTHORIZATION",
        "HTTP_COOKIE",
        "Cookie",
        "Set-Cookie",
        "X-Rollbar-Access-Token",
        "x-auth-token",
        "db_password",
        "aws_secret_access_key",
        "AWS_ACCESS_KEY_ID",
        "refresh_token",
        "client_secret",
        "PHPSESSID",
        "passwordConfirmation",
        "cookies",
    ],
)
def test_sensitive_names_in_any_spelling(key: str) -> None:
    assert scrub_tree({key: "v"}) == {key: FILTERED}


@pytest.mark.parametrize("key", ["author", "user", "message", "host", "path", "session_data_size_hint", "id"])
def test_ordinary_keys_are_kept(key: str) -> None:
    assert scrub_tree({key: "plain value"}) == {key: "plain value"}


def test_keys_at_any_depth_in_every_part_of_a_report() -> None:
    report = {
        "request": {
            "headers": {"Authorization": "Basic dXNlcjpwYXNz", "Cookie": "sessionid=abc", "Accept": "*/*"},
            "params": {"user": {"password": "hunter2", "name": "ann"}},
            "body": {"card": {"cvv": "123", "number": CARD}},
        },
        "exceptions": [{"frames": [{"locals": {"password": "p", "x": 1}, "kwargs": {"token": "t"}}]}],
        "custom": {"deep": [[{"api_key": "k"}]]},
        "environment": {"HTTP_AUTHORIZATION": "Bearer abc", "PATH": "/usr/bin"},
        "cgi_data": {"HTTP_X_API_KEY": "k"},
        "session": {"user_id": 7},
    }
    out = scrub_tree(report)
    assert out["request"]["headers"] == {"Authorization": FILTERED, "Cookie": FILTERED, "Accept": "*/*"}
    assert out["request"]["params"] == {"user": {"password": FILTERED, "name": "ann"}}
    assert out["request"]["body"]["card"]["number"] == FILTERED
    assert out["exceptions"][0]["frames"][0] == {
        "locals": {"password": FILTERED, "x": 1},
        "kwargs": {"token": FILTERED},
    }
    assert out["custom"] == {"deep": [[{"api_key": FILTERED}]]}
    assert out["environment"] == {"HTTP_AUTHORIZATION": FILTERED, "PATH": "/usr/bin"}
    assert out["cgi_data"] == {"HTTP_X_API_KEY": FILTERED}
    assert out["session"] == FILTERED
    assert report["request"]["params"]["user"]["password"] == "hunter2", "the input is not modified"


def test_a_password_in_pyrollbar_locals() -> None:
    """pyrollbar masks its scrub_fields with asterisks only when configured; here it sent them."""
    payload = json.loads((ROOT / "tests/fixtures/rollbar/e1_pyrollbar_exc_info.json").read_text())
    frame = payload["data"]["body"]["trace"]["frames"][1]
    frame["locals"]["payload"]["password"] = "correct horse"
    out = scrub_tree(payload)
    assert out["data"]["body"]["trace"]["frames"][1]["locals"]["payload"] == {"password": FILTERED, "n": 1}
    assert "correct horse" not in json.dumps(out)


def test_name_value_pairs_in_lists() -> None:
    headers = [["Authorization", "Bearer abc"], ["Accept", "*/*"], ("Cookie", "a=b")]
    assert scrub_tree(headers) == [["Authorization", FILTERED], ["Accept", "*/*"], ["Cookie", FILTERED]]


def test_null_and_empty_values_stay_as_they_are() -> None:
    assert scrub_tree({"password": None, "token": "", "secret": 0}) == {
        "password": None,
        "token": "",
        "secret": FILTERED,
    }


def test_non_string_keys_and_odd_values_pass_through() -> None:
    tree = {1: "a", None: [True, 1.5, None], "x": ("tuple", 2)}
    assert scrub_tree(tree) == {1: "a", None: [True, 1.5, None], "x": ["tuple", 2]}


# ---- value rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        CARD,
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5500 0000 0000 0004",
        "3400 000000 00009",
        "6011000990139424",
    ],
)
def test_card_numbers_are_filtered_with_or_without_separators(number: str) -> None:
    assert scrub_text(f"charge {number} failed") == f"charge {FILTERED} failed"
    assert scrub_tree({"note": number}) == {"note": FILTERED}


def test_a_card_number_inside_a_message() -> None:
    message = "PaymentError: card 4242 4242 4242 4242 was declined for order 1234"
    assert scrub_text(message) == f"PaymentError: card {FILTERED} was declined for order 1234"


def test_a_card_number_as_a_json_number() -> None:
    assert scrub_tree({"n": int(CARD)}) == {"n": FILTERED}
    assert scrub_tree({"n": 1795328982773}) == {"n": 1795328982773}


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",  # fails Luhn
        "1795328982773",  # a millisecond timestamp
        "0000000000000000",
        "order 12345678 on 2026-12-01 10:00:00",
        "41111111111111111111111",  # too long: not a card
        "id 5114f7e38c5ce90000000011",
    ],
)
def test_numbers_that_are_not_cards_are_kept(text: str) -> None:
    assert scrub_text(text) == text


def test_luhn() -> None:
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", f"Authorization: {FILTERED}"),
        ("sent Bearer eyJhbGciOiJIUzI1NiJ9.abc to api", f"sent Bearer {FILTERED} to api"),
        ("header was Basic dXNlcjpwYXNz ok", f"header was Basic {FILTERED} ok"),
        ("retry with token 9f8e7d6c5b4a39281706 now", f"retry with token {FILTERED} now"),
    ],
)
def test_bearer_and_basic_credentials(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


@pytest.mark.parametrize(
    "text", ["Basic authentication failed", "the token provided has expired", "bearer instruments"]
)
def test_prose_about_credentials_is_kept(text: str) -> None:
    assert scrub_text(text) == text


def test_aws_access_key_ids_and_secret_keys() -> None:
    assert scrub_text(f"using {AWS_KEY_ID} now") == f"using {FILTERED} now"
    assert scrub_text(f"secret is {AWS_SECRET}.") == f"secret is {FILTERED}."
    assert scrub_tree({"creds": [AWS_KEY_ID, AWS_SECRET]}) == {"creds": [FILTERED, FILTERED]}


def test_git_revisions_are_not_mistaken_for_secret_keys() -> None:
    revision = "fe001015311af4769a4dad76bdbce4c8f5d022af"
    assert scrub_text(f"deployed {revision}") == f"deployed {revision}"


def test_private_key_blocks() -> None:
    assert scrub_text(f"key:\n{PEM}\nend") == f"key:\n{FILTERED}\nend"
    truncated = PEM[:80]
    assert scrub_text(f"cut {truncated}") == f"cut {FILTERED}"
    openssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----"
    assert scrub_text(openssh) == FILTERED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "https://api.example.com/v1?access_token=abc123&page=2",
            f"https://api.example.com/v1?access_token={FILTERED}&page=2",
        ),
        ("GET /items?api_key=k1&q=x HTTP/1.1", f"GET /items?api_key={FILTERED}&q=x HTTP/1.1"),
        ("https://user:hunter2@db.example.com:5432/app", f"https://user:{FILTERED}@db.example.com:5432/app"),
        ("login failed password=hunter2 for ann", f"login failed password={FILTERED} for ann"),
        ("sessionid=abc; csrftoken=def; theme=dark", f"sessionid={FILTERED}; csrftoken={FILTERED}; theme=dark"),
        ('{"password": "hunter2", "user": "ann"}', f'{{"password": "{FILTERED}", "user": "ann"}}'),
        ("https://example.com/search?q=shoes&page=2", "https://example.com/search?q=shoes&page=2"),
    ],
)
def test_credentials_in_urls_query_strings_and_text(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


def test_a_query_string_field_keeps_its_url_and_loses_its_secret() -> None:
    request = {"url": "https://shop.example/cb?token=s3cr3t&id=7", "query_string": "token=s3cr3t&id=7"}
    assert scrub_tree(request) == {
        "url": f"https://shop.example/cb?token={FILTERED}&id=7",
        "query_string": f"token={FILTERED}&id=7",
    }


# ---- policies ----------------------------------------------------------------------------------


def test_on_by_default_and_off_when_disabled() -> None:
    tree = {"password": "p", "note": CARD}
    assert scrub_tree(tree) == {"password": FILTERED, "note": FILTERED}
    assert scrub_tree(tree, scrub.OFF) is tree
    assert scrub_text(CARD, scrub.OFF) == CARD


def test_extra_keys_and_safe_keys() -> None:
    policy = Policy.build(extra_keys=["ssn", "X-Tenant-Secretish"], safe_keys=["session", "max_tokens"])
    tree = {"SSN": "078-05-1120", "session": {"theme": "dark", "token": "t"}, "max_tokens": 1000, "password": "p"}
    assert scrub_tree(tree, policy) == {
        "SSN": FILTERED,
        "session": {"theme": "dark", "token": "t"},  # a safe key's value is kept as sent
        "max_tokens": 1000,
        "password": FILTERED,
    }


@pytest.mark.parametrize(
    ("config", "enabled", "extra", "safe"),
    [
        (None, True, set(), set()),
        ({}, True, set(), set()),
        ({"enabled": False}, False, set(), set()),
        ({"enabled": "no"}, True, set(), set()),  # malformed: the safe default
        ({"extra_keys": ["SSN", 3], "safe_keys": "session, max-tokens"}, True, {"ssn"}, {"session", "maxtokens"}),
        ("garbage", True, set(), set()),
    ],
)
def test_policy_from_project_config(config: Any, enabled: bool, extra: set[str], safe: set[str]) -> None:
    policy = policy_from_config(config)
    assert (policy.enabled, set(policy.extra_keys), set(policy.safe_keys)) == (enabled, extra, safe)


# ---- bounded work on any input -------------------------------------------------------------------

MEGABYTE = 1_000_000


@pytest.mark.parametrize(
    "text",
    [
        "4" * MEGABYTE,
        "4 " * (MEGABYTE // 2),
        "4-" * (MEGABYTE // 2),
        "a=" * (MEGABYTE // 2),
        "password=" * (MEGABYTE // 9),
        '"password":' * (MEGABYTE // 11),
        '"k": ' + " " * MEGABYTE,
        "-----BEGIN RSA PRIVATE KEY-----" * (MEGABYTE // 31),
        "https://" * (MEGABYTE // 8),
        "https://u:" + "p" * MEGABYTE,
        "Bearer " * (MEGABYTE // 7),
        "A" * MEGABYTE,
        "AKIA" * (MEGABYTE // 4),
        "x" * MEGABYTE,
    ],
    ids=lambda text: repr(text[:12]),
)
def test_a_megabyte_of_adversarial_text_is_linear(text: str) -> None:
    """Each pathological 1 MB text must scrub without catastrophic backtracking. Not a timing
    assertion: a quadratic pattern would take minutes here, and pytest's own run time shows it."""
    out = scrub_text(text)
    assert isinstance(out, str)


def test_deep_and_wide_trees_do_not_recurse() -> None:
    deep: Any = {"password": "p"}
    for _ in range(100_000):
        deep = {"k": deep}
    out = scrub_tree(deep)
    for _ in range(100_000):
        out = out["k"]
    assert out == {"password": FILTERED}
    assert sys.getrecursionlimit() < 100_000
    wide = {f"key{i}": f"value {i}" for i in range(50_000)}
    assert scrub_tree(wide) == wide


def test_lone_surrogates_and_odd_text_are_kept_not_crashed_on() -> None:
    tree = {"\ud800password": "x\udfff", "msg": f"card {CARD} \ud83d"}
    assert scrub_tree(tree) == {"\ud800password": FILTERED, "msg": f"card {FILTERED} \ud83d"}


def test_the_key_cache_is_bounded() -> None:
    policy = Policy.build()
    scrub_tree({f"field{i}": i for i in range(10_000)}, policy)
    assert len(policy._cache) <= scrub._MAX_KEY_CACHE


def test_the_module_imports_nothing_of_lodge() -> None:
    source = (ROOT / "layers/lodge/python/lodge/scrub.py").read_text()
    assert "from lodge" not in source and "import lodge" not in source and "pydantic" not in source
