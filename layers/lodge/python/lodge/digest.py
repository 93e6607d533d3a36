"""The digest: what happens after a record is accepted, driven by the table's stream.

Per batch of new records (docs/storage.md has the write units):
1. the listings (written last, after every count of the batch): the batch's index entries in the
   project's listing and in the filtered listings of the values present (issue, action and
   exception buckets, performance), as few items as possible (`put_listing`,
   `put_filtered_listings`; docs/storage.md "Listings");
2. one UpdateItem per distinct issue (`Issues.count_into`: triage's counter, reopening of a
   resolved issue, the end of a mute), marked with the stream position so a retried or bisected
   batch never counts twice;
3. the first occurrence of every new issue outlives retention (`keep_record`, REMOVE ttl);
4. the alerts of those counts (new issue, 10^n, regression) are decided and handed to SQS
   (`lodge.alerts.hook.counted`). A count that a retry skips (its mark is not newer) decides
   nothing again, and the alerts of the counts made before a failure are handed off before the
   batch fails, so a retry neither loses nor repeats an alert (their ids are deterministic too).
5. the hourly buckets (`lodge.storage.buckets`: trends and AppSignal's graphs.json), one UpdateItem
   per project and hour of the batch, marked like the issue counts (`_count_hours`).
"""

from __future__ import annotations

import base64
import copy
import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from lodge import flood, grouping
from lodge.alerts import hook as alert_hook
from lodge.dynamo import from_item
from lodge.ingest import deltas
from lodge.occurrence import Occurrence
from lodge.storage import DigestMark, GroupDelta, IssueCount, Store, occurrence_ref, parse_ref
from lodge.storage.buckets import Tally, entry_tallies
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
    hour_items: int = 0
    """Hourly bucket items written (one per project and hour of the batch)."""
    counts: list[Counted] = field(default_factory=list)
    kept: int = 0
    alerts: int = 0
    """Alerts handed off to the alert queue."""
    floods: int = 0
    """Issues this batch found over their flood limit (lodge.flood)."""

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


def stored_occurrence(detail: dict[str, Any]) -> Occurrence:
    """The Occurrence of a stored detail. Scrubbing ran on the model before it was stored and may
    have put "[Filtered]" where the model wants a mapping (a `session` that is a secret as a
    whole); such values mean nothing to grouping or alerts, so they are dropped, not fatal."""
    try:
        return Occurrence.model_validate(detail)
    except ValidationError as first_error:
        error = first_error
    lenient = copy.deepcopy(detail)
    for _round in range(4):
        for problem in error.errors():
            _drop(lenient, problem["loc"])
        try:
            return Occurrence.model_validate(lenient)
        except ValidationError as again:
            error = again
    raise error


def _drop(tree: Any, loc: Sequence[int | str]) -> None:
    """Remove the value at `loc` (a pydantic error location) from nested dicts and lists."""
    for i, key in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(tree, dict) and key in tree:
            if last:
                del tree[key]
                return
            tree = tree[key]
        elif isinstance(tree, list) and isinstance(key, int) and 0 <= key < len(tree):
            if last:
                tree[key] = {} if isinstance(tree[key], dict) else None
                return
            tree = tree[key]
        else:
            return


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
        occurrences: list[Occurrence] = []
        refs: list[str] = []
        groupings: list[grouping.Grouping | None] = []
        positions: dict[str, list[tuple[str, str]]] = {}
        received: dict[str, list[int]] = {}  # receive times per issue: the flood check's rate
        records_by_id = {r.record_id: r for _, r in records}
        for sequence, record in records:
            details = store.details_of(record)
            for i, (detail, listed) in enumerate(zip(details, record.summary().summaries(), strict=False)):
                issue_id = listed.issue_id
                if issue_id is None:
                    continue
                occurrence = stored_occurrence(detail)
                group = grouping.compute(occurrence)
                if group is None:
                    continue
                # The request's grouping decided the issue; the digest keeps that id.
                group = dataclasses.replace(group, group_id=issue_id)
                occurrences.append(occurrence)
                refs.append(occurrence_ref(record.record_id, i, len(details)))
                groupings.append(group)
                positions.setdefault(issue_id, []).append((record.bucket, sequence))
                received.setdefault(issue_id, []).append(record.received_ms)
            result.occurrences += len(details)
        result.hour_items += _count_hours(store, project_id, records)
        found = _sorted(deltas(occurrences, refs, groupings))
        counted: list[tuple[GroupDelta, IssueCount]] = []
        try:
            for delta in found:
                count = store.count_into(project_id, delta, marks=_marks(positions[delta.grouping.group_id]))
                result.counts.append(Counted(project_id, count))
                if count.applied:
                    counted.append((delta, count))
                result.kept += _keep_first(store, project_id, count, records_by_id)
                result.floods += _flood_check(store, project_id, count, received[delta.grouping.group_id])
        finally:
            # Also when a later count failed: the retry skips these counts, so their alerts go now.
            if counted:
                result.alerts += alert_hook.counted(project_id, [d for d, _ in counted], [c for _, c in counted])
    # The listings last: a batch that failed before this point wrote no page, so the retry (even a
    # bisected one, whose halves make pages of their own) lists every record once.
    for project_id, records in by_project.items():
        summaries = [r.summary() for _, r in records]
        result.listing_items += store.put_listing(project_id, summaries)
        result.listing_items += store.put_filtered_listings(project_id, summaries)
    return result


def _count_hours(store: Store, project_id: str, records: Sequence[tuple[str, NewRecord]]) -> int:
    """The batch's hourly tallies (by receive hour, from the index entries alone), one UpdateItem per hour."""
    hours: dict[int, dict[str, Tally]] = {}
    positions: dict[int, list[tuple[str, str]]] = {}
    for sequence, record in records:
        hour = record.received_ms // 3_600_000
        positions.setdefault(hour, []).append((record.bucket, sequence))
        series = hours.setdefault(hour, {})
        for entry in record.index:
            for name, tally in entry_tallies(entry):
                series.setdefault(name, Tally()).add(tally)
    written = 0
    for hour in sorted(hours):
        written += store.count_hour(project_id, hour, hours[hour], marks=_marks(positions[hour]))
    return written


def _flood_check(store: Store, project_id: str, count: IssueCount, received_ms: list[int]) -> int:
    """Floods of one issue (lodge.flood): the batch's newest minute of the issue and its count there."""
    newest = max(received_ms)
    minute = flood.minute_of(newest / 1000)
    in_minute = sum(1 for ms in received_ms if flood.minute_of(ms / 1000) == minute)
    return int(flood.observe(store, project_id, count, newest, in_minute))


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
