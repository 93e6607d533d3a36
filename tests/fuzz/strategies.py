"""Hypothesis strategies that turn an `Endpoint` into fuzz `Case`s.

A case starts from one real captured payload and one legitimate request shape, then draws a few
edits on each layer: the JSON tree (wrong types at any key, missing keys, hostile keys and values),
its serialization (broken JSON dialects, invalid UTF-8), the body encoding (every compression, wrong
labels, bombs, oversize), the credentials (missing, wrong, other scope, bad signature or date), and
the path and query string. Most cases keep valid credentials so the payload reaches the parser.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from lodge_devtools.apigw import build_event
from lodge_devtools.demo import DEMO_CREDENTIALS
from tests.fixtures.crashlog.signer import http_date, signed_headers
from tests.fuzz import mutators as m
from tests.fuzz.endpoints import Endpoint, Shape, apply_credentials, credential_for, fill_placeholders


@dataclass
class Case:
    endpoint: str
    method: str
    path: str
    route_key: str
    query: str
    headers: dict[str, str]
    body: bytes
    path_params: dict[str, str]
    labels: list[str] = field(default_factory=list)

    def event(self) -> dict[str, Any]:
        return build_event(
            self.method,
            self.path,
            raw_query=self.query,
            headers=self.headers,
            body=self.body,
            route_key=self.route_key,
            path_parameters=self.path_params or None,
        )

    def describe(self) -> str:
        return f"{self.method} {self.path}?{self.query[:80]} [{', '.join(self.labels)}] body={len(self.body)}B"


# ---- JSON values ---------------------------------------------------------------------------------

_SURROGATE_TEXT = st.sampled_from(["\ud800", "\udbff\udbff", "a\udc00b", "\ud83d", "\udfff" * 3])
small_text = st.one_of(st.text(max_size=30), _SURROGATE_TEXT)
small_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | small_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(small_text, children, max_size=4),
    max_leaves=8,
)


@st.composite
def hostile_value(draw: st.DrawFn) -> tuple[Any, str]:
    """(value, label): a named hostile value most of the time, an arbitrary small JSON value otherwise."""
    pick = draw(st.integers(0, 99))
    if pick < 3:
        name = draw(st.sampled_from(m.EXPENSIVE_VALUES))
        return m.special_value(name), name
    if pick < 70:
        name = draw(st.sampled_from(m.SPECIAL_VALUES))
        return m.special_value(name), name
    return draw(small_json), "random"


@st.composite
def mutated_tree(draw: st.DrawFn, seed: Any) -> tuple[Any, list[str]]:
    """Up to five edits at random nodes of `seed` (which the caller has already copied)."""
    tree, labels = seed, []
    if draw(st.integers(0, 99)) < 3:
        return m.surrogate_every_key_and_value(tree), ["surrogate_everywhere"]
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2, 2, 3, 5]))):
        nodes = m.paths(tree)
        path = nodes[draw(st.integers(0, len(nodes) - 1))]
        where = "/".join(str(step) for step in path)[:60] or "<root>"
        op = draw(st.sampled_from(["replace", "replace", "replace", "delete", "rename", "insert"]))
        if op == "replace":
            value, name = draw(hostile_value())
            tree = m.replace(tree, path, value)
            labels.append(f"{where}={name}")
        elif op == "delete" and path:
            tree = m.delete(tree, path)
            labels.append(f"del {where}")
        elif op == "rename" and path and isinstance(path[-1], str):
            key = draw(st.sampled_from(m.SPECIAL_KEYS) | small_text)
            tree = m.rename(tree, path, key)
            labels.append(f"rename {where}->{key[:12]!r}")
        elif op == "insert":
            key = draw(st.sampled_from(m.SPECIAL_KEYS) | small_text)
            value, name = draw(hostile_value())
            tree = m.insert(tree, path, key, value)
            labels.append(f"insert {where}[{key[:12]!r}]={name}")
    return tree, labels


# ---- transport -----------------------------------------------------------------------------------

QUERY_NAMES = [
    "page",
    "limit",
    "uuid",
    "environment",
    "level",
    "status",
    "framework",
    "since",
    "before",
    "count_only",
    "action",
    "action_id",
    "action_name",
    "exception",
    "callback",
    "kind",
    "from",
    "to",
    "token",
    "api_key",
    "name",
    "hostname",
    "gem_version",
    "access_token",
]
QUERY_VALUES = (
    "",
    "0",
    "-1",
    "1e400",
    "NaN",
    "abc",
    "9" * 40,
    "%FF",
    "%ED%A0%80",
    "%00",
    "a" * 5000,
    "true",
    "%5B%5D",
    "1,2",
    "+1+",
    "%C3%BC",
    "cb%28%29%3Balert",
    "fa3905ed-4259-4fde-8972-0403fead5455",
)
PATH_EDITS = (
    "trailing_slash",
    "no_trailing_slash",
    "double_slash",
    "suffix",
    "upper",
    "dot_segments",
    "encoded",
    "long",
    "unicode",
    "bad_param",
)
PARAM_VALUES = ("", "abc", "-1", "0", "1e400", "9" * 30, "\ud800", "%00", "..", "a/b", "x" * 3000, "\u00fc")


@st.composite
def path_and_query(draw: st.DrawFn, shape: Shape) -> tuple[str, str, dict[str, str], list[str]]:
    path, query, params, labels = shape.path, shape.query, dict(shape.path_params), []
    if draw(st.integers(0, 99)) < 12:
        edit = draw(st.sampled_from(PATH_EDITS))
        labels.append(f"path:{edit}")
        if edit == "trailing_slash":
            path = path.rstrip("/") + "/"
        elif edit == "no_trailing_slash":
            path = path.rstrip("/") or "/"
        elif edit == "double_slash":
            path = path.replace("/", "//", 2)
        elif edit == "suffix":
            path = path.rstrip("/") + "/extra/segment"
        elif edit == "upper":
            path = path.upper()
        elif edit == "dot_segments":
            path = path + "/../../%2e%2e/"
        elif edit == "encoded":
            path = path.replace("/", "%2F", 2)
        elif edit == "long":
            path = path + "/" + "p" * 8000
        elif edit == "unicode":
            path = path + "/\u00fc\U0001f4a9"
        elif edit == "bad_param" and params:
            name = draw(st.sampled_from(sorted(params)))
            value = draw(st.sampled_from(PARAM_VALUES))
            params[name] = value
            head = path.rsplit("/", 1)[0] if name != "proxy" else path.rstrip("/")
            path = f"{head}/{quote(value.encode('utf-8', 'surrogatepass'), safe='')}"
            labels[-1] += f"({name}={value[:10]!r})"
    if draw(st.integers(0, 99)) < (45 if shape.method == "GET" else 12):
        extra = []
        for _ in range(draw(st.integers(1, 4))):
            name = draw(st.sampled_from(QUERY_NAMES))
            value = draw(st.sampled_from(QUERY_VALUES))
            extra.append(f"{name}={value}")
        if draw(st.booleans()):
            extra.append(draw(st.sampled_from(["bare", "=", "&&", "a=1=2", ";x=1", "%", "%zz=1"])))
        query = (
            "&".join(filter(None, [*extra, query])) if draw(st.booleans()) else "&".join(filter(None, [query, *extra]))
        )
        labels.append("query:" + "&".join(extra)[:60])
    return path, query, params, labels


TOKEN_EDITS = (
    "missing",
    "wrong",
    "other_scope",
    "client_scope",
    "surrogate",
    "huge",
    "padded",
    "unicode",
    "empty",
    "control",
)
CRASHLOG_EDITS = (
    "missing",
    "bad_mac",
    "stale_date",
    "future_date",
    "garbage_date",
    "huge_date",
    "no_date",
    "wrong_scheme",
    "malformed",
    "unknown_key",
    "md5_mismatch",
    "md5_garbage",
    "wrong_secret",
    "unicode_header",
    "lowercase_scheme",
)


def _crashlog_signer(
    method: str, content_type: str | None, edit: str | None
) -> Any:  # returns the `sign` callable apply_credentials uses
    key, secret = DEMO_CREDENTIALS["crashlog"], DEMO_CREDENTIALS["crashlog_secret"]

    def sign(headers: dict[str, str], path: str, body: bytes) -> dict[str, str]:
        date: str | None = None
        use_key, use_secret, md5 = key, secret, None
        if edit == "stale_date":
            date = http_date(time.time() - 3600)
        elif edit == "future_date":
            date = http_date(time.time() + 3600)
        elif edit == "garbage_date":
            date = "yesterday-ish \u00fc"
        elif edit == "huge_date":
            date = "Mon, 01 Jan 99999999999999999999 00:00:00 GMT"
        elif edit == "unknown_key":
            use_key = str(uuid.UUID(int=7))
        elif edit == "wrong_secret":
            use_secret = secret + "x"
        elif edit in ("md5_mismatch", "md5_garbage"):
            md5 = "base64"
        signed = signed_headers(
            use_key, use_secret, method, path, body=body, content_type=content_type, date=date, content_md5=md5
        )
        signed = {k.lower(): v for k, v in signed.items()}
        if edit == "md5_mismatch":
            signed["content-md5"] = base64.b64encode(hashlib.md5(b"other", usedforsecurity=False).digest()).decode()
        elif edit == "md5_garbage":
            signed["content-md5"] = "\u00fcnot-md5"
        elif edit == "missing":
            signed.pop("authorization")
        elif edit == "bad_mac":
            signed["authorization"] = signed["authorization"][:-6] + "AAAAA="
        elif edit == "no_date":
            signed.pop("date")
        elif edit == "wrong_scheme":
            signed["authorization"] = signed["authorization"].replace("CrashLog", "Bearer", 1)
        elif edit == "lowercase_scheme":
            signed["authorization"] = signed["authorization"].replace("CrashLog", "crashlog", 1)
        elif edit == "malformed":
            signed["authorization"] = "CrashLog " + key
        elif edit == "unicode_header":
            signed["authorization"] = signed["authorization"] + "\u00fc\ud800"
        return {**headers, **signed}

    return sign


def _edited_token(endpoint: Endpoint, edit: str | None) -> str | None:
    token = credential_for(endpoint)
    if edit is None:
        return token
    return {
        "missing": None,
        "wrong": "0" * len(token),
        "other_scope": DEMO_CREDENTIALS["rollbar_read" if endpoint.credentials != "rollbar_read" else "rollbar_write"],
        "client_scope": DEMO_CREDENTIALS["rollbar_post_client_item"],
        "surrogate": token + "\ud800",
        "huge": "T" * 100_000,
        "padded": f"  {token}\t",
        "unicode": "t\u00f6ken\U0001f4a9",
        "empty": "",
        "control": token + "\r\nX-Injected: 1",
    }[edit]


@st.composite
def cases(draw: st.DrawFn, endpoint: Endpoint) -> Case:
    shape = draw(st.sampled_from(endpoint.shapes))
    labels: list[str] = [f"shape:{shape.method} {shape.path}"]
    headers: dict[str, str] = {"content-type": shape.content_type} if shape.content_type else {}
    body = b""
    if endpoint.has_body and shape.method != "GET":
        seeds = endpoint.seeds()
        seed_index = draw(st.integers(0, len(seeds) - 1))
        tree = m.clone(seeds[seed_index])
        endpoint.freshen(tree, str(draw(st.uuids(version=4))))
        labels.append(f"seed:{seed_index}")
        tree, tree_labels = draw(mutated_tree(tree))
        labels += tree_labels
        style = "json" if draw(st.integers(0, 99)) < 70 else draw(st.sampled_from(m.SERIALIZATIONS))
        if style != "json":
            labels.append(f"ser:{style}")
        render = endpoint.render or m.serialize
        try:
            body = render(tree, style)
        except (ValueError, RecursionError):  # a 900-deep tree in json.dumps(indent=2) etc.
            body, style = render(tree, "json"), "json"
        if draw(st.integers(0, 99)) < 2:
            body = m.oversize_body()
            labels.append("oversize")
        if shape.form_field and draw(st.integers(0, 99)) < 80:
            body = m.form_wrap(shape.form_field, body)
            labels.append(f"form:{shape.form_field}")
        elif draw(st.integers(0, 99)) < 5:
            body = m.form_wrap(draw(st.sampled_from(["payload", "log_entries", "marker_data", "other"])), body)
            labels.append("form_confusion")
        encoding = {"zlib": "zlib_fast", "gzip": "gzip"}.get(shape.encoding, "identity")
        if draw(st.integers(0, 99)) < 20:
            encoding = draw(st.sampled_from(m.ENCODINGS))
            labels.append(f"enc:{encoding}")
        body = m.encode(body, encoding)
        label = {"zlib_fast": "gzip", "gzip": "gzip"}.get(encoding, "")
        if draw(st.integers(0, 99)) < 15:
            label = draw(st.sampled_from(m.CONTENT_ENCODING_LABELS))
            labels.append(f"ce:{label!r}")
        if label:
            headers["content-encoding"] = label
    if draw(st.integers(0, 99)) < 8:
        content_type = draw(st.sampled_from(m.CONTENT_TYPES))
        headers["content-type"] = content_type
        labels.append(f"ct:{content_type!r}")
    path, query, params, path_labels = draw(path_and_query(shape))
    labels += path_labels
    signed = endpoint.credentials == "crashlog_hmac" or shape.encoding == "signed"
    edits = CRASHLOG_EDITS if signed else TOKEN_EDITS
    edit = draw(st.sampled_from(edits)) if draw(st.integers(0, 99)) < 15 else None
    if edit:
        labels.append(f"auth:{edit}")
    token = _edited_token(endpoint, None if signed else edit)
    sign = _crashlog_signer(shape.method, headers.get("content-type"), edit if signed else None)
    if token is not None:
        headers, query = apply_credentials(endpoint, replace(shape, path=path), token, headers, query, body, sign)
    return _filled(Case(endpoint.name, shape.method, path, shape.route_key, query, headers, body, params, labels))


def _filled(case: Case) -> Case:
    """The console's placeholders replaced by the harness's session, issue and occurrence."""
    if case.endpoint not in ("console", "console_signed_in"):
        return case
    case.path = fill_placeholders(case.path)
    case.path_params = {name: fill_placeholders(value) for name, value in case.path_params.items()}
    case.body = fill_placeholders(case.body.decode("latin-1")).encode("latin-1")
    return case


def valid_case(endpoint: Endpoint, tree: Any, shape_index: int = 0, *, fresh: str | None = None) -> Case:
    """The request a real client would send with `tree` as its payload (valid credentials,
    the shape's own encoding); `fresh` gives the payload a new client id first."""
    shape = endpoint.shapes[shape_index]
    if fresh is not None:
        endpoint.freshen(tree, fresh)
    body = (endpoint.render or m.serialize)(tree, "json") if endpoint.has_body and shape.method != "GET" else b""
    headers = {"content-type": shape.content_type} if shape.content_type else {}
    if shape.form_field:
        body = m.form_wrap(shape.form_field, body)
    if shape.encoding in ("zlib", "gzip") and body:
        body = m.encode(body, "zlib_fast" if shape.encoding == "zlib" else "gzip")
        headers["content-encoding"] = "gzip"
    sign = _crashlog_signer(shape.method, headers.get("content-type"), None)
    headers, query = apply_credentials(endpoint, shape, credential_for(endpoint), headers, shape.query, body, sign)
    path, params = shape.path, dict(shape.path_params)
    return _filled(Case(endpoint.name, shape.method, path, shape.route_key, query, headers, body, params))
