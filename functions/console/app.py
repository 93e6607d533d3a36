"""The web console (GET/POST /console/...): signed-in pages over a project's issues and occurrences."""

from __future__ import annotations

import html
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging import correlation_paths

from lodge import http
from lodge.console import app

logger = Logger()


def _on_error(error: http.HttpError) -> dict[str, Any]:
    """Errors as a small plain page, never JSON or a traceback, with the console's headers."""
    message = "Storage is unavailable; please retry." if error.status == 503 else error.message
    body = f"<!doctype html><title>{error.status}</title><p>{html.escape(message)}</p>"
    return http.response(error.status, body, app.SECURITY_HEADERS, content_type=app.HTML)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return http.handle(event, app.route, on_error=_on_error, log=logger)
