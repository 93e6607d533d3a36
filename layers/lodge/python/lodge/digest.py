"""The digest: what happens after a record is accepted, driven by the table's stream.

Per batch of new records (docs/storage.md has the write units):
1. the project's listing: the batch's index entries, as few items as possible (`put_listing`);
2. one UpdateItem per distinct issue (`Issues.count_into`), marked with the stream position so a
   retried or bisected batch never counts twice;
3. the first occurrence of every new issue outlives retention (`keep_record`, REMOVE ttl).
The result names every count (created?, old and new count) for the alerts hand-off.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lodge import grouping
from lodge.dynamo import from_item
from lodge.ingest import deltas
from lodge.occurrence import Occurrence
from lodge.storage import DigestMark, GroupDelta, IssueCount, Store, occurrence_ref, parse_ref
from lodge.storage.records import NewRecord, new_record


@dataclass
class Counted:
    project_id: str
    count: IssueCount


@dataclass
class DigestResult:
    records: int = 0
    occurrences: int = 0
    listing_items: int = 0
    counts: list[Counted] = field(default_factory=list)
    kept: int = 0

    @property
    def new_issues(self) -> list[Counted]:
        return [c for c in self.counts if c.count.created]


def _binary_as_bytes(value: Any) -> Any:
    """Lambda's event carries DynamoDB JSON with binaries in base64; botocore gives bytes."""
    if isinstance(value, dict):
        if set(value) == {"B"} and isinstance(value["B"], str):
            return {"B": base64.b64decode(value["B"])}
        return {k: _binary_as_bytes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_binary_as_bytes(v) for v in value]
    return value


def new_records(event: dict[str, Any]) -> list[tuple[str, NewRecord]]:
    """(sequence number, record) of every INSERT of a record in a stream event, in stream order."""
    found = []
    for stream_record in event.get("Records", []):
        if stream_record.get("eventName") != "INSERT":
            continue
        change = stream_record.get("dynamodb", {})
        image = from_item({k: _binary_as_bytes(v) for k, v in change.get("NewImage", {}).items()})
        record = new_record(image)
        if record is not None:
            found.append((str(change["SequenceNumber"]), record))
    return found


def _marks(positions: Iterable[tuple[str, str]]) -> list[DigestMark]:
    """The newest sequence number per record partition."""
    newest: dict[str, str] = {}
    for bucket, sequence in positions:
        current = newest.get(bucket)
        if current is None or (len(sequence), sequence) > (len(current), current):
            newest[bucket] = sequence
    return [DigestMark(bucket, sequence) for bucket, sequence in sorted(newest.items())]


def digest(store: Store, batch: Sequence[tuple[str, NewRecord]]) -> DigestResult:
    """Digest one batch of new records; raises StorageError (the batch is then retried)."""
    result = DigestResult(records=len(batch))
    by_project: dict[str, list[tuple[str, NewRecord]]] = {}
    for sequence, record in batch:
        by_project.setdefault(record.project_id, []).append((sequence, record))
    for project_id, records in by_project.items():
        result.listing_items += store.put_listing(project_id, [r.summary() for _, r in records])
        occurrences: list[Occurrence] = []
        refs: list[str] = []
        groupings: list[grouping.Grouping | None] = []
        positions: dict[str, list[tuple[str, str]]] = {}
        records_by_id = {r.record_id: r for _, r in records}
        for sequence, record in records:
            details = store.details_of(record)
            for i, (detail, entry) in enumerate(zip(details, record.index, strict=False)):
                issue_id = entry.get("g")
                if issue_id is None:
                    continue
                occurrence = Occurrence.model_validate(detail)
                group = grouping.compute(occurrence)
                if group is None:
                    continue
                # The request's grouping decided the issue; the digest keeps that id.
                group = dataclasses.replace(group, group_id=issue_id)
                occurrences.append(occurrence)
                refs.append(occurrence_ref(record.record_id, i, len(details)))
                groupings.append(group)
                positions.setdefault(issue_id, []).append((record.bucket, sequence))
            result.occurrences += len(details)
        for delta in _sorted(deltas(occurrences, refs, groupings)):
            count = store.count_into(project_id, delta, _marks(positions[delta.grouping.group_id]))
            result.counts.append(Counted(project_id, count))
            result.kept += _keep_first(store, project_id, count, records_by_id)
    return result


def _sorted(found: list[GroupDelta]) -> list[GroupDelta]:
    return sorted(found, key=lambda d: d.grouping.group_id)


def _keep_first(store: Store, project_id: str, count: IssueCount, records: dict[str, NewRecord]) -> int:
    """Exempt an issue's first occurrence from retention when it is in this batch (also on a
    retry that finds the issue already counted: the REMOVE is idempotent)."""
    if not (count.created or not count.applied) or not count.first_occurrence_id:
        return 0
    record_id, _ = parse_ref(count.first_occurrence_id)
    record = records.get(record_id)
    if record is None or record.kept:
        return 0
    store.keep_record(project_id, record_id, record.s3_key)
    record.kept = True  # several new issues can share a first record: one REMOVE is enough
    return 1
