"""The single-table store against moto: records, offload, time index, groups, markers, tokens, limits."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from lodge import codec, grouping
from lodge.config import settings
from lodge.dynamo import to_item
from lodge.occurrence import Occurrence
from lodge.storage import (
    S3_EXPIRE_TAG,
    GroupDelta,
    StorageError,
    Store,
    occurrence_ref,
    parse_ref,
    record_id_for,
    stored_detail,
)
from lodge.storage.keys import record_key
from tests.unit.lodge.occurrences import error, make

T0 = 1_700_000_000.0


def raw_item(store: Store, project_id: str, sk: str) -> dict[str, Any] | None:
    key = record_key(project_id, sk[len("REC#") :]) if sk.startswith("REC#") else {"pk": f"PRJ#{project_id}", "sk": sk}
    response = store.ddb.get_item(TableName=store.table, Key=to_item(key))
    item: dict[str, Any] | None = response.get("Item")
    return item


def s3_tags(store: Store, key: str) -> dict[str, str]:
    tags = store.s3.get_object_tagging(Bucket=store.config.bucket_name, Key=key)["TagSet"]
    return {t["Key"]: t["Value"] for t in tags}


def offloading(store: Store, threshold: int = 20) -> Store:
    """A store that offloads every detail of more than `threshold` bytes compressed (the smallest
    report's detail compresses to ~30 B)."""
    return Store(dataclasses.replace(settings(), offload_threshold=threshold))


def delta(occurrence: Occurrence, ref: str, count: int = 1, last: Occurrence | None = None) -> GroupDelta:
    result = grouping.compute(occurrence)
    assert result is not None
    return GroupDelta(result, occurrence, last or occurrence, ref, ref, count)


# ---- ids ---------------------------------------------------------------------------------------------


def test_refs_and_parse_ref() -> None:
    assert occurrence_ref("abc", 0, 1) == "abc"
    assert occurrence_ref("abc", 3, 20) == "abc-3"
    assert parse_ref("abc") == ("abc", 0)
    assert parse_ref("abc-3") == ("abc", 3)


@pytest.mark.parametrize("ref", ["", "-1", "abc-x", "abc-1-2", "a/b", "abc-²", "abc-\u0661", "abc- 1", "x" * 65])
def test_parse_ref_rejects_malformed_ids(ref: str) -> None:
    with pytest.raises(KeyError):
        parse_ref(ref)


def test_batch_record_id_does_not_depend_on_order() -> None:
    a, b = make(), make()
    assert record_id_for([a, b]) == record_id_for([b, a])
    assert record_id_for([a, b]) != record_id_for([a])
    assert record_id_for([a]) == a.occurrence_id


# ---- records ----------------------------------------------------------------------------------------


def test_put_record_is_conditional(store: Store) -> None:
    occurrence = make(message="once")
    first = store.put_record("p1", [occurrence], T0)
    again = store.put_record("p1", [occurrence.model_copy(update={"message": "changed"})], T0 + 5)
    assert first.stored is True
    assert again.stored is False
    assert again.record_id == first.record_id
    detail = store.get_occurrence("p1", first.record_id)
    assert detail is not None and detail["message"] == "once"


def test_small_detail_stays_inline_with_retention(store: Store) -> None:
    outcome = store.put_record("p1", [make(message="small")], T0)
    assert outcome.s3_key is None
    item = raw_item(store, "p1", f"REC#{outcome.record_id}")
    assert item is not None
    assert "d" in item and "s3" not in item
    assert int(item["ttl"]["N"]) == int(T0) + 90 * 86400
    assert codec.decode(item["d"]["B"])[0]["message"] == "small"


def test_large_detail_is_offloaded_to_s3_with_the_expire_tag(store: Store) -> None:
    big = offloading(store)
    occurrence = make(message="large " * 50)
    outcome = big.put_record("p1", [occurrence], T0)
    assert outcome.s3_key == f"p1/{outcome.record_id}"
    item = raw_item(store, "p1", f"REC#{outcome.record_id}")
    assert item is not None
    assert item["s3"] == {"S": outcome.s3_key}
    assert "d" not in item
    assert s3_tags(store, outcome.s3_key) == dict([S3_EXPIRE_TAG.split("=")])
    detail = big.get_occurrence("p1", outcome.record_id)
    assert detail == occurrence.to_detail()


def test_offload_threshold_boundary(store: Store) -> None:
    occurrence = make(message="boundary")
    size = len(codec.encode([stored_detail(occurrence)]))
    assert offloading(store, size).put_record("p1", [occurrence], T0).s3_key is None
    other = make(message="boundary")
    other_size = len(codec.encode([stored_detail(other)]))
    assert offloading(store, other_size - 1).put_record("p1", [other], T0).s3_key is not None


def test_keep_record_removes_ttl_and_the_s3_tag(store: Store) -> None:
    big = offloading(store)
    outcome = big.put_record("p1", [make(message="x" * 400)], T0)
    assert outcome.s3_key
    big.keep_record("p1", outcome.record_id, outcome.s3_key)
    item = raw_item(store, "p1", f"REC#{outcome.record_id}")
    assert item is not None and "ttl" not in item
    assert s3_tags(store, outcome.s3_key) == {}
    record = big.get_record("p1", outcome.record_id)
    assert record is not None and record.kept is True


def test_a_retried_duplicate_does_not_touch_a_kept_offloaded_record(store: Store) -> None:
    """The first occurrence of an issue is exempt from expiry; its client's retry must not re-tag it."""
    big = offloading(store)
    occurrence = make(message="y" * 400)
    outcome = big.put_record("p1", [occurrence], T0)
    assert outcome.s3_key
    big.keep_record("p1", outcome.record_id, outcome.s3_key)
    again = big.put_record("p1", [occurrence], T0 + 30)
    assert again.stored is False
    assert s3_tags(store, outcome.s3_key) == {}
    detail = big.get_occurrence("p1", outcome.record_id)
    assert detail is not None and detail["received_at"] == T0


def test_get_occurrence_in_a_batch(store: Store) -> None:
    batch = [make(message=f"m{i}") for i in range(3)]
    outcome = store.put_record("p1", batch, T0)
    assert store.get_occurrence("p1", f"{outcome.record_id}-2") == batch[2].to_detail()
    assert store.get_occurrence("p1", f"{outcome.record_id}-3") is None
    assert store.get_occurrence("p1", "not-a-ref!") is None
    assert store.get_occurrence("p1", "0" * 24) is None


def test_delete_record(store: Store) -> None:
    outcome = store.put_record("p1", [make()], T0)
    store.delete_record("p1", outcome.record_id)
    assert store.get_record("p1", outcome.record_id) is None


# ---- time index -------------------------------------------------------------------------------------


def _put_at(store: Store, project_id: str, seconds: list[float]) -> dict[int, str]:
    ids = {}
    for at in seconds:
        outcome = store.put_record(project_id, [make(message=f"at {at}")], at)
        ids[int(at * 1000)] = outcome.record_id
    return ids


def test_iter_records_newest_first_with_bounds_and_paging(store: Store) -> None:
    ids = _put_at(store, "p1", [T0 + i for i in range(7)])
    _put_at(store, "p2", [T0 + 3.5])
    all_ms = sorted(ids, reverse=True)

    listed = list(store.iter_records("p1", page_size=2))
    assert [r.received_ms for r in listed] == all_ms
    assert [r.record_id for r in listed] == [ids[ms] for ms in all_ms]
    assert listed[0].index[0]["m"] == "at 1700000006.0"

    before = int((T0 + 4) * 1000)
    since = int((T0 + 1) * 1000)
    bounded = list(store.iter_records("p1", before_ms=before, since_ms=since, page_size=2))
    assert [r.received_ms for r in bounded] == [ms for ms in all_ms if since <= ms < before]
    assert len(bounded) == 3

    oldest_first = list(store.iter_records("p1", newest_first=False, page_size=3))
    assert [r.received_ms for r in oldest_first] == sorted(ids)


def test_index_entries_read_the_same_in_their_short_and_their_earlier_encoding(store: Store) -> None:
    """The protocol is stored as a letter and an error's title without its class; entries written
    before (the protocol's name, the whole title in `m`) read as the same summary."""
    occurrence = error(exc_type="NoMethodError", message="undefined method `x'", protocol="crashlog")
    outcome = store.put_record("p1", [occurrence], T0)
    summary = store.occurrence_summary("p1", outcome.record_id)
    assert summary is not None
    assert summary.protocol == "crashlog" and summary.exception_class == "NoMethodError"
    assert summary.title == "NoMethodError: undefined method `x'"
    item = raw_item(store, "p1", f"REC#{outcome.record_id}")
    assert item is not None
    (entry,) = item["ix"]["L"]
    assert entry["M"]["pr"] == {"S": "c"} and "m" not in entry["M"]
    earlier = {**entry["M"], "pr": {"S": "crashlog"}, "m": {"S": summary.title}}
    del earlier["mx"]
    store.ddb.put_item(TableName=store.table, Item={**item, "ix": {"L": [{"M": earlier}]}})
    assert store.occurrence_summary("p1", outcome.record_id) == summary


def test_action_and_path_are_stored_once_unless_the_index_clips_them(store: Store) -> None:
    short = make(action="users#show", path="https://example.com/users/42")
    long = make(action="a" * 300, path="https://example.com/" + "p" * 300)
    for occurrence in (short, long):
        outcome = store.put_record("p1", [occurrence], T0)
        detail = store.get_occurrence("p1", outcome.record_id)
        assert detail is not None
        assert detail["action"] == occurrence.action and detail["path"] == occurrence.path
    assert "action" not in stored_detail(short) and "path" not in stored_detail(short)
    assert stored_detail(long)["action"] == long.action and stored_detail(long)["path"] == long.path


def test_iter_records_empty_and_exact_bounds(store: Store) -> None:
    assert list(store.iter_records("nobody")) == []
    ids = _put_at(store, "p1", [T0])
    (ms,) = ids
    assert [r.received_ms for r in store.iter_records("p1", since_ms=ms)] == [ms]
    assert list(store.iter_records("p1", before_ms=ms)) == []
    assert list(store.iter_records("p1", since_ms=ms + 1)) == []


# ---- groups --------------------------------------------------------------------------------------------


def test_bump_group_counts_and_keeps_the_first(store: Store) -> None:
    first = error(message="first", frames=[("a.py", "f")], timestamp=T0, level="warning", platform="linux")
    later = error(message="later", frames=[("a.py", "f")], timestamp=T0 + 60, level="critical")
    assert store.bump_group("p1", delta(first, "r1")) is True
    assert store.bump_group("p1", delta(later, "r2", count=3)) is False
    computed = grouping.compute(first)
    assert computed is not None
    group = store.get_group("p1", computed.group_id)
    assert group is not None
    assert group["cnt"] == 4
    assert group["title"] == "ZeroDivisionError: first"
    assert (group["fs"], group["fo"]) == (T0, "r1")
    assert (group["ls"], group["lo"], group["llvl"]) == (T0 + 60, "r2", "critical")
    assert group["lvl"] == "warning"
    assert group["st"] == "active"
    assert group["algo"] == grouping.ALGORITHM_VERSION
    assert group["why"].startswith("exception class ZeroDivisionError")
    assert group["x"] == "ZeroDivisionError" and group["plat"] == "linux" and group["pr"] == "rollbar"
    assert group["env"] == "production"


def test_bump_groups_several(store: Store) -> None:
    a, b, c = make(message="alpha"), make(message="beta"), make(message="gamma")
    assert store.bump_groups("p1", [delta(a, "1")]) == [grouping.compute(a).group_id]  # type: ignore[union-attr]
    new = store.bump_groups("p1", [delta(a, "2", 2), delta(b, "3", 5), delta(c, "4")])
    ids = {o.message: grouping.compute(o).group_id for o in (a, b, c)}  # type: ignore[union-attr]
    assert sorted(new) == sorted([ids["beta"], ids["gamma"]])
    counts = {g["title"]: g["cnt"] for g in store.list_groups("p1")}
    assert counts == {"alpha": 3, "beta": 5, "gamma": 1}
    assert store.bump_groups("p1", []) == []


def test_set_group_status(store: Store) -> None:
    occurrence = make(message="m")
    store.bump_group("p1", delta(occurrence, "r"))
    group_id = grouping.compute(occurrence).group_id  # type: ignore[union-attr]
    updated = store.set_group_status("p1", group_id, "resolved")
    assert updated is not None and updated["st"] == "resolved" and updated["cnt"] == 1
    assert store.set_group_status("p1", "missing", "resolved") is None
    assert store.get_group("p1", "missing") is None


# ---- markers, projects, tokens, limits ---------------------------------------------------------------


def test_markers(store: Store) -> None:
    first = store.put_marker("p1", {"kind": "deploy", "revision": "abc", "comment": None})
    second = store.put_marker("p1", {"kind": "deploy", "revision": "def"})
    assert second > first
    got = store.get_marker("p1", first)
    assert got is not None
    assert (got["id"], got["revision"], got["kind"]) == (first, "abc", "deploy")
    assert "comment" not in got
    updated = store.update_marker("p1", first, {"status": "succeeded", "comment": None, "id": 5})
    assert updated is not None and updated["status"] == "succeeded" and updated["id"] == first
    assert store.update_marker("p1", 12345, {"status": "failed"}) is None
    assert store.update_marker("p1", first, {}) == store.get_marker("p1", first)
    assert [m["id"] for m in store.list_markers("p1")] == [second, first]
    assert [m["id"] for m in store.list_markers("p1", newest_first=False)] == [first, second]
    assert store.get_marker("p2", first) is None


def test_projects(store: Store) -> None:
    store.put_project("a1", "First")
    store.put_project("b2", "Second")
    project = store.get_project("a1")
    assert project is not None and (project["id"], project["name"]) == ("a1", "First")
    assert isinstance(project["created"], int)
    assert {p["id"]: p["name"] for p in store.list_projects()} == {"a1": "First", "b2": "Second"}
    assert store.get_project("zz") is None
    with pytest.raises(store.ddb.exceptions.ConditionalCheckFailedException):
        store.put_project("a1", "Again")


def test_tokens(store: Store) -> None:
    store.put_token("h1", {"project": "p1", "kind": "crashlog", "scopes": {"crashlog"}, "secret": "s3cr3t", "rl": None})
    store.put_token("h2", {"project": "p1", "kind": "rollbar_read", "scopes": {"read"}})
    token = store.get_token("h1")
    assert token is not None and token["secret"] == "s3cr3t" and token["scopes"] == {"crashlog"}
    assert "rl" not in token
    listed = {t["hash"]: t for t in store.list_tokens("p1")}
    assert set(listed) == {"h1", "h2"}
    assert "secret" not in listed["h1"], "the listing reference never carries the secret"
    store.delete_token("p1", "h1")
    assert store.get_token("h1") is None
    assert [t["hash"] for t in store.list_tokens("p1")] == ["h2"]


# ---- issue 15, point 9: the CrashLog secret is an item of its own (SEC#), for IAM's LeadingKeys


def _raw(store: Store, pk: str, sk: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = store.ddb.get_item(TableName=store.table, Key=to_item({"pk": pk, "sk": sk})).get(
        "Item"
    )
    return item


def test_the_secret_is_stored_apart_from_the_token(store: Store) -> None:
    store.put_token("h1", {"project": "p1", "kind": "crashlog", "scopes": {"crashlog"}, "secret": "s3cr3t"})
    token_item = _raw(store, "TOK#h1", "TOKEN")
    assert token_item is not None and "secret" not in token_item
    assert _raw(store, "SEC#h1", "SECRET") == {"pk": {"S": "SEC#h1"}, "sk": {"S": "SECRET"}, "secret": {"S": "s3cr3t"}}
    assert (store.credential("h1") or pytest.fail()).secret == "s3cr3t"
    store.delete_token("p1", "h1")
    assert _raw(store, "SEC#h1", "SECRET") is None


def test_functions_without_secret_access_never_ask_for_it(store: Store) -> None:
    store.put_token("h1", {"project": "p1", "kind": "crashlog", "scopes": {"crashlog"}, "secret": "s3cr3t"})
    elsewhere = Store(dataclasses.replace(settings(), reads_secrets=False), dynamodb=store.ddb)
    asked: list[str] = []
    elsewhere.ddb.meta.events.register(
        "provide-client-params.dynamodb.GetItem", lambda params, **_: asked.append(params["Key"]["pk"]["S"])
    )
    try:
        credential = elsewhere.credential("h1")
    finally:
        elsewhere.ddb.meta.events.unregister("provide-client-params.dynamodb.GetItem")
    assert credential is not None and credential.secret is None and credential.project_id == "p1"
    assert asked == ["TOK#h1"]


def test_a_legacy_secret_on_the_token_item_works_and_moves(store: Store) -> None:
    """Tables written before the split keep `secret` on TOK#: honoured, and `move_legacy_secrets` moves it."""
    legacy = {"pk": "TOK#h1", "sk": "TOKEN", "project": "p1", "kind": "crashlog", "secret": "old"}
    store.ddb.put_item(TableName=store.table, Item=to_item(legacy))
    store.put_token("h2", {"project": "p1", "kind": "crashlog", "scopes": {"crashlog"}, "secret": "new"})
    assert (store.credential("h1") or pytest.fail()).secret == "old"
    assert store.move_legacy_secrets() == 1
    assert "secret" not in (_raw(store, "TOK#h1", "TOKEN") or {})
    assert (store.credential("h1") or pytest.fail()).secret == "old"
    assert (store.credential("h2") or pytest.fail()).secret == "new"
    assert store.move_legacy_secrets() == 0


# ---- end issue 15, point 9


def test_rate_limit_window(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    start = 1_699_999_980  # a multiple of 60
    now = start + 30
    monkeypatch.setattr(time, "time", lambda: now)
    results = [store.hit_rate_limit("tok", limit=3) for _ in range(4)]
    reset = start + 60
    assert results == [(True, 2, reset), (True, 1, reset), (True, 0, reset), (False, 0, reset)]
    monkeypatch.setattr(time, "time", lambda: now + 60)
    assert store.hit_rate_limit("tok", limit=3) == (True, 2, reset + 60)
    assert store.hit_rate_limit("other", limit=3)[0] is True


# ---- isolation ---------------------------------------------------------------------------------------


def test_one_project_cannot_read_another(store: Store) -> None:
    occurrence = make(message="private")
    outcome = store.put_record("a", [occurrence], T0)
    store.bump_group("a", delta(occurrence, outcome.record_id))
    group_id = grouping.compute(occurrence).group_id  # type: ignore[union-attr]
    marker = store.put_marker("a", {"kind": "deploy"})
    assert store.get_occurrence("a", outcome.record_id) is not None
    assert store.get_occurrence("b", outcome.record_id) is None
    assert store.get_record("b", outcome.record_id) is None
    assert store.get_group("b", group_id) is None
    assert store.set_group_status("b", group_id, "resolved") is None
    assert store.get_marker("b", marker) is None
    assert store.update_marker("b", marker, {"status": "x"}) is None
    assert list(store.iter_records("b")) == []
    assert store.list_groups("b") == [] and store.list_markers("b") == []
    # ... and b writing the same client id stores its own record, it is not a duplicate of a's
    assert store.put_record("b", [occurrence], T0).stored is True


def test_a_retry_after_a_failed_put_reuses_the_uploaded_detail(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    big = offloading(store)
    occurrence = make(message="z" * 400)

    def unavailable(**kwargs: Any) -> None:
        raise ConnectionError("endpoint down")

    monkeypatch.setattr(big.ddb, "put_item", unavailable)
    with pytest.raises(StorageError):
        big.put_record("p1", [occurrence], T0)
    monkeypatch.undo()
    retry = big.put_record("p1", [occurrence], T0 + 1)
    assert retry.stored is True and retry.s3_key == f"p1/{retry.record_id}"
    # received_at is the time the record was stored (the retry's), as for any record.
    assert big.get_occurrence("p1", retry.record_id) == {**occurrence.to_detail(), "received_at": T0 + 1}


def test_s3_failure_is_a_storage_error(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    big = offloading(store)

    def denied(**kwargs: Any) -> None:
        raise big.s3.exceptions.ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutObject")

    monkeypatch.setattr(big.s3, "put_object", denied)
    with pytest.raises(StorageError):
        big.put_record("p1", [make(message="w" * 400)], T0)
    assert list(big.iter_records("p1")) == []


def test_reversed_time_bounds_match_nothing_without_asking_dynamodb(store: Store) -> None:
    """DynamoDB rejects BETWEEN with low > high (a ValidationException, i.e. a 500); moto does not."""
    store.put_record("p1", [make(message="x")], T0)
    calls: list[str] = []
    store.ddb.meta.events.register("before-call.dynamodb.Query", lambda **kw: calls.append("query"))
    assert list(store.iter_records("p1", since_ms=2_000, before_ms=1_000)) == []
    assert list(store.iter_records("p1", since_ms=1_000, before_ms=1_000)) == []
    assert calls == []
    assert len(list(store.iter_records("p1", since_ms=0, before_ms=int(T0 * 1000) + 1))) == 1


@pytest.mark.parametrize("ref", ["abc-" + "9" * 5000, "abc-1234567"])
def test_over_long_batch_index_is_not_an_id(ref: str) -> None:
    with pytest.raises(KeyError):
        parse_ref(ref)


def test_batch_ids_accept_lone_surrogates() -> None:
    members = [make(client_id="\ud800a"), make(client_id="\ud800b")]
    assert len(record_id_for(members)) == 24
