"""Request plumbing shared by every handler: API Gateway HTTP API (payload 2.0) in, response out.

Bodies are decoded from what the bytes are, not what the headers say: the AppSignal gem labels a
zlib stream `Content-Encoding: gzip`, and rollbar-gem/rollbar-php label raw JSON as form-encoded.
Decompression is bounded, so a small "zip bomb" cannot exhaust a 128 MB function.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


class HttpError(Exception):
    """An error answer. `body` replaces the default `{"error": message}` when a protocol needs its own shape."""

    def __init__(
        self, status: int, message: str, *, body: Any = None, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = body
        self.headers = dict(headers or {})


def response(
    status: int, body: Any = None, headers: Mapping[str, str] | None = None, content_type: str = JSON_CONTENT_TYPE
) -> dict[str, Any]:
    """An API Gateway payload-2.0 response; dicts and lists are serialized as JSON."""
    text = body if isinstance(body, str) else ("" if body is None else json.dumps(body, separators=(",", ":")))
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_type, **(headers or {})},
        "body": text,
        "isBase64Encoded": False,
    }


def error_response(error: HttpError) -> dict[str, Any]:
    body = error.body if error.body is not None else {"error": error.message}
    return response(error.status, body, error.headers)


# ---- decoding -----------------------------------------------------------------------------------


def _bounded_inflate(data: bytes, wbits: int, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(data, max_bytes + 1)
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise HttpError(413, f"decompressed body exceeds {max_bytes} bytes")
    out += inflater.flush()
    if len(out) > max_bytes:
        raise HttpError(413, f"decompressed body exceeds {max_bytes} bytes")
    if not inflater.eof:
        raise zlib.error("truncated stream")
    return out


def _looks_like_zlib(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and data[0] >> 4 <= 7 and ((data[0] << 8) | data[1]) % 31 == 0


_CONTROL_BYTES = frozenset(range(32)) - {9, 10, 12, 13}


def _looks_like_text(data: bytes) -> bool:
    """UTF-8 without control bytes. Not str.isprintable(): that rejects no-break spaces, emoji
    joiners and line separators, which real messages carry; compressed streams fail on bytes."""
    head = data[:512]
    try:
        # Incremental: a multi-byte character cut by the 512-byte window is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return not _CONTROL_BYTES.intersection(head)


def decompress(data: bytes, max_bytes: int, declared_encoding: str = "") -> bytes:
    """Inflate gzip, zlib or raw deflate by sniffing the bytes; plain bodies pass through."""
    declared = declared_encoding.strip().lower()
    try:
        if data[:2] == b"\x1f\x8b":
            return _bounded_inflate(data, 16 + zlib.MAX_WBITS, max_bytes)
        if _looks_like_zlib(data):
            try:
                return _bounded_inflate(data, zlib.MAX_WBITS, max_bytes)
            except zlib.error:
                if not _looks_like_text(data):
                    raise
        elif data and not _looks_like_text(data):
            return _bounded_inflate(data, -zlib.MAX_WBITS, max_bytes)
    except zlib.error as error:
        raise HttpError(400, "request body could not be decompressed") from error
    if declared in ("gzip", "x-gzip", "deflate") and data and not _looks_like_text(data):
        raise HttpError(400, "request body could not be decompressed")
    if len(data) > max_bytes:
        raise HttpError(413, f"request body exceeds {max_bytes} bytes")
    return data


def parse_query(raw: str) -> dict[str, str]:
    """Query string to a dict (first value wins). A bare key with no `=` maps to "" (Rack emits those)."""
    return dict(reversed(parse_qsl(raw, keep_blank_values=True)))


def parse_form(body: bytes) -> dict[str, str]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise HttpError(400, "form body is not valid UTF-8") from error
    return parse_query(text)


def first_json_byte(body: bytes) -> int | None:
    stripped = body.lstrip()
    if stripped.startswith(b"\xef\xbb\xbf"):
        stripped = stripped[3:].lstrip()
    return stripped[0] if stripped else None


def loads(body: bytes | str) -> Any:
    """json.loads that turns every failure into a 400 (never a 500 or a traceback)."""
    try:
        if isinstance(body, bytes):
            body = body.decode("utf-8-sig")
        return json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise HttpError(400, "request body is not valid JSON") from error


# ---- the request --------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    route_key: str
    headers: dict[str, str]
    query: dict[str, str]
    raw_query: str
    path_params: dict[str, str]
    raw_body: bytes
    source_ip: str | None
    request_id: str | None
    event: Mapping[str, Any] = field(repr=False)

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Request:
        context = event.get("requestContext") or {}
        http = context.get("http") or {}
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        body = event.get("body") or ""
        if event.get("isBase64Encoded"):
            try:
                raw = base64.b64decode(body, validate=False)
            except (binascii.Error, ValueError) as error:
                raise HttpError(400, "request body is not valid base64") from error
        else:
            raw = body.encode("utf-8", "surrogateescape") if isinstance(body, str) else bytes(body)
        raw_query = event.get("rawQueryString") or ""
        return cls(
            method=str(http.get("method") or "GET").upper(),
            path=str(http.get("path") or event.get("rawPath") or "/"),
            route_key=str(event.get("routeKey") or ""),
            headers=headers,
            query=parse_query(raw_query),
            raw_query=raw_query,
            path_params={k: unquote_plus(v) for k, v in (event.get("pathParameters") or {}).items()},
            raw_body=raw,
            source_ip=http.get("sourceIp"),
            request_id=context.get("requestId"),
            event=event,
        )

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def body(self, max_bytes: int) -> bytes:
        """The decoded body: base64 undone, compression sniffed and inflated, size-capped."""
        if len(self.raw_body) > max_bytes and self.raw_body[:2] != b"\x1f\x8b" and not _looks_like_zlib(self.raw_body):
            raise HttpError(413, f"request body exceeds {max_bytes} bytes")
        return decompress(self.raw_body, max_bytes, self.header("content-encoding"))


def handle(
    event: Mapping[str, Any],
    route: Callable[[Request], dict[str, Any]],
    *,
    on_error: Callable[[HttpError], dict[str, Any]] = error_response,
    log: Any = None,
) -> dict[str, Any]:
    """Run a handler body with Lodge's error policy: HttpError -> its status with a JSON body;
    storage failures (StorageError, or botocore/network errors) -> 503 (the client may retry);
    anything unexpected -> 500 with a JSON body,
    logged with a traceback server-side and never shown to the client."""
    from lodge.storage.errors import STORAGE_FAILURES, StorageError

    try:
        return route(Request.from_event(event))
    except HttpError as error:
        return on_error(error)
    except StorageError as error:
        if log is not None:
            log.exception("storage failure")
        return on_error(HttpError(503, f"{error}; please retry"))
    except STORAGE_FAILURES:
        # Storage translates its AWS failures into StorageError; this is the safety net for a
        # botocore/network failure outside it, which is still no bug: 503, never a 500.
        if log is not None:
            log.exception("storage failure")
        return on_error(HttpError(503, "storage is unavailable; please retry"))
    except Exception:
        if log is not None:
            log.exception("unhandled error")
        return on_error(HttpError(500, "internal error"))
