"""The one ingest pipeline: Occurrences -> grouping -> storage. Every protocol ends here.

A new adapter calls `ingest(store, project_id, occurrences, received_at)` with the Occurrences it mapped.

Write path per request (docs/storage.md): ONE conditional PutItem of the record, which is the
de-duplication; the issue ids are computed here and stored on the record. The project's settings
(scrubbing policy, flood limit and state) come from one cached read (lodge.project_settings). Counting, listing and
retention exemption happen afterwards in the digest (`lodge.digest`), from the table's stream:
a 2xx means durably stored, and counted within seconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lodge import flood, grouping, project_settings, scrubbing
from lodge.normalize import normalize
from lodge.occurrence import Occurrence
from lodge.storage import GroupDelta, Store, occurrence_ref, record_id_for


@dataclass
class IngestResult:
    record_id: str
    refs: list[str]
    """Public id of each occurrence, in input order."""
    duplicate: bool
    group_ids: list[str | None]


def deltas(
    occurrences: Sequence[Occurrence], refs: Sequence[str], groupings: Sequence[grouping.Grouping | None]
) -> list[GroupDelta]:
    """What occurrences add to each of their issues (the digest counts these)."""
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


def ingest(
    store: Store,
    project_id: str,
    occurrences: Sequence[Occurrence],
    received_at: float,
    gate: flood.Gate | None = None,
) -> IngestResult:
    """Group and durably store one request's occurrences; raises StorageError on any failure.

    With `gate` (the handlers pass `flood.GATE`), an issue in flood (lodge.flood) is counted, not
    stored: no write, the same answer."""
    if not occurrences:
        raise ValueError("nothing to ingest")
    cache = gate.settings if gate is not None else project_settings.CACHE  # one read for both steps
    if gate is not None:
        gate.view(store, project_id, received_at)  # read sooner while the flood state matters here
    policy = scrubbing.policy_for(store, project_id, received_at, cache)  # before grouping: titles see scrubbed text
    for occurrence in occurrences:
        normalize(occurrence)  # the one post-mapping pass (lodge.normalize), for every protocol
        scrubbing.scrub_occurrence(occurrence, policy)
    groupings = [grouping.compute(o) for o in occurrences]
    group_ids = [group.group_id if group else None for group in groupings]
    # Storage is told the issue ids explicitly; the occurrence learns its issue only as a result.
    for occurrence, group_id in zip(occurrences, group_ids, strict=True):
        occurrence.group_id = group_id

    # Floods (lodge.flood): gated when the caller passes its container's gate; the flood state came
    # with the settings read above, so a warm request still makes one call, the put.
    if gate is not None and not gate.admit(store, project_id, occurrences, group_ids, received_at):
        record_id = record_id_for(occurrences)
        refs = [occurrence_ref(record_id, i, len(occurrences)) for i in range(len(occurrences))]
        return IngestResult(record_id, refs, False, group_ids)
    outcome = store.put_record(project_id, occurrences, received_at, group_ids)
    if gate is not None and outcome.stored:
        gate.stored_record(project_id, occurrences, group_ids, received_at)  # only what this container wrote
    refs = [occurrence_ref(outcome.record_id, i, len(occurrences)) for i in range(len(occurrences))]
    return IngestResult(outcome.record_id, refs, not outcome.stored, group_ids)
