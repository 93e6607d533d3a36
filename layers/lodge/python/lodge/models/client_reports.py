"""What a project's SDKs reported dropping before sending (Sentry client reports), per UTC day."""

from __future__ import annotations

from typing import NamedTuple


class DailyDiscards(NamedTuple):
    day: str
    """yyyy-mm-dd, UTC."""
    counts: dict[str, int]
    """Quantity per `reason:category`."""
