"""The one ingest pipeline: Occurrences -> grouping -> storage. Every protocol ends here.

A new adapter calls `ingest(store, project_id, occurrences, received_at)` with the Occurrences it mapped.

Write path per request (docs/storage.md): one conditional PutItem of the record (the
de-duplication), then one UpdateItem per distinct group. If a group update fails the record is
deleted again and StorageError raised, so the client's retry stores and counts it from scratch:
a 2xx means stored, and counted but for the rare mid-request failures docs/storage.md lists.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from lodge import grouping, scrubbing
from lodge.alerts import hook as alert_hook
from lodge.normalize import normalize
from lodge.occurrence import Occurrence
from lodge.storage import GroupDelta, StorageError, Store, occurrence_ref

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    record_id: str
    refs: list[str]
    """Public id of each occurrence, in input order."""
    duplicate: bool
    group_ids: list[str | None]
    new_group_ids: list[str]


def _deltas(
    occurrences: Sequence[Occurrence], refs: Sequence[str], groupings: Sequence[grouping.Grouping | None]
) -> list[GroupDelta]:
    by_group: dict[str, GroupDelta] = {}
    for occurrence, ref, group in zip(occurrences, refs, groupings, strict=True):
        if group is None:
            continue
        delta = by_group.get(group.group_id)
        if delta is None:
            by_group[group.group_id] = GroupDelta(group, occurrence, occurrence, ref, ref, 1)
            continue
        delta.count += 1
        if occurrence.effective_time < delta.first.effective_time:
            delta.first, delta.first_ref = occurrence, ref
        if occurrence.effective_time >= delta.last.effective_time:
            delta.last, delta.last_ref = occurrence, ref
    return list(by_group.values())


def ingest(store: Store, project_id: str, occurrences: Sequence[Occurrence], received_at: float) -> IngestResult:
    """Group and durably store one request's occurrences; raises StorageError on any failure."""
    if not occurrences:
        raise ValueError("nothing to ingest")
    policy = scrubbing.policy_for(store, project_id)  # before grouping: titles see scrubbed text
    for occurrence in occurrences:
        normalize(occurrence)  # the one post-mapping pass (lodge.normalize), for every protocol
        scrubbing.scrub_occurrence(occurrence, policy)
    groupings = [grouping.compute(o) for o in occurrences]
    group_ids = [group.group_id if group else None for group in groupings]
    # Storage is told the issue ids explicitly; the occurrence learns its issue only as a result.
    for occurrence, group_id in zip(occurrences, group_ids, strict=True):
        occurrence.group_id = group_id

    outcome = store.put_record(project_id, occurrences, received_at, group_ids)
    refs = [occurrence_ref(outcome.record_id, i, len(occurrences)) for i in range(len(occurrences))]
    if not outcome.stored:
        return IngestResult(outcome.record_id, refs, True, group_ids, [])

    deltas = _deltas(occurrences, refs, groupings)
    try:
        counts = store.count_issues(project_id, deltas)
    except BaseException:
        # Whatever failed (storage, or a bug: that one stays a 500), the record must not stay
        # stored uncounted; the client's retry then stores and counts it from scratch.
        try:
            store.delete_record(project_id, outcome.record_id)
        except StorageError:
            log.exception("could not roll back record %s after a failed group update", outcome.record_id)
        raise

    new_groups = [count.issue_id for count in counts if count.created]
    if new_groups:
        # The first occurrence of an issue outlives retention. Best effort: the occurrence is
        # already stored and counted, so a failure here must not turn into a client retry.
        try:
            store.keep_record(project_id, outcome.record_id, outcome.s3_key)
        except StorageError:
            log.exception("could not exempt record %s from retention", outcome.record_id)
    alert_hook.counted(project_id, deltas, counts)  # alerts (issue 11): never raises; no I/O unless one is due
    return IngestResult(outcome.record_id, refs, False, group_ids, new_groups)
