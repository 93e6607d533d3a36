"""functions/console in-process: sign-in, sessions, CSRF, pages, triage, settings, isolation."""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections.abc import Iterator, Mapping
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from lodge.console import data
from lodge.models.markers import Marker
from lodge.storage import Store
from lodge_devtools.apigw import build_event
from tests.conftest import Project
from tests.helpers import invoke

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "rollbar"


@pytest.fixture(autouse=True)
def _fresh_key(aws_mock: None) -> Iterator[None]:
    data.forget_session_key()
    yield
    data.forget_session_key()


class Browser:
    """A cookie jar over the console handler, the way a browser drives it (no JavaScript)."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, form: Mapping[str, str | list[str]] | None = None, /, **headers: str
    ) -> dict[str, Any]:
        path, _, query = path.partition("?")
        pairs = [("host", "lodge.test"), *headers.items()]
        if self.cookies:
            pairs.append(("cookie", "; ".join(f"{k}={v}" for k, v in self.cookies.items())))
        body = None
        if form is not None:
            pairs.append(("content-type", "application/x-www-form-urlencoded"))
            body = urlencode(form, doseq=True)  # a list: one field per value (checkboxes)
        resp = invoke("console", build_event(method, path, raw_query=query, headers=pairs, body=body))
        for raw in resp.get("cookies", []):
            jar: SimpleCookie = SimpleCookie()
            jar.load(raw)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return resp

    def get(self, path: str, **headers: str) -> dict[str, Any]:
        return self.request("GET", path, **headers)

    def post(self, path: str, form: Mapping[str, str | list[str]], **headers: str) -> dict[str, Any]:
        return self.request("POST", path, form, **headers)

    def sign_in(self, token: str) -> dict[str, Any]:
        form = self.get("/console/signin")
        csrf = re.search(r'name="csrf" value="([^"]+)"', html(form)).group(1)  # type: ignore[union-attr]
        return self.post("/console/signin", {"csrf": csrf, "token": token, "next": "/console/issues"})

    def csrf(self, path: str = "/console/issues") -> str:
        return re.search(r'name="csrf" value="([^"]+)"', html(self.get(path))).group(1)  # type: ignore[union-attr]


def html(resp: dict[str, Any]) -> str:
    body = resp.get("body") or ""
    if resp.get("isBase64Encoded"):
        raw = base64.b64decode(body)
        return (gzip.decompress(raw) if resp["headers"].get("Content-Encoding") == "gzip" else raw).decode()
    return str(body)


def ingest(project: Project, payload: dict[str, Any]) -> None:
    payload = {k: v for k, v in payload.items() if k != "access_token"}
    event = build_event(
        "POST",
        "/api/1/item/",
        headers={
            "content-type": "application/json",
            "x-rollbar-access-token": project.credentials["rollbar_post_server_item"],
        },
        body=json.dumps(payload),
    )
    assert invoke("rollbar_item", event)["statusCode"] == 200


def fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return loaded


def message(text: str, **data_fields: Any) -> dict[str, Any]:
    return {"data": {"environment": "production", "level": "error", "body": {"message": {"body": text}}, **data_fields}}


def test_every_page_redirects_to_sign_in_without_a_session(project: Project) -> None:
    browser = Browser()
    for path in ("/console", "/console/", "/console/issues", "/console/issues/abc", "/console/deploys",
                 "/console/settings", "/console/occurrences/abc"):  # fmt: skip
        resp = browser.get(path)
        assert resp["statusCode"] == 303, path
        assert resp["headers"]["Location"].startswith("/console/signin?next=")
    resp = browser.post("/console/issues/abc/triage", {"action": "resolve"})
    assert resp["statusCode"] == 303 and resp["headers"]["Location"].startswith("/console/signin")


def test_sign_in_sets_a_signed_http_only_lax_cookie_without_the_token(project: Project) -> None:
    browser = Browser()
    resp = browser.sign_in(project.credentials["personal"])
    assert resp["statusCode"] == 303 and resp["headers"]["Location"] == "/console/issues"
    session_cookie = next(c for c in resp["cookies"] if c.startswith("lodge_session="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie and "Max-Age=43200" in session_cookie
    assert "Secure" not in session_cookie  # plain http (make dev); https gets Secure
    assert project.credentials["personal"] not in json.dumps(resp)
    page = browser.get("/console/issues")
    assert page["statusCode"] == 200
    assert project.credentials["personal"] not in html(page)


def test_sign_in_over_https_marks_the_cookie_secure(project: Project) -> None:
    browser = Browser()
    form = browser.get("/console/signin", **{"x-forwarded-proto": "https"})
    csrf = re.search(r'name="csrf" value="([^"]+)"', html(form)).group(1)  # type: ignore[union-attr]
    resp = browser.post(
        "/console/signin", {"csrf": csrf, "token": project.credentials["personal"]}, **{"x-forwarded-proto": "https"}
    )
    assert all("Secure" in c for c in resp["cookies"])


@pytest.mark.parametrize("kind", ["rollbar_read", "rollbar_post_server_item", "crashlog"])
def test_only_personal_tokens_sign_in(project: Project, kind: str) -> None:
    resp = Browser().sign_in(project.credentials[kind])
    assert resp["statusCode"] == 401
    assert "lodge_session" not in json.dumps(resp.get("cookies", []))


def test_sign_in_needs_the_forms_csrf_token(project: Project) -> None:
    browser = Browser()
    browser.get("/console/signin")
    resp = browser.post("/console/signin", {"csrf": "forged", "token": project.credentials["personal"]})
    assert resp["statusCode"] == 403


def test_a_forged_or_tampered_cookie_is_no_session(project: Project) -> None:
    browser = Browser()
    browser.sign_in(project.credentials["personal"])
    payload, signature = browser.cookies["lodge_session"].split(".")
    browser.cookies["lodge_session"] = payload + "." + signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    assert browser.get("/console/issues")["statusCode"] == 303


def test_state_changes_need_csrf_and_same_origin(project: Project, store: Store) -> None:
    ingest(project, message("boom"))
    group = store.issues(project.id)[0]
    browser = Browser()
    browser.sign_in(project.credentials["personal"])
    path = f"/console/issues/{group.id}/triage"
    assert browser.post(path, {"action": "resolve"})["statusCode"] == 403
    csrf = browser.csrf()
    assert browser.post(path, {"action": "resolve", "csrf": csrf}, origin="https://evil.example")["statusCode"] == 403
    assert store.issue(project.id, group.id).status == "active"  # type: ignore[union-attr]
    resp = browser.post(path, {"action": "resolve", "csrf": csrf}, origin="https://lodge.test")
    assert resp["statusCode"] == 303
    assert store.issue(project.id, group.id).status == "resolved"  # type: ignore[union-attr]


def test_issues_list_filters_search_and_tabs(project: Project, store: Store) -> None:
    ingest(project, message("alpha failure"))
    ingest(project, message("beta failure", environment="qa", level="warning"))
    ingest(project, fixture("e1b_pyrollbar_trace_chain"))
    browser = Browser()
    browser.sign_in(project.credentials["personal"])
    page = html(browser.get("/console/issues"))
    assert page.count('class="issue-row"') == 3
    assert 'class="badge new"' in page
    assert '<svg class="spark"' in page
    assert html(browser.get("/console/issues?q=ALPHA")).count('class="issue-row"') == 1
    assert html(browser.get("/console/issues?environment=qa")).count('class="issue-row"') == 1
    assert html(browser.get("/console/issues?level=warning")).count('class="issue-row"') == 1
    assert html(browser.get("/console/issues?status=resolved")).count('class="issue-row"') == 0
    assert html(browser.get("/console/issues?sort=count&page=99")).count('class="issue-row"') == 3


def test_issue_page_shows_frames_custom_data_and_occurrences(project: Project, store: Store) -> None:
    payload = fixture("e1b_pyrollbar_trace_chain")
    ingest(project, payload)
    group = store.issues(project.id)[0]
    browser = Browser()
    browser.sign_in(project.credentials["personal"])
    page = html(browser.get(f"/console/issues/{group.id}"))
    assert group.title.replace("'", "&#39;").replace('"', "&#34;") in page or group.title in page
    assert 'class="frame' in page
    assert "Occurrences per day" in page
    occurrence = html(browser.get(f"/console/occurrences/{group.last_occurrence_id}"))
    assert "Everything stored" in occurrence and "rollbar" in occurrence


def test_mute_and_resolve_in_a_typed_version_from_the_issue_page(project: Project, store: Store) -> None:
    ingest(project, message("boom"))
    group = store.issues(project.id)[0]
    browser = Browser()
    browser.sign_in(project.credentials["personal"])
    path = f"/console/issues/{group.id}/triage"
    resp = browser.post(path, {"action": "mute", "mute_count": "3", "csrf": browser.csrf()})
    assert resp["headers"]["Location"].endswith("flash=muted")
    page = html(browser.get(resp["headers"]["Location"]))
    assert "Muted." in page and "for 3 more occurrences" in page and "Status history" in page
    assert store.issue(project.id, group.id).status == "muted"  # type: ignore[union-attr]
    browser.post(path, {"action": "reopen", "csrf": browser.csrf()})
    resp = browser.post(path, {"action": "resolve_next", "version": "2.0.0", "csrf": browser.csrf()})
    assert resp["headers"]["Location"].endswith("flash=resolved")
    assert store.issue(project.id, group.id).resolved_in_version == "2.0.0"  # type: ignore[union-attr]
    assert "version 2.0.0" in html(browser.get(f"/console/issues/{group.id}"))


def test_resolve_next_without_a_version_to_count_from_asks_for_one(project: Project, store: Store) -> None:
    ingest(project, message("boom"))
    group = store.issues(project.id)[0]
    browser = Browser()
    browser.sign_in(project.credentials["personal"])
    resp = browser.post(f"/console/issues/{group.id}/triage", {"action": "resolve_next", "csrf": browser.csrf()})
    assert resp["statusCode"] == 400 and "Type the version" in html(resp)
    assert store.issue(project.id, group.id).status == "active"  # type: ignore[union-attr]


def test_one_projects_session_never_reads_anothers(project: Project, other_project: Project, store: Store) -> None:
    ingest(other_project, message("their secret issue"))
    theirs = store.issues(other_project.id)[0]
    browser = Browser()
    browser.sign_in(project.credentials["personal"])
    assert "their secret issue" not in html(browser.get("/console/issues"))
    assert browser.get(f"/console/issues/{theirs.id}")["statusCode"] == 404
    assert browser.get(f"/console/occurrences/{theirs.last_occurrence_id}")["statusCode"] == 404
    resp = browser.post(f"/console/issues/{theirs.id}/triage", {"action": "resolve", "csrf": browser.csrf()})
    assert resp["statusCode"] == 404
    assert store.issue(other_project.id, theirs.id).status == "active"  # type: ignore[union-attr]
    other_hash = store.credentials(other_project.id)[0].token_hash
    resp = browser.post(
        f"/console/settings/credentials/{other_hash}/revoke", {"csrf": browser.csrf(), "confirm": "yes"}
    )
    assert resp["statusCode"] == 404
    assert store.credential(other_hash) is not None


def test_settings_rotate_and_revoke_with_confirmation(project: Project, store: Store) -> None:
    browser = Browser()
    browser.sign_in(project.credentials["personal"])
    page = html(browser.get("/console/settings"))
    for token in project.credentials.values():
        assert token not in page
    read = next(c for c in store.credentials(project.id) if c.kind == "rollbar_read")
    path = f"/console/settings/credentials/{read.token_hash}/rotate"
    confirm = browser.post(path, {"csrf": browser.csrf()})
    assert "Yes, rotate" in html(confirm) and store.credential(read.token_hash) is not None
    rotated = html(browser.post(path, {"csrf": browser.csrf(), "confirm": "yes"}))
    assert store.credential(read.token_hash) is None
    new_token = re.search(r'<code class="secret">([0-9a-f]{32})</code>', rotated).group(1)  # type: ignore[union-attr]
    assert data.auth.lookup(store, new_token) is not None
    mine = next(c for c in store.credentials(project.id) if c.kind == "personal")
    resp = browser.post(
        f"/console/settings/credentials/{mine.token_hash}/revoke", {"csrf": browser.csrf(), "confirm": "yes"}
    )
    assert resp["headers"]["Location"] == "/console/signin"
    assert browser.get("/console/issues")["statusCode"] == 303


def test_revoking_the_token_ends_its_sessions(project: Project, store: Store) -> None:
    browser = Browser()
    browser.sign_in(project.credentials["personal"])
    assert browser.get("/console/issues")["statusCode"] == 200
    data.auth.revoke_token(store, project.credentials["personal"], project.id)
    assert browser.get("/console/issues")["statusCode"] == 303


def test_pages_carry_a_csp_without_inline_script_and_gzip(project: Project) -> None:
    browser = Browser()
    browser.sign_in(project.credentials["personal"])
    resp = browser.get("/console/settings", **{"accept-encoding": "gzip, br"})
    csp = resp["headers"]["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert resp["headers"]["Content-Encoding"] == "gzip"
    page = html(resp)
    assert "<script>" not in page and " on" + "click=" not in page and "style=" not in page
    static = browser.get("/console/static/console.js")
    assert static["statusCode"] == 200 and static["headers"]["Content-Type"].startswith("text/javascript")
    assert browser.get("/console/static/..%2Fapp.py")["statusCode"] == 404


def test_session_key_is_made_once_and_shared(store: Store) -> None:
    first = data.session_key(store)
    data.forget_session_key()
    assert data.session_key(store) == first and len(first) == 32


def test_deploys_show_markers_of_every_protocol(project: Project, store: Store) -> None:
    store.add_marker(project.id, Marker(kind="deploy", source="rollbar", environment="production", revision="r1"))
    store.add_marker(project.id, Marker(kind="announce", source="crashlog", hostname="web-1", created=1.0))
    browser = Browser()
    browser.sign_in(project.credentials["personal"])
    page = html(browser.get("/console/deploys"))
    assert "r1" in page and "crashlog" in page and "rollbar" in page
