"""Normalization: one rule for each thing every adapter meets (times, backtrace lines, depth and
size, Ruby `inspect` strings), so adapters only map their wire format onto the model.

Where each rule runs:
- `normalize(occurrence)`, the one pass after every adapter's mapping (`lodge.ingest` calls it for
  every occurrence of every protocol, before scrubbing and grouping): the one set of time bounds
  on every time of the model, and Ruby `inspect` strings typed (`ruby`).
- While the model is built (`lodge.occurrence` validators, rules from `limits`): depth cuts, key
  repair and label clipping. They cannot wait for the pass: pydantic itself fails on deeper data.
- While an adapter reads its wire format: `timestamps.parse_time` (the one parser, with the same
  bounds) and `backtraces` (one line parser per language), since text lines and time strings are
  wire formats only the mapping can pick out.

Cheap to import (no pydantic): the light handlers (CrashLog /announce) use the time parser too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lodge.occurrence import Occurrence


def normalize(occurrence: Occurrence) -> None:
    """Apply every post-mapping rule to `occurrence`, in place (idempotent)."""
    from lodge.normalize import ruby
    from lodge.normalize.timestamps import bounded

    occurrence.timestamp = bounded(occurrence.timestamp)
    for event in occurrence.events or ():
        event.time = bounded(event.time)
        event.end = bounded(event.end)
    notifier = occurrence.notifier
    if notifier is not None and ruby.sends_inspect_strings(notifier.name, notifier.version):
        ruby.coerce_occurrence(occurrence)
