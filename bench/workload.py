"""The reference workload: captured HTTP requests in bench/workloads/<name>/ (request.json + body).

Each request is replayed as the client sent it, with three substitutions made at bench time: the
captured credential becomes the bench project's, the client's own ids (Rollbar uuid, AppSignal
request_id) are made fresh so a request is not a duplicate, and CrashLog requests are re-signed
with a fresh Date (the signature covers it).
"""

from __future__ import annotations

import base64
import email.utils
import gzip
import hashlib
import hmac
import json
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = Path(__file__).resolve().parent / "workloads"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes
    ids: tuple[str, ...] = field(default=())

    def event(self) -> dict[str, Any]:
        """The API Gateway payload-2.0 event Lambda receives for this request."""
        from lodge_devtools.apigw import build_event

        return build_event(self.method, self.path, raw_query=self.query, headers=self.headers, body=self.body)

    def wire_bytes(self) -> int:
        """The HTTP/1.1 request's size as sent: request line, headers and body (what API Gateway meters)."""
        target = self.path + (f"?{self.query}" if self.query else "")
        line = len(f"{self.method} {target} HTTP/1.1\r\n".encode())
        headers = sum(len(f"{k}: {v}\r\n".encode()) for k, v in self.headers)
        return line + headers + 2 + len(self.body)


@dataclass(frozen=True)
class Workload:
    name: str
    function: str
    description: str
    source: str
    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    occurrences: int
    credential_placeholder: str
    credential_kind: str
    fresh_ids: tuple[str, ...]
    body_encoding: str = ""
    sign: str = ""

    @property
    def function_path(self) -> Path:
        return ROOT / "functions" / self.function / "app.py"

    def available(self) -> bool:
        return self.function_path.exists()

    def decoded_body(self) -> bytes:
        """The body as the server sees it after decoding (what a plain json.loads would parse)."""
        if self.body_encoding == "gzip":
            return gzip.decompress(self.body)
        return zlib.decompress(self.body) if self.body_encoding.startswith("zlib") else self.body

    def _encode(self, decoded: bytes) -> bytes:
        if self.body_encoding.startswith("zlib"):
            level = int(self.body_encoding.partition("-")[2] or 6)
            return zlib.compress(decoded, level)
        if self.body_encoding == "gzip":
            return gzip.compress(decoded, 9, mtime=0)  # sentry-python's level
        return decoded

    def request(self, credentials: dict[str, str], ids: tuple[str, ...] | None = None) -> Request:
        """This workload's request for the given project; fresh client ids unless `ids` is given (a retry)."""
        token = credentials[self.credential_kind]
        # Same length as the captured id: Sentry item headers give payload lengths in bytes.
        new_ids = ids if ids is not None else tuple(_fresh_id(old) for old in self.fresh_ids)
        text = self.decoded_body().decode("utf-8").replace(self.credential_placeholder, token)
        for old, new in zip(self.fresh_ids, new_ids, strict=True):
            text = text.replace(old, new)
        body = self._encode(text.encode("utf-8"))
        headers = [(k, v.replace(self.credential_placeholder, token)) for k, v in self.headers]
        if self.sign == "crashlog":
            headers = _sign_crashlog(headers, self.method, self.path, token, credentials["crashlog_secret"])
        headers = [(k, str(len(body)) if k.lower() == "content-length" else v) for k, v in headers]
        query = self.query.replace(self.credential_placeholder, token)
        path = self.path
        if "{sentry_project}" in path:  # a DSN names its project by number (lodge.protocols.sentry.auth)
            from lodge.protocols.sentry.auth import dsn_project_number

            path = path.replace("{sentry_project}", dsn_project_number(credentials["project_id"]))
        return Request(self.method, path, query, headers, body, new_ids)


def _fresh_id(old: str) -> str:
    return uuid.uuid4().hex if len(old) == 32 else str(uuid.uuid4())


def _sign_crashlog(
    headers: list[tuple[str, str]], method: str, path: str, api_key: str, secret: str
) -> list[tuple[str, str]]:
    """CrashLog HMAC (docs/protocols/crashlog.md): base64 HMAC-SHA1 of METHOD, Content-Type, MD5, Date, path."""
    date = email.utils.formatdate(usegmt=True)
    content_type = next((v for k, v in headers if k.lower() == "content-type"), "")
    canonical = f"{method}\n{content_type}\n\n{date}\n{path}"
    signature = base64.b64encode(hmac.new(secret.encode(), canonical.encode(), hashlib.sha1).digest()).decode()
    signed = []
    for name, value in headers:
        if name.lower() == "date":
            value = date
        elif name.lower() == "authorization":
            value = f"CrashLog {api_key}:{signature}"
        signed.append((name, value))
    return signed


def load(name: str) -> Workload:
    folder = WORKLOADS / name
    meta = json.loads((folder / "request.json").read_text())
    return Workload(
        name=name,
        function=meta["function"],
        description=meta["description"],
        source=meta["source"],
        method=meta["method"],
        path=meta["path"],
        query=meta.get("query", ""),
        headers=tuple((k, v) for k, v in meta["headers"]),
        body=(folder / meta["body_file"]).read_bytes(),
        occurrences=int(meta["occurrences"]),
        credential_placeholder=meta["credential"]["placeholder"],
        credential_kind=meta["credential"]["kind"],
        fresh_ids=tuple(meta.get("fresh_ids", ())),
        body_encoding=meta.get("body_encoding", ""),
        sign=meta.get("sign", ""),
    )


ORDER = (
    "rollbar_python_chained",
    "rollbar_node_error",
    "rollbar_message",
    "appsignal_batch20",
    "crashlog_ruby",
    "sentry_python_chained",
)


def load_all() -> list[Workload]:
    names = [n for n in ORDER if (WORKLOADS / n / "request.json").exists()]
    names += sorted(p.parent.name for p in WORKLOADS.glob("*/request.json") if p.parent.name not in names)
    return [load(n) for n in names]


def load_handler(function: str) -> Any:
    """The handler module of functions/<function>/ (shared loader: lodge_devtools.handlers)."""
    from lodge_devtools.handlers import load_function

    return load_function(function)


def under_flood_limit() -> None:
    """Forget the container's per-issue counts of this minute (lodge.flood): a batch replays one
    workload, one issue, hundreds of times a second, and the figure wanted is a request of an issue
    under its limit (stored), not one counted in a flood. Call it before each measured batch."""
    from lodge import flood

    flood.GATE.stored.clear()


def worker_main(run: Callable[[str, list[str]], dict[str, Any]], argv: list[str]) -> int:
    """Entry point of a worker process: `<function> <out.json> <workload>...`; figures go to the file
    (stdout belongs to the handler's logs)."""
    function, out = argv[0], Path(argv[1])
    out.write_text(json.dumps(run(function, argv[2:]), indent=1))
    return 0


@dataclass
class FakeContext:
    """The bits of a Lambda context object Powertools reads."""

    function_name: str = "lodge-bench"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:lodge-bench"
    aws_request_id: str = "bench-request-id"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 10_000
