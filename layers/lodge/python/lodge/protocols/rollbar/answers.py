"""Rollbar's answers: the `{"err": 0, "result": ...}` / `{"err": 1, "message": ...}` envelopes, its CORS
header, and the error policy's wording. Every Rollbar endpoint (item, read API, deploys, triage) answers
through these, so the envelope is written once."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from lodge.http import JSON_CONTENT_TYPE, HttpError, Request, response
from lodge.storage.errors import relabelled

CORS_HEADERS = {"Access-Control-Allow-Origin": "*"}


def error_body(message: str) -> dict[str, Any]:
    return {"err": 1, "message": message}


def fail(status: int, message: str, headers: Mapping[str, str] | None = None) -> HttpError:
    """An HttpError carrying Rollbar's error envelope."""
    return HttpError(status, message, body=error_body(message), headers=headers)


def invalid(message: str) -> HttpError:
    return fail(422, f"Invalid format. {message}")


def on_error(error: HttpError) -> dict[str, Any]:
    """Every error in Rollbar's shape `{"err": 1, "message": ...}`, with Rollbar's CORS header."""
    message = "request entity too large" if error.status == 413 else error.message  # D-create's 413 text
    body = error.body if error.body is not None and error.status != 413 else error_body(message)
    return response(error.status, body, {**CORS_HEADERS, **error.headers}, JSON_CONTENT_TYPE)


@contextmanager
def storage(action: str) -> Iterator[None]:
    """Storage failing under a request is a 503 in Rollbar's wording ("could not <action>"); a bug stays a 500."""
    with relabelled(f"could not {action}"):
        yield


def ok(result: Any, headers: Mapping[str, str] | None = None, status: int = 200) -> dict[str, Any]:
    return response(status, {"err": 0, "result": result}, {**CORS_HEADERS, **(headers or {})})


def require_path(request: Request, *paths: str) -> None:
    """Greedy `{proxy+}` routes (they serve the trailing-slash paths) let other paths in: 404 those."""
    if request.path.rstrip("/") not in paths:
        raise fail(404, "not found")


def item_result(uuid: str) -> dict[str, Any]:
    """The `result` of an accepted item: Rollbar answers the occurrence's uuid (its id comes later)."""
    return {"id": None, "uuid": uuid}
