"""functions/appsignal_push: gem batches of every generation through the handler, with moto underneath."""

from __future__ import annotations

import gzip
import json
import urllib.parse
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lodge import auth, aws, config
from lodge.storage import StorageError, Store, listings
from lodge_devtools.apigw import build_event
from lodge_devtools.streams import StreamPoller
from tests.conftest import Project
from tests.helpers import invoke, json_body

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "appsignal"
GEM_QUERY = "name=MyBlog&environment=production&hostname=app1.local&gem_version=0.11.18"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text()


def push(
    key: str | None,
    body: bytes | str,
    *,
    encoding: str = "zlib",
    path: str = "/1/log_entries",
    query: str = GEM_QUERY,
) -> dict[str, Any]:
    """POST a batch the way a gem generation would: `zlib` (0.6-0.11), `json` (0.3-0.5), `form` (0.1-0.2)."""
    raw = body.encode() if isinstance(body, str) else body
    headers = {"content-type": "application/json; charset=UTF-8", "user-agent": "Ruby"}
    params = f"api_key={key}&{query}" if key is not None and encoding != "form" else query
    if encoding == "zlib":
        raw, headers["content-encoding"] = zlib.compress(raw, 1), "gzip"
    elif encoding == "gzip":
        raw, headers["content-encoding"] = gzip.compress(raw), "gzip"
    elif encoding == "deflate":
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        raw, headers["content-encoding"] = compressor.compress(raw) + compressor.flush(), "deflate"
    elif encoding == "json-as-form":
        headers["content-type"] = "application/x-www-form-urlencoded"
    elif encoding == "form":
        headers["content-type"] = "application/x-www-form-urlencoded"
        fields = {"api_key": key or "", "gem_version": "0.2.5", "log_entries": raw.decode()}
        raw = urllib.parse.urlencode(fields).encode()
    event = build_event("POST", path, raw_query=params, headers=headers, body=raw)
    return invoke("appsignal_push", event)


def entries(count: int, *, failed_every: int = 0, prefix: str = "req") -> list[dict[str, Any]]:
    """A gem 0.11 flush: mostly truncated fast requests, every `failed_every`-th one failed (3 groups)."""
    out: list[dict[str, Any]] = []
    for i in range(count):
        entry: dict[str, Any] = {
            "request_id": f"{prefix}-{i:04d}-6f1e0f3c-2d7e-4a39-9a0e",
            "log_entry": {
                "path": f"/posts/{i}",
                "kind": "http_request",
                "action": f"PostsController#{['index', 'show', 'edit'][i % 3]}",
                "time": 1389783600.0 + i,
                "environment": {},
                "session_data": {},
                "params": {},
                "revision": "fe00101",
                "duration": 10.0 + i,
                "end": 1389783600.01 + i,
                "status": 200,
            },
            "failed": False,
        }
        if failed_every and i % failed_every == 0:
            entry["failed"] = True
            entry["exception"] = {
                "exception": ["ArgumentError", "NoMethodError", "KeyError"][i % 3],
                "message": f"failure {i}",
                "backtrace": [
                    f"app/controllers/posts_controller.rb:{i % 3 + 5}:in `{['index', 'show', 'edit'][i % 3]}'"
                ],
            }
        out.append(entry)
    return out


def records(store: Store, project_id: str) -> list[Any]:
    return list(store.iter_records(project_id))


@pytest.fixture
def count_aws_calls(aws_mock: None) -> Iterator[Counter[str]]:
    """Every botocore API call made by Lodge's clients, by operation name."""
    calls: Counter[str] = Counter()

    def before_call(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    for client in (aws.dynamodb(), aws.s3()):
        client.meta.events.register("before-call", before_call)
    yield calls
    for client in (aws.dynamodb(), aws.s3()):
        client.meta.events.unregister("before-call", before_call)


# ---- every gem generation ----------------------------------------------------------------------


def test_gem_0_11_zlib_batch_is_stored_as_one_record(project: Project, store: Store) -> None:
    response = push(project.credentials["appsignal_push"], fixture_text("gem_0_11_18_batch.json"))
    assert response["statusCode"] == 200, response
    assert json_body(response) == {"status": "ok", "accepted": 3, "duplicates": 0}
    (record,) = records(store, project.id)
    assert [e["k"] for e in record.index] == ["performance", "performance", "error"]
    assert [e.get("x") for e in record.index] == [None, None, "ArgumentError"]
    group_id = record.index[2]["g"]
    group = store.get_group(project.id, group_id)
    assert group and group["cnt"] == 1 and group["env"] == "production"
    detail = store.get_occurrence(project.id, f"{record.record_id}-1")
    assert detail and detail["hostname"] == "app1.local" and detail["events"][0]["name"] == "sql.active_record"


def test_resent_batch_is_a_harmless_duplicate(project: Project, store: Store) -> None:
    key = project.credentials["appsignal_push"]
    assert push(key, fixture_text("gem_0_11_18_batch.json"))["statusCode"] == 200
    again = push(key, fixture_text("gem_0_11_18_batch.json"))
    assert again["statusCode"] == 200 and json_body(again) == {"status": "ok", "accepted": 0, "duplicates": 3}
    (record,) = records(store, project.id)
    group = store.get_group(project.id, record.index[2]["g"])
    assert group and group["cnt"] == 1


def test_gem_0_5_raw_json_and_0_3_json_labelled_as_form(project: Project, store: Store) -> None:
    key = project.credentials["appsignal_push"]
    assert push(key, fixture_text("gem_0_5_batch.json"), encoding="json", query="")["statusCode"] == 200
    assert push(key, fixture_text("gem_0_2_batch.json"), encoding="json-as-form", query="")["statusCode"] == 200
    assert sum(len(r.index) for r in records(store, project.id)) == 4


def test_gem_0_2_form_body_carries_key_and_gem_version(project: Project, store: Store) -> None:
    response = push(
        project.credentials["appsignal_push"], fixture_text("gem_0_2_batch.json"), encoding="form", query=""
    )
    assert response["statusCode"] == 200, response
    (record,) = records(store, project.id)
    detail = store.get_occurrence(project.id, f"{record.record_id}-1")
    assert detail and detail["notifier"]["version"] == "0.2.5" and detail["action"] == "HomeController#crash"


def test_gem_0_1_path_and_bare_name_in_query(project: Project, store: Store) -> None:
    response = push(
        project.credentials["appsignal_push"],
        fixture_text("gem_0_1_batch.json"),
        path="/api/1/log_entries",
        query="name",
    )
    assert response["statusCode"] == 200, response
    (record,) = records(store, project.id)
    assert record.index[0]["e"] == "staging" and record.index[0]["p"] == "/about"


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_true_gzip_and_raw_deflate_are_accepted(project: Project, store: Store, encoding: str) -> None:
    response = push(
        project.credentials["appsignal_push"],
        fixture_text("gem_0_11_18_batch.json"),
        encoding=encoding,
        path="/v1/log_entries.json",
    )
    assert response["statusCode"] == 200, response
    assert len(records(store, project.id)[0].index) == 3


@pytest.mark.parametrize("name", ["seed_docs_performance.txt", "seed_docs_exception.txt"])
def test_seed_examples_ingest_as_is(project: Project, store: Store, name: str) -> None:
    response = push(project.credentials["appsignal_push"], fixture_text(name), encoding="json")
    assert response["statusCode"] == 200, response
    (record,) = records(store, project.id)
    assert record.index[0]["a"] == "BlogPostsController#" + ("show" if "performance" in name else "index")


# ---- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["wrong", "missing", "personal", "other"])
def test_bad_key_is_401_json(project: Project, other_project: Project, store: Store, which: str) -> None:
    key = {
        "wrong": "00000000-0000-4000-8000-000000000000",
        "missing": None,
        "personal": project.credentials["personal"],
        "other": other_project.credentials["rollbar_post_server_item"],
    }[which]
    response = push(key, fixture_text("gem_0_11_18_batch.json"))
    assert response["statusCode"] == 401 and "error" in json_body(response)
    assert records(store, project.id) == []


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        ('[{"a":1}', "zlib"),
        ("[]", "json"),
        ("", "json"),
        ("[1,2]", "json"),
        ("garbage, not JSON", "json-as-form"),
        (b"\x78\x01garbage", "json"),
    ],
)
def test_malformed_batch_is_400_json(project: Project, store: Store, body: str | bytes, encoding: str) -> None:
    response = push(project.credentials["appsignal_push"], body, encoding=encoding)
    assert response["statusCode"] == 400, response
    assert json_body(response)["error"]
    assert records(store, project.id) == []


def test_oversized_body_is_413(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_BODY_BYTES", "2000")
    config.settings.cache_clear()
    try:
        big = json.dumps(entries(40))
        assert push(project.credentials["appsignal_push"], big, encoding="json")["statusCode"] == 413
        assert push(project.credentials["appsignal_push"], big)["statusCode"] == 413  # inflated size counts
    finally:
        monkeypatch.delenv("MAX_BODY_BYTES")
        config.settings.cache_clear()


def test_storage_failure_is_503_and_the_retry_stores_everything(
    project: Project, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = project.credentials["appsignal_push"]

    def broken(*_: Any, **__: Any) -> Any:
        raise StorageError("DynamoDB is down")  # what storage raises for any AWS failure

    monkeypatch.setattr(Store, "put_record", broken)  # the request path's one write (issue 16)
    response = push(key, fixture_text("gem_0_11_18_batch.json"))
    assert response["statusCode"] == 503 and "error" in json_body(response)
    assert records(store, project.id) == []  # nothing stored: the gem keeps the batch and retries
    monkeypatch.undo()
    assert push(key, fixture_text("gem_0_11_18_batch.json"))["statusCode"] == 200
    (record,) = records(store, project.id)
    group = store.get_group(project.id, record.index[2]["g"])
    assert group and group["cnt"] == 1


def test_put_failure_is_503(project: Project, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise StorageError("could not store occurrence")

    monkeypatch.setattr(Store, "put_record", broken)
    assert push(project.credentials["appsignal_push"], fixture_text("gem_0_11_18_batch.json"))["statusCode"] == 503


def test_rate_limited_key_gets_420_not_429(project: Project, store: Store) -> None:
    key, _ = auth.issue_token(store, project.id, "appsignal_push", rate_limit=1)
    assert push(key, fixture_text("gem_0_1_batch.json"))["statusCode"] == 200
    response = push(key, fixture_text("gem_0_11_18_batch.json"))
    assert response["statusCode"] == 420 and int(response["headers"]["Retry-After"]) >= 1


# ---- cost ---------------------------------------------------------------------------------------


@pytest.mark.manual_digest
def test_batch_of_100_costs_a_bounded_number_of_aws_calls(
    project: Project, store: Store, count_aws_calls: Counter[str], digest: StreamPoller
) -> None:
    key = project.credentials["appsignal_push"]
    count_aws_calls.clear()
    response = push(key, json.dumps(entries(100, failed_every=10)))
    assert response["statusCode"] == 200, response
    first = dict(count_aws_calls)
    # The request: token read and the project's scrubbing settings read (both then cached), one
    # record put (+ its detail in S3 once past the offload threshold). Nothing else: counting is the digest's.
    assert first["GetItem"] == 2 and first["PutItem"] == 1 and "UpdateItem" not in first
    assert sum(first.values()) <= 4, first
    count_aws_calls.clear()
    digest.drain()
    # The digest: the listings — one page of the project's, and one of each filtered listing the
    # batch touches (docs/storage.md "Listings"): performance samples, the buckets of the 3 error
    # groups, of its 3 actions and of its 3 exception classes, and the tallies counts read —, one UpdateItem per
    # distinct error group (3), and once per new group: the keep-record update (all 3 groups are
    # new; their first occurrence is one record), and the batch's hour bucket (issue 16: one
    # UpdateItem per project and hour).
    actions = {listings.action_stream(f"PostsController#{a}") for a in ("index", "show", "edit")}
    exceptions = {listings.exception_stream(x) for x in ("ArgumentError", "NoMethodError", "KeyError")}
    groups = {listings.issue_stream(issue.id) for issue in store.issues(project.id) if issue.kind != "performance"}
    assert len(store.issues(project.id)) >= 3
    pages = 1 + 1 + len(groups) + len(actions) + len(exceptions) + 2  # + the project's and performance tallies
    digested = {k: v for k, v in count_aws_calls.items() if k in ("PutItem", "UpdateItem")}
    assert digested == {"PutItem": pages, "UpdateItem": 3 + 1 + 1}, dict(count_aws_calls)

    count_aws_calls.clear()
    assert push(key, json.dumps(entries(100, failed_every=10, prefix="next")))["statusCode"] == 200
    second = dict(count_aws_calls)
    assert "GetItem" not in second and second["PutItem"] == 1 and "UpdateItem" not in second
    assert sum(second.values()) <= 2, second
    count_aws_calls.clear()
    digest.drain()
    assert {k: v for k, v in count_aws_calls.items() if k in ("PutItem", "UpdateItem")} == {
        "PutItem": pages,  # the same listings again
        "UpdateItem": 3 + 1,  # + the hour bucket
    }
    print(f"AWS calls for 100 entries: first batch {first}, next batch {second}")


def _item_bytes(value: Any) -> int:
    """DynamoDB's item size rule: attribute name lengths plus value sizes (numbers ~ digits/2 + 1)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return len(inner) // 2 + 1
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + _item_bytes(v) for k, v in inner.items())
    if kind == "L":
        return 3 + sum(1 + _item_bytes(v) for v in inner)
    return sum(len(v) for v in inner)


@pytest.mark.manual_digest
def test_batch_of_20_costs_under_one_dollar_per_million_entries(
    project: Project, store: Store, digest: StreamPoller
) -> None:
    """Write units of a typical 0.11 flush (20 entries, 2 errors in 2 groups), priced on-demand,
    the digest's included (its listing pages here hold this one record: the worst case)."""
    puts: list[dict[str, Any]] = []
    s3_puts: list[int] = []
    events = "before-parameter-build.dynamodb.PutItem", "before-parameter-build.s3.PutObject"
    aws.dynamodb().meta.events.register(events[0], lambda params, **_: puts.append(params["Item"]))
    aws.s3().meta.events.register(events[1], lambda params, **_: s3_puts.append(1))
    key = project.credentials["appsignal_push"]
    assert push(key, json.dumps(entries(20, failed_every=10, prefix="warm")))["statusCode"] == 200
    digest.drain()
    puts.clear()
    s3_puts.clear()
    assert push(key, json.dumps(entries(20, failed_every=10, prefix="cost")))["statusCode"] == 200
    (item,) = puts
    digest.drain()
    (_, *listing_pages) = puts  # the project's listing page and the filtered listings' pages
    assert len(listing_pages) >= 2
    record_kb = sum(len(k) + _item_bytes(v) for k, v in item.items()) / 1024
    page_kb = [sum(len(k) + _item_bytes(v) for k, v in page.items()) / 1024 for page in listing_pages]
    index_kb = sum(page_kb)
    # record + every listing page + 2 group updates
    write_units = -(-record_kb // 1) + sum(-(-kb // 1) for kb in page_kb) + 2
    dollars_per_million_entries = (write_units * 0.625 + len(s3_puts) * 5.0 + 1.0) / 20  # + API Gateway request
    print(
        f"20-entry batch: record {record_kb:.2f} KB, listings {index_kb:.2f} KB in {len(page_kb)} pages, "
        f"{write_units:.0f} WRU, "
        f"{len(s3_puts)} S3 PUT -> ${dollars_per_million_entries:.3f} per million entries"
    )
    assert dollars_per_million_entries <= 1.0


def test_huge_flush_is_split_into_deterministic_records(project: Project, store: Store) -> None:
    from lodge.protocols.appsignal.push import MAX_RECORD_ENTRIES

    key = project.credentials["appsignal_push"]
    body = json.dumps(entries(MAX_RECORD_ENTRIES + 5))
    assert json_body(push(key, body))["accepted"] == MAX_RECORD_ENTRIES + 5
    assert sorted(len(r.index) for r in records(store, project.id)) == [5, MAX_RECORD_ENTRIES]
    assert json_body(push(key, body)) == {"status": "ok", "accepted": 0, "duplicates": MAX_RECORD_ENTRIES + 5}


# ---- review findings ------------------------------------------------------------------------------

DYNAMODB_ITEM_LIMIT = 400 * 1024


def test_wide_cjk_batch_is_split_into_records_under_the_dynamodb_item_limit(project: Project, store: Store) -> None:
    """500 entries of 130-character CJK texts and 200-character ids made one ~1 MB item: 503 forever on AWS.

    moto does not enforce the 400 KB limit, so the size of every PutItem is measured here.
    """
    long = "\u3042" * 130
    batch = [
        {
            "request_id": f"{i:0200d}",
            "exception": {"exception": long, "message": long},
            "log_entry": {"action": long, "path": "/" + long, "environment": "x", "time": 1700000000},
        }
        for i in range(500)
    ]
    puts: list[dict[str, Any]] = []
    event = "before-parameter-build.dynamodb.PutItem"

    def record_puts(params: dict[str, Any], **_: Any) -> None:
        if params["Item"]["sk"]["S"].startswith("REC#"):
            puts.append(params["Item"])

    aws.dynamodb().meta.events.register(event, record_puts)
    try:
        key = project.credentials["appsignal_push"]
        body = json.dumps(batch, ensure_ascii=False).encode()
        assert len(body) < 1024 * 1024  # within the default body limit
        response = push(key, body)
        assert response["statusCode"] == 200, response
        assert json_body(response) == {"status": "ok", "accepted": 500, "duplicates": 0}
        sizes = [sum(len(k.encode()) + _item_bytes(v) for k, v in item.items()) for item in puts]
        assert len(sizes) > 1 and max(sizes) < 350 * 1024 < DYNAMODB_ITEM_LIMIT, sizes
        print(f"500 wide CJK entries: {len(sizes)} records, item bytes {sizes}")
        # Readable back, every entry, with the texts intact (clipped in the index, whole in the detail).
        stored = records(store, project.id)
        assert sum(len(r.index) for r in stored) == 500
        request_ids = set()
        for summary in stored:
            record = store.get_record(project.id, summary.record_id)
            assert record is not None and len(record.details) == len(summary.index)
            request_ids |= {d["client_id"] for d in record.details}
            assert all(d["action"] == long and d["exceptions"][0]["message"] == long for d in record.details)
        assert request_ids == {e["request_id"] for e in batch}
        # The gem's retry splits identically, so every chunk is a duplicate.
        assert json_body(push(key, body)) == {"status": "ok", "accepted": 0, "duplicates": 500}
    finally:
        aws.dynamodb().meta.events.unregister(event, record_puts)


@pytest.mark.parametrize("field", ["duration", "time", "status", "queue_duration"])
def test_huge_integer_is_never_a_500(project: Project, store: Store, field: str) -> None:
    raw = '[{"request_id":"r","log_entry":{"action":"A#b","path":"/","' + field + '":' + str(10**400) + "}}]"
    response = push(project.credentials["appsignal_push"], raw)
    assert response["statusCode"] in (200, 400), response
    assert response["statusCode"] == 200 and json_body(response)["accepted"] == 1


def test_token_read_failure_is_503_json(project: Project, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key lookup is a storage read too: DynamoDB down means 503 (the gem keeps the batch), not 500."""

    def broken(*_: Any, **__: Any) -> Any:
        raise ConnectionError("DynamoDB is unreachable")

    auth.clear_cache()
    monkeypatch.setattr(aws.dynamodb(), "get_item", broken)
    response = push(project.credentials["appsignal_push"], fixture_text("gem_0_11_18_batch.json"))
    assert response["statusCode"] == 503 and "error" in json_body(response), response
