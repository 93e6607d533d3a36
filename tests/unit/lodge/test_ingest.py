"""The one ingest pipeline: de-duplication, counting, batches, retention of first occurrences.

Counting and retention happen in the digest (tests/conftest.py digests after every put); which
issues a write created is the digest's answer (`digest.new_issue_ids()`)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from lodge import flood, grouping, scrubbing
from lodge.dynamo import to_item
from lodge.ingest import IngestResult, ingest
from lodge.occurrence import Occurrence
from lodge.storage import StorageError, Store
from lodge.storage.keys import record_key
from lodge_devtools.streams import StreamPoller
from tests.unit.lodge.occurrences import error, make

T0 = 1_700_000_000.0


def group_id(occurrence: Occurrence) -> str:
    result = grouping.compute(occurrence)
    assert result is not None
    return result.group_id


def record_item(store: Store, project_id: str, record_id: str) -> dict[str, Any] | None:
    key = to_item(record_key(project_id, record_id))
    item: dict[str, Any] | None = store.ddb.get_item(TableName=store.table, Key=key).get("Item")
    return item


def count_of(store: Store, project_id: str, gid: str) -> int | None:
    group = store.get_group(project_id, gid)
    return None if group is None else int(group["cnt"])


def test_single_occurrence(store: Store, digest: StreamPoller) -> None:
    occurrence = error(frames=[("a.py", "f")])
    result = ingest(store, "p1", [occurrence], T0)
    gid = group_id(occurrence)
    assert result == IngestResult(occurrence.occurrence_id, [occurrence.occurrence_id], False, [gid])
    assert digest.new_issue_ids() == [gid]
    assert occurrence.group_id == gid
    stored = store.get_occurrence("p1", result.refs[0])
    assert stored is not None and stored["group_id"] == gid
    assert count_of(store, "p1", gid) == 1


def test_duplicate_is_reported_and_not_counted_twice(store: Store, digest: StreamPoller) -> None:
    occurrence = make(message="again")
    first = ingest(store, "p1", [occurrence], T0)
    digest.new_issue_ids()
    second = ingest(store, "p1", [occurrence.model_copy()], T0 + 10)
    assert (first.duplicate, second.duplicate) == (False, True)
    assert second.refs == first.refs and second.group_ids == first.group_ids
    assert digest.new_issue_ids() == []
    assert count_of(store, "p1", group_id(occurrence)) == 1


def test_concurrent_duplicates_store_one_record_and_count_once(store: Store) -> None:
    client_id = "5f0c8e0a-7d9e-4a7e-9f55-1b3c1d2e3f40"

    def send(_: int) -> IngestResult:
        return ingest(store, "p1", [make(client_id=client_id, message="race")], T0)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(send, range(16)))
    assert sum(not r.duplicate for r in results) == 1
    assert len({r.record_id for r in results}) == 1
    assert len(list(store.iter_records("p1"))) == 1
    assert count_of(store, "p1", results[0].group_ids[0] or "") == 1


@pytest.mark.manual_digest
def test_the_request_path_is_one_put(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counting moved to the digest (tests/unit/lodge/test_digest.py has its failure and retry):
    a request makes exactly one DynamoDB call, the conditional put (once the project's scrubbing
    settings are cached, like its token)."""
    scrubbing.policy_for(store, "p1")
    flood.GATE.view(store, "p1", T0)  # the flood state, cached for a few seconds likewise (lodge.flood)
    calls: list[str] = []
    for name in ("put_item", "update_item", "delete_item", "get_item", "query", "batch_write_item"):
        original = getattr(store.ddb, name)

        def spy(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(store.ddb, name, spy)
    ingest(store, "p1", [make(message="one write")], T0)
    assert calls == ["put_item"]
    assert count_of(store, "p1", group_id(make(message="one write"))) is None  # not digested yet


def test_storage_failure_of_the_record_raises_storage_error(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(**kwargs: Any) -> None:
        raise ConnectionError("endpoint down")

    monkeypatch.setattr(store.ddb, "put_item", unavailable)
    with pytest.raises(StorageError):
        ingest(store, "p1", [make()], T0)


def test_batch_of_samples_and_errors(store: Store, digest: StreamPoller) -> None:
    samples = [
        make(kind="performance", action="HomeController#index", duration=10.0 + i, timestamp=T0 + i) for i in range(20)
    ]
    boom_early = error("RuntimeError", "boom", frames=[("app.rb", "index")], timestamp=T0 + 5)
    boom_late = error("RuntimeError", "boom", frames=[("app.rb", "index")], timestamp=T0 + 9)
    batch = [*samples[:10], boom_late, *samples[10:], boom_early]
    result = ingest(store, "p1", batch, T0 + 30)

    assert len(result.refs) == 22
    assert result.refs == [f"{result.record_id}-{i}" for i in range(22)]
    records = list(store.iter_records("p1"))
    assert len(records) == 1 and len(records[0].index) == 22
    gid = group_id(boom_early)
    assert result.group_ids == [None] * 10 + [gid] + [None] * 10 + [gid]
    assert digest.new_issue_ids() == [gid]
    group = store.get_group("p1", gid)
    assert group is not None
    assert group["cnt"] == 2
    # first/last by event time, not by position in the batch
    assert (group["fs"], group["fo"]) == (T0 + 5, result.refs[21])
    assert (group["ls"], group["lo"]) == (T0 + 9, result.refs[10])
    assert len(store.list_groups("p1")) == 1, "performance samples make no groups"
    sample = store.get_occurrence("p1", result.refs[3])
    assert sample is not None and sample["duration"] == 13.0 and "group_id" not in sample


def test_batch_counts_each_distinct_group_once(store: Store, digest: StreamPoller) -> None:
    batch = [make(message="a"), make(message="b"), make(message="a"), make(message="a")]
    ingest(store, "p1", batch, T0)
    counts = {g["title"]: g["cnt"] for g in store.list_groups("p1")}
    assert counts == {"a": 3, "b": 1}
    assert sorted(digest.new_issue_ids()) == sorted({group_id(batch[0]), group_id(batch[1])})


def test_first_occurrence_of_a_group_is_kept_later_ones_expire(store: Store, digest: StreamPoller) -> None:
    first = ingest(store, "p1", [make(message="issue")], T0)
    digest.new_issue_ids()
    later = ingest(store, "p1", [make(message="issue")], T0 + 60)
    first_item = record_item(store, "p1", first.record_id)
    later_item = record_item(store, "p1", later.record_id)
    assert first_item is not None and "ttl" not in first_item
    assert later_item is not None and "ttl" in later_item
    assert digest.new_issue_ids() == []


def test_performance_only_records_expire(store: Store, digest: StreamPoller) -> None:
    result = ingest(store, "p1", [make(kind="performance", action="A#b", duration=1.0)], T0)
    item = record_item(store, "p1", result.record_id)
    assert item is not None and "ttl" in item
    assert result.group_ids == [None] and digest.new_issue_ids() == []


def test_nothing_to_ingest_is_a_programming_error(store: Store) -> None:
    with pytest.raises(ValueError):
        ingest(store, "p1", [], T0)


def test_odd_client_values_are_stored_not_500(store: Store) -> None:
    """A truncated emoji (lone surrogate) and an infinite timestamp are accepted and stored."""
    occurrence = make(message="cut emoji \ud83d", timestamp=float("inf"))
    result = ingest(store, "p1", [occurrence], T0)
    detail = store.get_occurrence("p1", result.refs[0])
    assert detail is not None and detail["message"] == "cut emoji \ud83d"
    group = store.get_group("p1", result.group_ids[0] or "")
    assert group is not None and group["title"] == "cut emoji ?" and group["cnt"] == 1
