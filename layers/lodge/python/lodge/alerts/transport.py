"""Sending: HTTP POST with short timeouts (http/https only, no redirects followed) and SNS Publish."""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

from lodge.alerts.rules import RuleError, check_url

USER_AGENT = "Lodge-Alerts/1"


class DeliveryError(Exception):
    """The destination did not take the alert (a retry may)."""


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST and return the status; 2xx is delivered, anything else raises DeliveryError."""
    try:
        check_url(url)
    except RuleError as error:
        raise DeliveryError(str(error)) from error
    parts = urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname or "", parts.port, timeout=timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request(
            "POST",
            target,
            body=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        )
        response = connection.getresponse()
        response.read(65536)
        status = response.status
    except (OSError, http.client.HTTPException) as error:
        raise DeliveryError(f"{type(error).__name__}: {error}") from error
    finally:
        connection.close()
    if not 200 <= status < 300:
        raise DeliveryError(f"HTTP {status}")
    return status
