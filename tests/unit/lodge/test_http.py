"""Request plumbing: events, body decoding (sniffed compression, bounds), parsing, the error policy."""

from __future__ import annotations

import base64
import gzip
import json
import time
import tracemalloc
import zlib
from typing import Any

import pytest

from lodge import http
from lodge.http import HttpError, Request, decompress, handle, loads, parse_form, parse_query, response
from lodge.storage import StorageError
from lodge_devtools.apigw import build_event

MAX = 1024 * 1024
DOC = {"data": {"body": {"message": {"body": "naïve café — 日本語"}}, "level": "error"}}
RAW = json.dumps(DOC, ensure_ascii=False).encode()


def deflate_raw(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def body_of(raw: bytes, **headers: str) -> bytes:
    event = build_event("POST", "/api/1/item/", headers={"content-type": "application/json", **headers}, body=raw)
    return Request.from_event(event).body(MAX)


# ---- events -------------------------------------------------------------------------------------------


def test_from_event_reads_everything() -> None:
    event = build_event(
        "post",
        "/api/1/item/",
        raw_query="access_token=abc&flag&x=1&x=2",
        headers=[("X-Rollbar-Access-Token", "tok"), ("Content-Type", "application/json")],
        body=RAW,
        route_key="POST /api/1/item/",
        path_parameters={"id": "a%20b"},
        source_ip="203.0.113.9",
    )
    request = Request.from_event(event)
    assert (request.method, request.path, request.route_key) == ("POST", "/api/1/item/", "POST /api/1/item/")
    assert request.header("x-rollbar-access-token") == "tok" == request.header("X-Rollbar-Access-Token")
    assert request.header("missing", "dflt") == "dflt"
    assert request.query == {"access_token": "abc", "flag": "", "x": "1"}
    assert request.raw_query == "access_token=abc&flag&x=1&x=2"
    assert request.path_params == {"id": "a b"}
    assert request.source_ip == "203.0.113.9"
    assert request.request_id == event["requestContext"]["requestId"]
    assert request.raw_body == RAW


def test_from_event_decodes_base64_bodies() -> None:
    compressed = gzip.compress(RAW)
    event = build_event("POST", "/x", headers={"content-encoding": "gzip"}, body=compressed)
    assert event["isBase64Encoded"] is True
    request = Request.from_event(event)
    assert request.raw_body == compressed
    assert request.body(MAX) == RAW


def test_from_event_with_bad_base64_is_400() -> None:
    event = build_event("POST", "/x", body=b"")
    event.update(body="abc", isBase64Encoded=True)
    with pytest.raises(HttpError) as caught:
        Request.from_event(event)
    assert caught.value.status == 400


def test_from_event_tolerates_a_bare_event() -> None:
    request = Request.from_event({})
    assert (request.method, request.path, request.raw_body, request.query) == ("GET", "/", b"", {})


# ---- body decoding ----------------------------------------------------------------------------------


def test_plain_body_passes_through() -> None:
    assert body_of(RAW) == RAW


def test_gzip_is_inflated() -> None:
    assert body_of(gzip.compress(RAW), **{"content-encoding": "gzip"}) == RAW


def test_appsignal_zlib_stream_labelled_gzip_is_inflated() -> None:
    stream = zlib.compress(RAW, 1)
    assert stream[:2] == b"\x78\x01"
    assert body_of(stream, **{"content-encoding": "gzip"}) == RAW


@pytest.mark.parametrize("level", [0, 6, 9])
def test_zlib_without_a_label_is_inflated(level: int) -> None:
    assert body_of(zlib.compress(RAW, level)) == RAW


def test_raw_deflate_is_inflated() -> None:
    assert body_of(deflate_raw(RAW), **{"content-encoding": "deflate"}) == RAW
    assert body_of(deflate_raw(RAW)) == RAW


def test_plain_json_labelled_gzip_passes_through() -> None:
    assert body_of(RAW, **{"content-encoding": "gzip"}) == RAW


def test_form_body_starting_like_a_zlib_header_passes_through() -> None:
    # "x^" is a valid zlib header (0x785e % 31 == 0) but this is text, not a stream.
    body = b"x^=1&access_token=abc"
    assert decompress(body, MAX) == body


@pytest.mark.parametrize(
    "text",
    [
        "nbsp\u00a0inside",  # French typography: "Erreur\u00a0: ..."
        "family 👨‍👩‍👧 emoji",  # zero-width joiners
        "line\u2028separator",
        "tab\tand\r\nnewlines",
    ],
)
def test_uncompressed_unicode_text_passes_through(text: str) -> None:
    body = json.dumps({"message": text}, ensure_ascii=False).encode()
    assert decompress(body, MAX) == body


def test_multibyte_character_cut_at_the_sniffing_window_is_still_text() -> None:
    body = json.dumps({"message": "a" * 497 + "日本語" * 20}, ensure_ascii=False).encode()
    for offset in range(3):  # put the 512-byte cut inside a 3-byte character at every position
        shifted = b" " * offset + body
        assert decompress(shifted, MAX) == shifted


def test_corrupt_gzip_is_400() -> None:
    broken = bytearray(gzip.compress(RAW))
    broken[15:25] = b"\xff" * 10
    with pytest.raises(HttpError) as caught:
        body_of(bytes(broken), **{"content-encoding": "gzip"})
    assert caught.value.status == 400


def test_truncated_gzip_is_400() -> None:
    with pytest.raises(HttpError) as caught:
        decompress(gzip.compress(RAW)[:-12], MAX, "gzip")
    assert caught.value.status == 400


def test_binary_garbage_is_400() -> None:
    with pytest.raises(HttpError) as caught:
        decompress(bytes(range(256)) * 4, MAX, "gzip")
    assert caught.value.status == 400


@pytest.mark.parametrize("wrap", [gzip.compress, zlib.compress, deflate_raw])
def test_zip_bomb_is_413_quickly_with_bounded_memory(wrap: Any) -> None:
    bomb = wrap(bytes(50 * 1024 * 1024))
    assert len(bomb) < 100 * 1024
    tracemalloc.start()
    started = time.process_time()
    try:
        with pytest.raises(HttpError) as caught:
            decompress(bomb, MAX, "gzip")
        elapsed = time.process_time() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.status == 413
    assert elapsed < 1.0
    assert peak < 8 * MAX, f"peak {peak} bytes while refusing a 50 MB bomb"


def test_decompressed_exactly_at_the_limit_is_accepted() -> None:
    data = b"{" + b" " * 998 + b"}"
    assert decompress(gzip.compress(data), 1000) == data
    with pytest.raises(HttpError) as caught:
        decompress(gzip.compress(data + b" "), 1000)
    assert caught.value.status == 413


def test_plain_body_over_the_limit_is_413() -> None:
    event = build_event("POST", "/x", headers={"content-type": "application/json"}, body=b"[" + b" " * 2000 + b"]")
    with pytest.raises(HttpError) as caught:
        Request.from_event(event).body(1000)
    assert caught.value.status == 413
    with pytest.raises(HttpError) as caught:
        decompress(b"[" + b" " * 2000 + b"]", 1000)
    assert caught.value.status == 413


def test_empty_body() -> None:
    assert decompress(b"", MAX, "gzip") == b""
    assert body_of(b"") == b""


# ---- parsing ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("name", {"name": ""}),
        ("a=1&b=&c", {"a": "1", "b": "", "c": ""}),
        ("a=1&a=2", {"a": "1"}),
        ("q=hello+world%21", {"q": "hello world!"}),
        ("bad=%ff", {"bad": "\ufffd"}),
        ("", {}),
    ],
)
def test_parse_query(raw: str, parsed: dict[str, str]) -> None:
    assert parse_query(raw) == parsed


def test_parse_form() -> None:
    assert parse_form(b"access_token=abc&payload=%7B%22a%22%3A1%7D") == {"access_token": "abc", "payload": '{"a":1}'}
    with pytest.raises(HttpError) as caught:
        parse_form(b"a=\xff")
    assert caught.value.status == 400


def test_loads() -> None:
    assert loads(b'{"a": [1, 2]}') == {"a": [1, 2]}
    assert loads("[]") == []
    assert loads(b"\xef\xbb\xbf{}") == {}
    assert http.first_json_byte(b"\xef\xbb\xbf  [1]") == ord("[")
    assert http.first_json_byte(b"  ") is None


@pytest.mark.parametrize("body", [b"{", b"", b"nope", b'{"a": "\xff"}', b"[" * 100_000 + b"]" * 100_000, "{'a': 1}"])
def test_loads_failures_are_400(body: bytes | str) -> None:
    with pytest.raises(HttpError) as caught:
        loads(body)
    assert caught.value.status == 400
    assert caught.value.message == "request body is not valid JSON"


# ---- responses and the error policy ------------------------------------------------------------------------


def test_response_shapes() -> None:
    assert response(200, {"err": 0}) == {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json; charset=utf-8"},
        "body": '{"err":0}',
        "isBase64Encoded": False,
    }
    text = response(204, None, {"X-A": "1"}, content_type="text/plain")
    assert text["body"] == "" and text["headers"] == {"Content-Type": "text/plain", "X-A": "1"}
    assert response(200, "ok")["body"] == "ok"


def _event() -> dict[str, Any]:
    return build_event("POST", "/x", headers={"content-type": "application/json"}, body=RAW)


def test_handle_passes_the_request_through() -> None:
    result = handle(_event(), lambda request: response(200, loads(request.body(MAX))))
    assert result["statusCode"] == 200 and json.loads(result["body"]) == DOC


def test_handle_maps_http_errors() -> None:
    def route(_: Request) -> dict[str, Any]:
        raise HttpError(429, "slow down", headers={"Retry-After": "7"})

    result = handle(_event(), route)
    assert result["statusCode"] == 429
    assert json.loads(result["body"]) == {"error": "slow down"}
    assert result["headers"]["Retry-After"] == "7"


def test_handle_uses_a_protocol_error_body() -> None:
    def route(_: Request) -> dict[str, Any]:
        raise HttpError(403, "bad token", body={"err": 1, "message": "invalid access token"})

    result = handle(_event(), route)
    assert (result["statusCode"], json.loads(result["body"])) == (403, {"err": 1, "message": "invalid access token"})


def test_handle_maps_storage_errors_to_503() -> None:
    logged: list[str] = []

    class Log:
        def exception(self, message: str) -> None:
            logged.append(message)

    def route(_: Request) -> dict[str, Any]:
        raise StorageError("could not store occurrence")

    result = handle(_event(), route, log=Log())
    assert result["statusCode"] == 503
    assert json.loads(result["body"]) == {"error": "could not store occurrence; please retry"}
    assert logged == ["storage failure"]


def _throttled() -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "PutItem")


def _endpoint_down() -> Exception:
    from botocore.exceptions import EndpointConnectionError

    return EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")


@pytest.mark.parametrize("failure", [_throttled, _endpoint_down, lambda: ConnectionResetError("reset")])
def test_handle_answers_unwrapped_storage_failures_with_503(failure: Any) -> None:
    """A botocore or network failure that no handler wrapped is still a storage failure, not a bug."""

    def route(_: Request) -> dict[str, Any]:
        raise failure()

    result = handle(_event(), route)
    assert result["statusCode"] == 503
    assert json.loads(result["body"]) == {"error": "storage is unavailable; please retry"}
    assert "slow down" not in result["body"] and "amazonaws" not in result["body"]


def test_handle_hides_unexpected_errors() -> None:
    def route(_: Request) -> dict[str, Any]:
        raise KeyError("secret-internal-detail")

    result = handle(_event(), route)
    assert result["statusCode"] == 500
    assert json.loads(result["body"]) == {"error": "internal error"}
    assert "Traceback" not in result["body"] and "secret-internal-detail" not in result["body"]


def test_handle_uses_the_protocol_error_shaper() -> None:
    def shaper(error: HttpError) -> dict[str, Any]:
        return response(error.status, {"err": 1, "message": error.message})

    event = _event()
    event.update(body="abc", isBase64Encoded=True)
    result = handle(event, lambda _: response(200), on_error=shaper)
    assert result["statusCode"] == 400
    assert json.loads(result["body"]) == {"err": 1, "message": "request body is not valid base64"}


def test_bad_base64_reaches_the_client_as_400() -> None:
    event = _event()
    event.update(body=base64.b64encode(b"x").decode()[:-1], isBase64Encoded=True)
    assert handle(event, lambda _: response(200))["statusCode"] == 400
