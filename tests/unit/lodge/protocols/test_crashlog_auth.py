"""CrashLog HMAC: the docs/protocols/crashlog.md vectors, and the verifier over whole requests."""

from __future__ import annotations

import time
from typing import Any

import pytest

from lodge import auth
from lodge.http import HttpError, Request
from lodge.normalize.timestamps import parse_http_date
from lodge.protocols.crashlog import auth as crashlog
from lodge_devtools.apigw import build_event
from tests.conftest import Project
from tests.fixtures.crashlog.signer import fixture, http_date, signed_headers

DATE = "Thu, 10 Jul 2008 03:29:56 GMT"
REAL_SECRET = "2Xbz25UpU8nQxaSAKuixJQMDxuiqryxzArzSJJ8Ci3Mr"
REAL_DATE = "Thu, 04 Oct 2012 08:31:16 GMT"
RUBY_CT = "application/json; charset=UTF-8"
NODE_DATE = "Tue, 30 Oct 2012 19:48:27 GMT"

# (verb, content type, content md5, date, request path, secret, signature) from docs/protocols/crashlog.md
VECTORS = [
    ("PUT", "text/plain", "blahblah", DATE, "/path/to/put?foo=bar&bar=foo", "secret", "71wAJM4IIu/3o6lcqx/tw7XnAJs="),
    ("GET", "", "", DATE, "/path/to/get", "secret1", "ovwO0OBERuF3/uR3aowaUCkFMiE="),
    ("GET", "", "", DATE, "/path/to/get", "secret2", "vT010RQm4IZ6+UCVpK2/N0FLpLw="),
    ("get", "", "", DATE, "/api/foo.json", "secret", "ZQnbYwmno+PsaavXzUAdvj/DKvo="),
    ("POST", RUBY_CT, "", REAL_DATE, "/events", REAL_SECRET, "Rqj0DdG4/jNrzOXdybz13CaKzXU="),
    (
        "POST",
        "application/json",
        "",
        "Tue, 30 Oct 2012 19:48:27 GMT",
        "/events",
        "4567890",
        "U72tajmjkXG8Q9y+uA1wcAqMdBA=",
    ),
    ("GET", "", "", DATE, "/index", "secret1", "6BVEVfAyIDoI3K+WallRMnDxROQ="),
    ("GET", "", "", DATE, "/test_resources/1.xml", "secret", "44dvKATf4xanDtypqEA0EFYvOgI="),
    ("POST", RUBY_CT, "", REAL_DATE, "/announce", REAL_SECRET, "aQJH0WZOAbP5s4yJZC3rjx2Btpo="),
    ("POST", RUBY_CT, "ZRVTrFLyTBoLhjVqpqJaqA==", REAL_DATE, "/events", REAL_SECRET, "t5bD4iV11i2Jgpfuwd8o2Ww7eTs="),
]
WRONG_D2 = "W0bYPu3TKIlOUR8PGlzCBm14DBU="  # vector 5 signed with a trailing newline
WRONG_D3 = "HjxVcBuphpEmijtSYfZvE3QImTY="  # vector 5 signed with verb "post"


@pytest.mark.parametrize(("verb", "ctype", "md5", "date", "path", "secret", "expected"), VECTORS)
def test_signature_vectors(verb: str, ctype: str, md5: str, date: str, path: str, secret: str, expected: str) -> None:
    assert crashlog.sign(secret, crashlog.canonical_string(verb, ctype, md5, date, path)) == expected


def test_canonical_string_shape() -> None:
    text = crashlog.canonical_string("GET", "", "", DATE, "/path/to/get?x=1")
    assert text == f"GET\n\n\n{DATE}\n/path/to/get"
    assert text.count("\n") == 4 and not text.endswith("\n")


def test_wrong_forms_do_not_match_the_canonical_signature() -> None:
    right = crashlog.sign(REAL_SECRET, crashlog.canonical_string("POST", RUBY_CT, "", REAL_DATE, "/events"))
    assert crashlog.sign(REAL_SECRET, f"POST\n{RUBY_CT}\n\n{REAL_DATE}\n/events\n") == WRONG_D2
    assert crashlog.sign(REAL_SECRET, f"post\n{RUBY_CT}\n\n{REAL_DATE}\n/events") == WRONG_D3
    assert right not in (WRONG_D2, WRONG_D3)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("CrashLog 1234:U72tajmjkXG8Q9y+uA1wcAqMdBA=", ("CrashLog", "1234", "U72tajmjkXG8Q9y+uA1wcAqMdBA=")),
        ("Staging k:sig=", ("Staging", "k", "sig=")),
        ("CrashLog access key 1:abc", ("CrashLog", "access key 1", "abc")),
        ("AuthHMAC my-key-id:71wAJM4IIu/3o6lcqx/tw7XnAJs=", None),
        ("crashlog k:sig", None),
        ("CrashLog k", None),
        ("CrashLog :sig", None),
        ("Bearer abc", None),
        ("", None),
    ],
)
def test_parse_authorization(header: str, expected: tuple[str, str, str] | None) -> None:
    assert crashlog.parse_authorization(header) == expected


def test_md5_matches_hex_and_base64() -> None:
    body = fixture("ruby_1.1.0.pre1_vector_d4.json")
    assert crashlog.md5_matches("ZRVTrFLyTBoLhjVqpqJaqA==", body)
    assert crashlog.md5_matches("651553ac52f24c1a0b86356aa6a25aa8", body)
    assert crashlog.md5_matches("651553AC52F24C1A0B86356AA6A25AA8", body)
    assert not crashlog.md5_matches("ZRVTrFLyTBoLhjVqpqJaqA==", body + b" ")
    assert not crashlog.md5_matches("blahblah", body)
    assert not crashlog.md5_matches("", body)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thu, 04 Oct 2012 08:31:16 GMT", 1349339476.0),
        ("Thu, 4 Oct 2012 08:31:16 GMT", 1349339476.0),  # the Java appender does not pad the day
        ("Thu, 04 Oct 2012 08:31:16 +0000", 1349339476.0),
        ("yesterday", None),
        ("", None),
    ],
)
def test_parse_http_date(text: str, expected: float | None) -> None:
    assert parse_http_date(text) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", 900), ("0", 0), ("60", 60), ("junk", 900), (None, 900)],
)
def test_date_window_setting(monkeypatch: pytest.MonkeyPatch, raw: str | None, expected: int) -> None:
    if raw is None:
        monkeypatch.delenv(crashlog.DATE_WINDOW_ENV, raising=False)
    else:
        monkeypatch.setenv(crashlog.DATE_WINDOW_ENV, raw)
    assert crashlog.date_window_seconds() == expected


# ---- verify() over requests ------------------------------------------------------------------


def _request(method: str, path: str, headers: dict[str, str], body: bytes = b"", query: str = "") -> Request:
    return Request.from_event(build_event(method, path, headers=headers, body=body, raw_query=query))


@pytest.fixture
def real_key(store: Any, project: Project) -> str:
    """The project holding docs/protocols/crashlog.md's real-looking secret, so the spec vectors verify end to end."""
    key = "01234567-89ab-cdef-0123-456789abcdef"
    auth.issue_token(store, project.id, "crashlog", token=key, secret=REAL_SECRET)
    return key


def _expect_401(store: Any, request: Request, now: float | None = None) -> None:
    with pytest.raises(HttpError) as caught:
        crashlog.verify(store, request, now=now)
    assert caught.value.status == 401
    assert caught.value.message == crashlog.AUTH_FAILED


def _vector5(key: str, signature: str, service: str = "CrashLog", **overrides: str) -> dict[str, str]:
    headers = {"Content-Type": RUBY_CT, "Date": REAL_DATE, "Authorization": f"{service} {key}:{signature}"}
    headers.update(overrides)
    return headers


def test_vector5_request_verifies_at_its_own_time(store: Any, project: Project, real_key: str) -> None:
    now = parse_http_date(REAL_DATE)
    for service in ("CrashLog", "Staging"):
        request = _request("POST", "/events", _vector5(real_key, "Rqj0DdG4/jNrzOXdybz13CaKzXU=", service), b"{}")
        assert crashlog.verify(store, request, now=now).project_id == project.id


def test_wrong_form_signatures_fail(store: Any, real_key: str) -> None:
    now = parse_http_date(REAL_DATE)
    for wrong in (WRONG_D2, WRONG_D3, "Rqj0DdG4/jNrzOXdybz13CaKzXU", "rqj0DdG4/jNrzOXdybz13CaKzXU="):
        _expect_401(store, _request("POST", "/events", _vector5(real_key, wrong), b"{}"), now)


def test_other_service_ids_fail(store: Any, real_key: str) -> None:
    now = parse_http_date(REAL_DATE)
    request = _request("POST", "/events", _vector5(real_key, "Rqj0DdG4/jNrzOXdybz13CaKzXU=", "AuthHMAC"), b"{}")
    _expect_401(store, request, now)


def test_query_string_is_not_signed(store: Any, real_key: str) -> None:
    now = parse_http_date(REAL_DATE)
    headers = _vector5(real_key, "Rqj0DdG4/jNrzOXdybz13CaKzXU=")
    assert crashlog.verify(store, _request("POST", "/events", headers, b"{}", query="a=1"), now=now)


def test_vector_d4_with_content_md5(store: Any, real_key: str) -> None:
    now = parse_http_date(REAL_DATE)
    body = fixture("ruby_1.1.0.pre1_vector_d4.json")
    headers = _vector5(real_key, "t5bD4iV11i2Jgpfuwd8o2Ww7eTs=", **{"Content-MD5": "ZRVTrFLyTBoLhjVqpqJaqA=="})
    assert crashlog.verify(store, _request("POST", "/events", headers, body), now=now)
    _expect_401(store, _request("POST", "/events", headers, body.replace(b"This broke", b"This works")), now)


def test_node_checksum_signs_an_empty_md5_slot(store: Any, project: Project) -> None:
    key, secret = project.credentials["crashlog"], project.credentials["crashlog_secret"]
    body = fixture("node_winston.json")
    headers = signed_headers(
        key, secret, "POST", "/events", body=body, content_type="application/json", content_md5="hex", sign_md5=False
    )
    assert crashlog.verify(store, _request("POST", "/events", headers, body)).project_id == project.id
    _expect_401(store, _request("POST", "/events", headers, body + b" "))


def test_node_vector6_key_id(store: Any, project: Project) -> None:
    auth.issue_token(store, project.id, "crashlog", token="1234", secret="4567890")
    headers = {
        "Content-Type": "application/json",
        "Date": "Tue, 30 Oct 2012 19:48:27 GMT",
        "Authorization": "CrashLog 1234:U72tajmjkXG8Q9y+uA1wcAqMdBA=",
    }
    now = parse_http_date(headers["Date"])
    assert crashlog.verify(store, _request("POST", "/events", headers, b"{}"), now=now).project_id == project.id


def test_fresh_independent_signature_verifies(store: Any, project: Project) -> None:
    key, secret = project.credentials["crashlog"], project.credentials["crashlog_secret"]
    headers = signed_headers(key, secret, "POST", "/events", body=b"{}")
    assert crashlog.verify(store, _request("POST", "/events", headers, b"{}")).project_id == project.id


def test_date_window(store: Any, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    key, secret = project.credentials["crashlog"], project.credentials["crashlog_secret"]
    old = signed_headers(key, secret, "POST", "/events", date=http_date(time.time() - 16 * 60))
    recent = signed_headers(key, secret, "POST", "/events", date=http_date(time.time() - 14 * 60))
    future = signed_headers(key, secret, "POST", "/events", date=http_date(time.time() + 16 * 60))
    assert crashlog.verify(store, _request("POST", "/events", recent))
    _expect_401(store, _request("POST", "/events", old))
    _expect_401(store, _request("POST", "/events", future))
    monkeypatch.setenv(crashlog.DATE_WINDOW_ENV, "0")
    assert crashlog.verify(store, _request("POST", "/events", old))
    monkeypatch.setenv(crashlog.DATE_WINDOW_ENV, "60")
    _expect_401(store, _request("POST", "/events", recent))


def test_a_repeated_signature_is_not_a_replay(store: Any, project: Project) -> None:
    """Two different events in the same second carry the same signature (the body is unsigned)."""
    key, secret = project.credentials["crashlog"], project.credentials["crashlog_secret"]
    headers = signed_headers(key, secret, "POST", "/events")
    assert crashlog.verify(store, _request("POST", "/events", headers, b'{"a":1}'))
    assert crashlog.verify(store, _request("POST", "/events", headers, b'{"b":2}'))


def test_missing_or_unparseable_date_fails(store: Any, project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    key, secret = project.credentials["crashlog"], project.credentials["crashlog_secret"]
    monkeypatch.setenv(crashlog.DATE_WINDOW_ENV, "0")
    # The signer still signs an empty Date slot; Lodge requires the header regardless of the window.
    headers = signed_headers(key, secret, "POST", "/events", date="")
    del headers["Date"]
    _expect_401(store, _request("POST", "/events", headers))
    monkeypatch.setenv(crashlog.DATE_WINDOW_ENV, "900")
    _expect_401(store, _request("POST", "/events", signed_headers(key, secret, "POST", "/events", date="soon")))


@pytest.mark.parametrize("part", ["verb", "content-type", "date", "path", "secret", "key"])
def test_tampering_fails(store: Any, project: Project, part: str) -> None:
    key, secret = project.credentials["crashlog"], project.credentials["crashlog_secret"]
    headers = signed_headers(key, secret, "POST", "/events", body=b"{}")
    method, path = "POST", "/events"
    if part == "verb":
        method = "PUT"
    elif part == "content-type":
        headers["Content-Type"] = "application/json"
    elif part == "date":
        headers["Date"] = http_date(time.time() - 60)
    elif part == "path":
        path = "/announce"
    elif part == "secret":
        headers = signed_headers(key, secret + "x", "POST", "/events", body=b"{}")
    elif part == "key":
        headers = signed_headers(project.credentials["appsignal_push"], secret, "POST", "/events", body=b"{}")
    _expect_401(store, _request(method, path, headers, b"{}"))


def test_tampered_body_with_signed_md5_fails(store: Any, project: Project) -> None:
    key, secret = project.credentials["crashlog"], project.credentials["crashlog_secret"]
    headers = signed_headers(key, secret, "POST", "/events", body=b'{"a":1}', content_md5="base64")
    assert crashlog.verify(store, _request("POST", "/events", headers, b'{"a":1}'))
    _expect_401(store, _request("POST", "/events", headers, b'{"a":2}'))
    # Changing the MD5 to match the new body breaks the signature that covered the old MD5.
    forged = dict(headers, **signed_headers(key, "guess", "POST", "/events", body=b'{"a":2}', content_md5="base64"))
    forged["Authorization"] = headers["Authorization"]
    _expect_401(store, _request("POST", "/events", forged, b'{"a":2}'))


def test_revoked_key_fails(store: Any, project: Project) -> None:
    key, secret = project.credentials["crashlog"], project.credentials["crashlog_secret"]
    assert auth.revoke_token(store, key, project.id)
    auth.clear_cache()
    _expect_401(store, _request("POST", "/events", signed_headers(key, secret, "POST", "/events")))


def test_no_authorization_fails(store: Any) -> None:
    _expect_401(store, _request("POST", "/events", {"Date": http_date()}))
