"""lodge.console.session: cookies that cannot be forged, replayed past expiry, or carry the token."""

from __future__ import annotations

import secrets

from lodge.console import session

KEY = secrets.token_bytes(32)


def test_a_sealed_session_opens_with_its_key_only() -> None:
    sealed = session.seal(KEY, session.new_session("p1", "a" * 64, now=1000))
    opened = session.open_session(KEY, sealed, now=1001)
    assert opened is not None and (opened.project_id, opened.token_hash) == ("p1", "a" * 64)
    assert session.open_session(secrets.token_bytes(32), sealed, now=1001) is None


def test_expired_tampered_and_malformed_cookies_are_no_session() -> None:
    sealed = session.seal(KEY, session.new_session("p1", "a" * 64, now=1000))
    assert session.open_session(KEY, sealed, now=1000 + session.SESSION_SECONDS) is None
    payload, signature = sealed.split(".")
    other = session.seal(KEY, session.new_session("p2", "b" * 64, now=1000)).split(".")[0]
    assert session.open_session(KEY, f"{other}.{signature}", now=1001) is None  # another project's payload
    for bad in ("", "x", "a.b.c", f"{payload}.", "." + signature, "é.é", "a" * 5000):
        assert session.open_session(KEY, bad, now=1001) is None


def test_csrf_tokens_are_bound_to_the_session() -> None:
    one, two = session.new_session("p", "h", now=1), session.new_session("p", "h", now=1)
    token = session.csrf_token(KEY, one.sid)
    assert session.csrf_ok(KEY, one.sid, token)
    assert not session.csrf_ok(KEY, two.sid, token)
    assert not session.csrf_ok(KEY, one.sid, None) and not session.csrf_ok(KEY, one.sid, "")


def test_cookie_attributes() -> None:
    plain = session.cookie("c", "v", max_age=60, secure=False)
    assert plain == "c=v; Path=/console; Max-Age=60; HttpOnly; SameSite=Lax"
    assert session.cookie("c", "v", max_age=60, secure=True).endswith("; Secure")
    assert "Expires=Thu, 01 Jan 1970" in session.cookie("c", "", max_age=0, secure=False)
