"""Console routing and pages: one request in, one HTML page (or a redirect) out.

Every page but sign-in needs a session; every state change is a POST carrying the session's CSRF
token and coming from the console's own origin. Pages are rendered by Jinja2 with autoescaping, and
served with a Content-Security-Policy that allows only the console's own script and style files.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape

from lodge import auth, http
from lodge.console import data, session

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
BASE = "/console"
MAX_FORM_BYTES = 16 * 1024
GZIP_MIN_BYTES = 1024
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".png": "image/png"}
HTML = "text/html; charset=utf-8"


@dataclass
class Context:
    request: http.Request
    key: bytes
    viewer: data.Viewer | None = None
    sid: str = ""

    @property
    def secure(self) -> bool:
        return self.request.header("x-forwarded-proto").split(",")[0].strip() == "https"

    @property
    def csrf(self) -> str:
        return session.csrf_token(self.key, self.sid) if self.sid else ""


# ---- rendering ----------------------------------------------------------------------------------


def _ago(ts: float | None) -> str:
    if not ts:
        return "never"
    delta = time.time() - float(ts)
    future = delta < 0
    delta = abs(delta)
    for unit, seconds in (("d", 86400), ("h", 3600), ("min", 60)):
        if delta >= seconds:
            text = f"{int(delta // seconds)} {unit}"
            break
    else:
        text = f"{int(delta)} s"
    return f"in {text}" if future else f"{text} ago"


def _iso(ts: float | None) -> str:
    if not ts:
        return ""
    try:
        return datetime.fromtimestamp(float(ts), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return ""


def _spark(trend: data.Trend | None, width: int = 96, height: int = 20) -> str:
    """SVG polyline points for a sparkline (numbers only: nothing client-supplied)."""
    if trend is None or not trend.counts:
        return ""
    peak = max(trend.counts) or 1
    step = width / max(1, len(trend.counts) - 1)
    return " ".join(f"{i * step:.1f},{height - 1 - (c / peak) * (height - 2):.1f}" for i, c in enumerate(trend.counts))


def _bars(trend: data.Trend, width: int = 560, height: int = 120) -> list[dict[str, Any]]:
    peak = max(trend.counts) or 1
    slot = width / len(trend.counts)
    bars = []
    for i, count in enumerate(trend.counts):
        h = (count / peak) * (height - 16)
        start = trend.start + i * trend.bucket_seconds
        bars.append(
            {
                "x": round(i * slot + 1, 1),
                "y": round(height - h, 1),
                "w": round(max(1.0, slot - 2), 1),
                "h": round(h, 1),
                "count": count,
                "label": datetime.fromtimestamp(start, UTC).strftime("%b %d"),
            }
        )
    return bars


def _marker_x(trend: data.Trend, ts: float, width: int = 560) -> float:
    return round((ts - trend.start) / (trend.end - trend.start) * width, 1)


@lru_cache(maxsize=1)
def _asset_versions() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:10] for p in STATIC.iterdir() if p.is_file()}


def _asset(name: str) -> str:
    return f"{BASE}/static/{name}?v={_asset_versions().get(name, '0')}"


def _pretty(value: Any) -> str:
    import json

    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


@lru_cache(maxsize=1)
def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(ago=_ago, iso=_iso, spark=_spark, pretty=_pretty)
    env.globals.update(asset=_asset, base=BASE, levels=data.LEVELS, bars=_bars, marker_x=_marker_x)
    env.globals.update(
        alert_triggers=data.ALERT_TRIGGERS, alert_destinations=data.ALERT_DESTINATIONS, alert_levels=data.ALERT_LEVELS
    )
    return env


def _headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**SECURITY_HEADERS, "Cache-Control": "no-store", **(extra or {})}


def _finish(request: http.Request, result: dict[str, Any]) -> dict[str, Any]:
    """gzip a text body when the browser accepts it (API Gateway passes the bytes through)."""
    body = result.get("body") or ""
    if result.get("isBase64Encoded") or len(body) < GZIP_MIN_BYTES:
        return result
    if "gzip" not in request.header("accept-encoding").lower():
        return result
    import base64

    packed = gzip.compress(body.encode("utf-8"), compresslevel=6, mtime=0)
    result["body"] = base64.b64encode(packed).decode("ascii")
    result["isBase64Encoded"] = True
    result["headers"] = {**result["headers"], "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
    return result


def page(ctx: Context, name: str, status: int = 200, cookies: list[str] | None = None, **values: Any) -> dict[str, Any]:
    html = templates().get_template(name).render(viewer=ctx.viewer, csrf=ctx.csrf, path=ctx.request.path, **values)
    result = http.response(status, html, _headers(), content_type=HTML)
    if cookies:
        result["cookies"] = cookies
    return result


def redirect(location: str, cookies: list[str] | None = None, status: int = 303) -> dict[str, Any]:
    result = http.response(status, "", _headers({"Location": location}), content_type=HTML)
    if cookies:
        result["cookies"] = cookies
    return result


def not_found(ctx: Context, what: str = "Page") -> dict[str, Any]:
    return page(ctx, "error.html", 404, title=f"{what} not found", message=f"{what} not found in this project.")


# ---- requests -----------------------------------------------------------------------------------


def _cookies(request: http.Request) -> dict[str, str]:
    jar: dict[str, str] = {}
    raw = list(request.event.get("cookies") or [])
    if request.header("cookie"):
        raw += request.header("cookie").split(";")
    for part in raw:
        name, _, value = str(part).strip().partition("=")
        jar.setdefault(name, value)
    return jar


def _form(request: http.Request) -> dict[str, str]:
    return http.parse_form(request.body(MAX_FORM_BYTES))


def _same_origin(request: http.Request) -> bool:
    """State changes only from the console's own pages (CSRF defence in depth, beside the token)."""
    if request.header("sec-fetch-site") in ("cross-site", "same-site"):
        return False
    origin = request.header("origin")
    if not origin or origin == "null":
        return not origin
    return urlsplit(origin).netloc == request.header("host")


def _safe_next(value: str | None) -> str:
    if value and value.startswith(BASE + "/") and not value.startswith("//") and "\\" not in value:
        return value
    return f"{BASE}/issues"


def _int(value: str | None, default: int) -> int:
    return int(value) if value and value.isascii() and value.isdigit() and len(value) < 10 else default


# ---- pages --------------------------------------------------------------------------------------


def signin_form(ctx: Context, error: str = "", status: int = 200) -> dict[str, Any]:
    nonce = session.new_pre_session()
    pre = session.cookie(session.PRE_COOKIE, nonce, max_age=session.PRE_SECONDS, secure=ctx.secure)
    return page(
        ctx,
        "signin.html",
        status,
        cookies=[pre],
        title="Sign in",
        signin_csrf=session.csrf_token(ctx.key, nonce),
        next=_safe_next(ctx.request.query.get("next")),
        error=error,
    )


def signin(ctx: Context) -> dict[str, Any]:
    form = _form(ctx.request)
    nonce = _cookies(ctx.request).get(session.PRE_COOKIE, "")
    if not _same_origin(ctx.request) or not nonce or not session.csrf_ok(ctx.key, nonce, form.get("csrf")):
        return signin_form(ctx, "Your sign-in form expired. Please try again.", 403)
    viewer = data.sign_in(form.get("token", "").strip())
    if viewer is None:
        return signin_form(ctx, "That is not a personal API token of any project.", 401)
    fresh = session.new_session(viewer.project_id, viewer.token_hash)
    cookies = [
        session.cookie(
            session.SESSION_COOKIE, session.seal(ctx.key, fresh), max_age=session.SESSION_SECONDS, secure=ctx.secure
        ),
        session.cookie(session.PRE_COOKIE, "", max_age=0, secure=ctx.secure),
    ]
    return redirect(_safe_next(form.get("next")), cookies)


def signout(ctx: Context) -> dict[str, Any]:
    return redirect(f"{BASE}/signin", [session.cookie(session.SESSION_COOKIE, "", max_age=0, secure=ctx.secure)])


def issues(ctx: Context) -> dict[str, Any]:
    assert ctx.viewer is not None
    q = ctx.request.query
    status = q.get("status", "active")
    status = status if status in data.STATUSES else "active"
    level = q.get("level", "")
    level = level if level in data.LEVELS else ""
    sort = q.get("sort", "last_seen")
    sort = sort if sort in data.SORTS else "last_seen"
    filters = {
        "status": status,
        "environment": q.get("environment", "")[:100],
        "level": level,
        "q": q.get("q", "")[:200],
        "sort": sort,
    }
    listing = data.list_issues(
        ctx.viewer,
        status=status,
        environment=filters["environment"],
        level=level,
        search=filters["q"],
        sort=sort,
        page=_int(q.get("page"), 1),
    )
    return page(
        ctx, "issues.html", title="Issues", listing=listing, filters=filters, query=_query, statuses=data.STATUSES
    )


def _query(filters: dict[str, str], **changes: Any) -> str:
    merged = {**filters, **changes}
    return "&".join(f"{k}={quote(str(v), safe='')}" for k, v in merged.items() if v not in ("", None))


def issue(ctx: Context, issue_id: str) -> dict[str, Any]:
    assert ctx.viewer is not None
    detail = data.get_issue(ctx.viewer, issue_id)
    if detail is None:
        return not_found(ctx, "Issue")
    latest = data.get_occurrence(ctx.viewer, detail.last_occurrence) if detail.last_occurrence else None
    before = _int(ctx.request.query.get("before"), 0) or None
    older, next_before = data.issue_occurrences(ctx.viewer, issue_id, before_ms=before)
    trend = detail.issue.trend
    markers = data.markers_between(data.list_markers(ctx.viewer), trend.start, trend.end) if trend else []
    return page(
        ctx,
        "issue.html",
        title=detail.issue.title,
        detail=detail,
        latest=latest,
        older=older,
        next_before=next_before,
        markers=markers,
        flash=FLASHES.get(ctx.request.query.get("flash", ""), ""),
    )


FLASHES = {
    "resolved": "Resolved.",
    "active": "Reopened.",
    "muted": "Muted.",
    "archived": "Archived.",
}


def triage(ctx: Context, issue_id: str) -> dict[str, Any]:
    assert ctx.viewer is not None
    form = _form(ctx.request)
    mute_for = _int(form.get("mute_for"), 0) or None
    mute_count = _int(form.get("mute_count", "").strip(), 0) or None
    try:
        row = data.triage(
            ctx.viewer,
            issue_id,
            form.get("action", ""),
            version=form.get("version", ""),
            mute_seconds=mute_for,
            mute_occurrences=mute_count,
        )
    except data.TriageError as error:
        return page(ctx, "error.html", 400, title="Cannot do that", message=str(error))
    if row is None:
        return not_found(ctx, "Issue")
    return redirect(f"{BASE}/issues/{quote(issue_id)}?flash={row.status}")


def occurrence(ctx: Context, ref: str) -> dict[str, Any]:
    assert ctx.viewer is not None
    view = data.get_occurrence(ctx.viewer, ref)
    if view is None:
        return not_found(ctx, "Occurrence")
    return page(ctx, "occurrence.html", title=view.title, occ=view)


def deploys(ctx: Context) -> dict[str, Any]:
    assert ctx.viewer is not None
    return page(ctx, "deploys.html", title="Deploys", markers=data.list_markers(ctx.viewer))


def settings_page(
    ctx: Context, rotated: data.Rotated | None = None, flash: str = "", status: int = 200, **alerts: Any
) -> dict[str, Any]:
    """Settings: the project, its credentials and its alert rules. `alerts` carries what an alert
    form post answers with: `added` (a signed webhook's secret, shown in this answer only),
    `tested` (a test delivery's result), or `alert_error` with the `alert_form` to fill in again."""
    assert ctx.viewer is not None
    return page(
        ctx,
        "settings.html",
        status,
        title="Settings",
        project=data.project_settings(ctx.viewer),
        current=ctx.viewer.token_hash,
        rotated=rotated,
        flash=flash or ctx.request.query.get("flash", ""),
        alert_rules=data.list_alert_rules(ctx.viewer),
        alert_form=alerts.pop("alert_form", None) or ALERT_FORM_DEFAULTS,
        **alerts,
    )


ALERT_FORM_DEFAULTS: dict[str, Any] = {
    "destination": "webhook",
    "name": "",
    "email": "",
    "triggers": tuple(data.ALERT_TRIGGERS),
    "environments": "",
    "min_level": "debug",
    "cap": "30",
}
"""The add-rule form's fields. Its URL is never filled in again: a Slack webhook URL is a credential."""


def _form_values(request: http.Request, name: str) -> list[str]:
    """Every value of a repeated field (checkboxes); `_form` keeps only the first."""
    from urllib.parse import parse_qsl

    try:
        text = request.body(MAX_FORM_BYTES).decode("utf-8")
    except UnicodeDecodeError as error:
        raise http.HttpError(400, "form body is not valid UTF-8") from error
    return [value for key, value in parse_qsl(text, keep_blank_values=True) if key == name]


def alert_add(ctx: Context) -> dict[str, Any]:
    assert ctx.viewer is not None
    form = _form(ctx.request)
    triggers = _form_values(ctx.request, "trigger")
    fields = {k: form.get(k, "") for k in ("destination", "name", "email", "environments", "min_level", "cap")}
    try:
        added = data.add_alert_rule(
            ctx.viewer,
            destination=fields["destination"],
            name=fields["name"],
            url=form.get("url", ""),
            email=fields["email"],
            triggers=triggers,
            environments=fields["environments"],
            min_level=fields["min_level"],
            cap=fields["cap"],
        )
    except data.AlertRuleError as error:
        kept = {**{k: v[:200] for k, v in fields.items()}, "triggers": tuple(triggers)}
        return settings_page(ctx, status=400, alert_error=str(error), alert_form=kept)
    if added.secret:
        return settings_page(ctx, added=added)  # the one time the secret is shown (like a new token)
    return redirect(f"{BASE}/settings?flash=alert-added#alerts")


def alert_action(ctx: Context, rule_id: str, action: str) -> dict[str, Any]:
    assert ctx.viewer is not None
    if action == "test":
        tested = data.send_test_alert(ctx.viewer, rule_id)
        return settings_page(ctx, tested=tested) if tested is not None else not_found(ctx, "Alert rule")
    form = _form(ctx.request)
    if form.get("confirm") != "yes":
        rule = data.alert_rule(ctx.viewer, rule_id)
        if rule is None:
            return not_found(ctx, "Alert rule")
        return page(ctx, "alert_remove.html", title="Remove alert rule", rule=rule)
    if not data.remove_alert_rule(ctx.viewer, rule_id):
        return not_found(ctx, "Alert rule")
    return redirect(f"{BASE}/settings?flash=alert-removed#alerts")


def credential_action(ctx: Context, token_hash: str, action: str) -> dict[str, Any]:
    assert ctx.viewer is not None
    form = _form(ctx.request)
    if form.get("confirm") != "yes":
        return page(ctx, "confirm.html", title="Confirm", action=action, token_hash=token_hash)
    if action == "revoke":
        if not data.revoke_credential(ctx.viewer, token_hash):
            return not_found(ctx, "Credential")
        if token_hash == ctx.viewer.token_hash:
            return signout(ctx)
        return redirect(f"{BASE}/settings?flash=revoked")
    rotated = data.rotate_credential(ctx.viewer, token_hash)
    if rotated is None:
        return not_found(ctx, "Credential")
    if token_hash == ctx.viewer.token_hash:
        # The session belonged to the old token: continue on the new one.
        fresh = session.new_session(ctx.viewer.project_id, auth.hash_token(rotated.token))
        ctx.viewer = data.Viewer(fresh.project_id, fresh.token_hash)
        ctx.sid = fresh.sid
        result = settings_page(ctx, rotated)
        result["cookies"] = [
            session.cookie(
                session.SESSION_COOKIE, session.seal(ctx.key, fresh), max_age=session.SESSION_SECONDS, secure=ctx.secure
            )
        ]
        return result
    return settings_page(ctx, rotated)


def static(request: http.Request, name: str) -> dict[str, Any]:
    path = STATIC / name
    if not re.fullmatch(r"[a-z0-9_-]+\.(css|js|png)", name) or not path.is_file():
        return http.response(404, "not found", _headers(), content_type="text/plain; charset=utf-8")
    headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=86400, immutable"}
    if path.suffix == ".png":
        import base64

        result = http.response(200, "", headers, content_type=STATIC_TYPES[".png"])
        result["body"] = base64.b64encode(path.read_bytes()).decode("ascii")
        result["isBase64Encoded"] = True
        return result
    return http.response(200, path.read_text(encoding="utf-8"), headers, content_type=STATIC_TYPES[path.suffix])


# ---- routing ------------------------------------------------------------------------------------

Handler = Callable[..., dict[str, Any]]
ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    ("GET", re.compile(r"/issues"), issues),
    ("GET", re.compile(r"/issues/([A-Za-z0-9_-]{1,128})"), issue),
    ("POST", re.compile(r"/issues/([A-Za-z0-9_-]{1,128})/triage"), triage),
    ("GET", re.compile(r"/occurrences/([A-Za-z0-9-]{1,80})"), occurrence),
    ("GET", re.compile(r"/deploys"), deploys),
    ("GET", re.compile(r"/settings"), settings_page),
    ("POST", re.compile(r"/settings/credentials/([0-9a-f]{64})/(revoke|rotate)"), credential_action),
    ("POST", re.compile(r"/settings/alerts"), alert_add),
    ("POST", re.compile(r"/settings/alerts/([0-9a-f]{16})/(remove|test)"), alert_action),
]


def route(request: http.Request) -> dict[str, Any]:
    return _finish(request, _route(request))


def _route(request: http.Request) -> dict[str, Any]:
    path = request.path
    if not (path == BASE or path.startswith(BASE + "/")):
        raise http.HttpError(404, "not found")
    rest = path[len(BASE) :].rstrip("/") or "/"
    method = "GET" if request.method == "HEAD" else request.method
    if method == "GET" and rest.startswith("/static/"):
        return static(request, rest[len("/static/") :])
    ctx = Context(request, data.session_key())
    if rest == "/signin":
        if method == "GET":
            return signin_form(ctx)
        if method == "POST":
            return signin(ctx)
    current = session.open_session(ctx.key, _cookies(request).get(session.SESSION_COOKIE))
    if current is not None:
        viewer = data.Viewer(current.project_id, current.token_hash)
        if data.still_valid(viewer):
            ctx.viewer, ctx.sid = viewer, current.sid
    if ctx.viewer is None:
        if method == "POST" and rest == "/signout":
            return signout(ctx)
        target = path if method == "GET" and rest != "/" else f"{BASE}/issues"
        return redirect(f"{BASE}/signin?next={quote(target, safe='/')}")
    if method == "POST":
        form = _form(request)
        if not _same_origin(request) or not session.csrf_ok(ctx.key, ctx.sid, form.get("csrf")):
            return page(
                ctx, "error.html", 403, title="Forbidden", message="The form expired; reload the page and try again."
            )
        if rest == "/signout":
            return signout(ctx)
    if method == "GET" and rest == "/":
        return redirect(f"{BASE}/issues")
    for verb, pattern, handler in ROUTES:
        match = pattern.fullmatch(rest)
        if match and verb == method:
            return handler(ctx, *match.groups())
    return not_found(ctx)
