"""A whole AppSignal push (`POST /1/log_entries`): the batch of transactions as Occurrences, and the
record-sized slices it is stored in.

All-or-nothing: a batch is stored as one record (very large flushes in chunks of at most
`MAX_RECORD_ENTRIES` entries and `MAX_RECORD_INDEX_BYTES` of index, each chunk deterministic so a
retry de-duplicates chunk by chunk), and the caller answers 200 only when every chunk is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from lodge.http import HttpError
from lodge.protocols.appsignal.mapping import to_occurrence
from lodge.protocols.appsignal.wire import parse_json, split_body

if TYPE_CHECKING:
    from lodge.occurrence import Occurrence

MAX_RECORD_ENTRIES = 500
"""Entries per stored record (typical index entries are ~0.2-0.4 KB). A gem flush of 20-100 entries
is always one record."""
MAX_RECORD_INDEX_BYTES = 300_000
"""Encoded index (`ix`) per stored record. Index texts are clipped but can still be ~3 KB per entry in
CJK UTF-8, so 500 of them would exceed DynamoDB's 400 KB item limit (a 503 on every retry, forever).
The rest of the item is its keys plus at most `offload_threshold` bytes of inline detail (larger
detail goes to S3), which fits in the remaining ~100 KB."""
_INDEX_ENTRY_OVERHEAD = 96
"""Bytes allowed per entry on top of its measured JSON: the `ts` and `g` fields, which are left out of
the measurement (`ts` may be the receive time and `g` is set later, so measuring them would make a
resent batch split differently), and DynamoDB's per-element overhead."""
MAX_ENTRIES = 20_000
"""More entries than this in one request is answered 413 (the gem then sends more often)."""


def parse_batch(body: bytes, *, project_id: str, query: Mapping[str, str], received_at: float) -> list[Occurrence]:
    """A whole push body as Occurrences, in the client's order; HttpError 400/413 for a bad batch."""
    text, _form = split_body(body, "log_entries")
    batch, repaired = parse_json(text)
    if isinstance(batch, Mapping):
        batch = [batch]  # a single transaction hash: lenient, same meaning
    if not isinstance(batch, list):
        raise HttpError(400, "log_entries must be a JSON array of transactions")
    if not batch:
        raise HttpError(400, "empty batch: no log entries")
    if len(batch) > MAX_ENTRIES:
        raise HttpError(413, f"too many log entries in one request (limit {MAX_ENTRIES})")
    occurrences = []
    for position, entry in enumerate(batch):
        try:
            occurrences.append(
                to_occurrence(entry, project_id=project_id, query=query, received_at=received_at, repaired=repaired)
            )
        except HttpError as error:
            raise HttpError(400, f"log entry {position}: {error.message}") from error
    return occurrences


def _index_bytes(occurrence: Occurrence) -> int:
    """An upper bound of the occurrence's index entry in the stored item, from its content alone."""
    from lodge.storage.records import index_entry_size

    return index_entry_size(occurrence) + _INDEX_ENTRY_OVERHEAD


def chunks(occurrences: list[Occurrence]) -> list[list[Occurrence]]:
    """Deterministic record-sized slices of a batch, in order (one slice for any normal flush).

    A slice ends at `MAX_RECORD_ENTRIES` entries or before its index would pass
    `MAX_RECORD_INDEX_BYTES`. Sizes depend only on the entries' content, so a resent batch splits
    identically and every slice is a duplicate of the one stored first.
    """
    parts: list[list[Occurrence]] = []
    current: list[Occurrence] = []
    size = 0
    for occurrence in occurrences:
        entry_size = _index_bytes(occurrence)
        if current and (len(current) >= MAX_RECORD_ENTRIES or size + entry_size > MAX_RECORD_INDEX_BYTES):
            parts.append(current)
            current, size = [], 0
        current.append(occurrence)
        size += entry_size
    if current:
        parts.append(current)
    return parts
