"""Ruby `inspect` strings, as old AppSignal gems (0.2) send values: `"950.759"`, `"200"`, `":html"`,
`"nil"`, `"true"`. Coerced to what a newer gem sends for the same thing (0.11 sends JSON numbers,
strings and booleans)."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lodge.occurrence import Occurrence

_INTEGER = re.compile(r"^-?\d{1,15}$")
_FLOAT = re.compile(r"^-?\d{1,15}\.\d{1,15}$")
_SYMBOL = re.compile(r"^:[A-Za-z_][A-Za-z0-9_]*[?!=]?$")
_QUOTED = re.compile(r'^"(?:[^"\\]|\\.)*"$')
_LITERALS: dict[str, Any] = {"nil": None, "true": True, "false": False}

INSPECTING_CLIENTS = {"appsignal-ruby": ("0.1.", "0.2.")}
"""Clients (notifier name -> version prefixes) that send values as Ruby `inspect` strings."""
NOT_INSPECTED = frozenset({"app_name", "lodge_json_repaired"})
"""Keys of `extra` that are no client payload value (the push URL's app name, Lodge's own note)."""


def coerce_inspect(value: Any) -> Any:
    """One inspected scalar back to its value; anything else unchanged."""
    if not isinstance(value, str) or len(value) > 64:
        return value
    if value in _LITERALS:
        return _LITERALS[value]
    if _INTEGER.match(value):
        return int(value)
    if _FLOAT.match(value):
        number = float(value)
        return number if math.isfinite(number) else value
    if _SYMBOL.match(value):
        return value[1:]
    if _QUOTED.match(value):
        return value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return value


def coerce_inspect_values(values: dict[str, Any]) -> dict[str, Any]:
    """Every scalar of a (flat or nested) payload coerced; containers kept, walked."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out[key] = coerce_inspect_values(value)
        elif isinstance(value, list):
            out[key] = [coerce_inspect(v) for v in value]
        else:
            out[key] = coerce_inspect(value)
    return out


def sends_inspect_strings(notifier: str | None, version: str | None) -> bool:
    """Whether this client sends its values as `inspect` strings (AppSignal gems 0.1-0.2: "950.759", ":html")."""
    prefixes = INSPECTING_CLIENTS.get(notifier or "")
    return bool(prefixes and version and version.strip().startswith(prefixes))


def coerce_occurrence(occurrence: Occurrence) -> None:
    """The client's free-form values typed as a newer client sends them: `extra` and event payloads."""
    if occurrence.extra:
        occurrence.extra = {
            key: value if key in NOT_INSPECTED else coerce_inspect_values({key: value})[key]
            for key, value in occurrence.extra.items()
        }
    for event in occurrence.events or ():
        if event.payload is not None:
            event.payload = coerce_inspect_values(event.payload)
