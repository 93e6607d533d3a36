"""Records: what one request stored (one occurrence, or a whole AppSignal batch) in one item.

Its conditional put is the de-duplication (a retry carries the same client ids, hence the same
record id), and packing a batch into one item is what makes a 20-entry batch cost a few write
units instead of forty. Detail is compressed (`lodge.codec`) and offloaded to S3 when large.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lodge import codec
from lodge.dynamo import from_item, to_attr, to_item
from lodge.storage.errors import STORAGE_FAILURES, StorageError, error_code, failing_as, iterate_failing_as
from lodge.storage.keys import (
    FILTERED_LISTING,
    LISTING,
    RECORD,
    listing_sk,
    occurrence_ref,
    page_bounds,
    parse_ref,
    project_pk,
    record_id_for,
    record_key,
    split_record_pk,
    time_key,
)
from lodge.storage.table import Table

if TYPE_CHECKING:
    from lodge.models.occurrences import OccurrenceSummary
    from lodge.occurrence import Occurrence

INDEX_TEXT_LIMIT = 120
LISTING_PAGE_BYTES = 192 * 1024
"""A listing page's cap on its entries' JSON before compression: pages are stored zlib-compressed
(`pack_page`, ~4x smaller for real entries), so one is typically ~50 KB, and even incompressible
text keeps it far under DynamoDB's 400 KB item limit."""
LISTING_SPAN_MS = 60_000
"""A listing page never spans more than this, so a time-bounded read knows which pages to read."""
S3_EXPIRE_TAG = "lodge-expire=true"


def _clip(value: Any) -> Any:
    if isinstance(value, str) and len(value) > INDEX_TEXT_LIMIT:
        return value[:INDEX_TEXT_LIMIT]
    return value


def clip_index_text(value: str | None) -> str | None:
    """A filter value as the index holds it (texts are clipped there)."""
    return _clip(value) if value else None


DETAIL_ATTR = "d"
"""A record's compressed detail (absent when offloaded to S3)."""
INDEX_ATTR = "ix"
"""A record's index entries, one per occurrence (what listings show without the detail)."""


PROTOCOL_CODES = {"rollbar": "r", "appsignal": "a", "crashlog": "c", "sentry": "s"}
"""An index entry's protocol as one letter: every record and listing page repeats it per occurrence.
Entries written before the codes hold the name, which reads as itself."""
_PROTOCOL_NAMES = {code: name for name, code in PROTOCOL_CODES.items()}

TITLE_AFTER_CLASS = "mx"
"""An index entry's title when it is `<exception class>: <rest>` (the usual error title): only the
rest is stored, the class is the entry's `x` already."""


def _title_fields(title: str | None, exception_class: str | None) -> dict[str, str | None]:
    if title is not None and exception_class is not None and title.startswith(exception_class + ": "):
        return {TITLE_AFTER_CLASS: title[len(exception_class) + 2 :]}
    return {"m": title}


def _title_of(entry: dict[str, Any]) -> str | None:
    rest = entry.get(TITLE_AFTER_CLASS)
    if rest is not None and entry.get("x") is not None:
        return f"{entry['x']}: {rest}"
    return entry.get("m")


def index_entry(occurrence: Occurrence, issue_id: str | None = None) -> dict[str, Any]:
    """The few fields listings need without reading detail; kept small, as every record and every
    listing page pays for it."""
    exception_class = _clip(occurrence.exception_class)
    title = _clip(occurrence.default_title()) if occurrence.kind != "performance" else None
    entry = {
        "k": occurrence.kind,
        "l": occurrence.level,
        "e": occurrence.environment,
        "g": issue_id,
        "a": _clip(occurrence.action),
        "x": exception_class,
        **_title_fields(title, exception_class),
        "p": _clip(occurrence.path),
        "d": occurrence.duration,
        "s": occurrence.status,
        "ts": round(occurrence.effective_time, 3),
        "c": occurrence.client_id,
        "pr": PROTOCOL_CODES.get(occurrence.protocol, occurrence.protocol),
    }
    return {k: v for k, v in entry.items() if v is not None}


def entry_of(listed: OccurrenceSummary) -> dict[str, Any]:
    """An index entry from a listing's view of it (`summary`'s inverse): what the bench seeds
    listings with, so that no module outside storage spells an entry's attribute names."""
    entry = {
        "k": listed.kind,
        "l": listed.level,
        "e": listed.environment,
        "g": listed.issue_id,
        "a": listed.action,
        "x": listed.exception_class,
        **_title_fields(listed.title, listed.exception_class),
        "p": listed.path,
        "d": listed.duration,
        "s": listed.status,
        "ts": listed.occurred_at,
        "c": listed.client_id,
        "pr": PROTOCOL_CODES.get(listed.protocol or "", listed.protocol),
    }
    return {k: v for k, v in entry.items() if v is not None}


def index_entry_size(occurrence: Occurrence) -> int:
    """Encoded bytes of the index entry from the occurrence's content alone (no time, no issue),
    so a resent batch measures, and therefore splits, the same."""
    entry = {k: v for k, v in index_entry(occurrence).items() if k != "ts"}
    return len(json.dumps(entry, ensure_ascii=False).encode("utf-8", "surrogatepass"))


def summary(ref: str, record_id: str, position: int, received_ms: int, entry: dict[str, Any]) -> OccurrenceSummary:
    from lodge.models.occurrences import OccurrenceSummary

    return OccurrenceSummary(
        id=ref,
        record_id=record_id,
        position=position,
        received_ms=received_ms,
        kind=entry.get("k"),
        level=entry.get("l"),
        environment=entry.get("e"),
        issue_id=entry.get("g"),
        title=_title_of(entry),
        exception_class=entry.get("x"),
        action=entry.get("a"),
        path=entry.get("p"),
        duration=entry.get("d"),
        status=entry.get("s"),
        occurred_at=entry.get("ts"),
        client_id=entry.get("c"),
        protocol=_PROTOCOL_NAMES.get(entry.get("pr", ""), entry.get("pr")),
    )


# The item already holds these (its key, `t` and the index entry), so the compressed detail
# leaves them out: ~100 incompressible bytes, the difference between 1 and 2 write units for a
# typical report. `_restore_detail` puts them back on read.
_DETAIL_FROM_ITEM = ("project_id", "client_id", "group_id", "received_at")
_DETAIL_FROM_INDEX = {"action": "a", "path": "p"}
"""Texts the index entry holds whole unless clipped (`INDEX_TEXT_LIMIT`): left out of the detail
when the entry has them unclipped (a CrashLog event's action and URL are ~50 B of its 1 KB)."""


def stored_detail(occurrence: Occurrence) -> dict[str, Any]:
    detail = occurrence.to_detail()
    for key in _DETAIL_FROM_ITEM:
        detail.pop(key, None)
    for key in _DETAIL_FROM_INDEX:
        value = detail.get(key)
        if isinstance(value, str) and _clip(value) == value:
            del detail[key]
    return detail


def _restore_detail(detail: dict[str, Any], entry: dict[str, Any], project_id: str, received_ms: int) -> None:
    detail.setdefault("project_id", project_id)
    detail.setdefault("received_at", received_ms / 1000)
    if "c" in entry:
        detail.setdefault("client_id", entry["c"])
    if "g" in entry:
        detail.setdefault("group_id", entry["g"])
    for key, short in _DETAIL_FROM_INDEX.items():
        if short in entry:
            detail.setdefault(key, entry[short])  # a clipped text stayed whole in the detail


@dataclass
class PutOutcome:
    record_id: str
    stored: bool
    """False when a record with this id already existed (a duplicate; nothing was written)."""
    s3_key: str | None = None


@dataclass
class StoredRecord:
    record_id: str
    received_ms: int
    index: list[dict[str, Any]]
    details: list[dict[str, Any]]
    kept: bool

    def occurrence(self, position: int) -> dict[str, Any]:
        return self.details[position]


@dataclass
class RecordSummary:
    """A record as the listing returns it: no detail, just the per-occurrence index entries."""

    record_id: str
    received_ms: int
    index: list[dict[str, Any]] = field(default_factory=list)

    def summaries(self) -> list[OccurrenceSummary]:
        size = len(self.index)
        return [
            summary(occurrence_ref(self.record_id, i, size), self.record_id, i, self.received_ms, entry)
            for i, entry in enumerate(self.index)
        ]


@dataclass
class NewRecord:
    """A record as the table's stream delivers it to the digest (its NewImage)."""

    project_id: str
    bucket: str
    """Which record partition it is in (`keys.record_bucket`): the digest's marks are per bucket."""
    record_id: str
    received_ms: int
    index: list[dict[str, Any]]
    kept: bool
    s3_key: str | None
    blob: bytes | None
    codec_version: int

    def summary(self) -> RecordSummary:
        return RecordSummary(self.record_id, self.received_ms, self.index)


def new_record(image: dict[str, Any]) -> NewRecord | None:
    """The record in a stream image (already decoded from DynamoDB JSON), or None for other items."""
    sk = image.get("sk")
    if not isinstance(sk, str) or not sk.startswith(RECORD) or "t" not in image:
        return None
    project_id, bucket = split_record_pk(image["pk"])
    blob = image.get("d")
    return NewRecord(
        project_id=project_id,
        bucket=bucket,
        record_id=sk[len(RECORD) :],
        received_ms=int(image["t"]),
        index=list(image.get("ix", [])),
        kept="ttl" not in image,
        s3_key=image.get("s3"),
        blob=bytes(blob) if blob is not None else None,
        codec_version=int(image.get("z", 1)),
    )


RECORD_FILTER: dict[str, Any] = {"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": [{"prefix": "REC#"}]}}}}
"""The event source mapping's filter: new records only (the template holds the same pattern)."""


class Records(Table):
    def details_of(self, record: NewRecord) -> list[dict[str, Any]]:
        """A new record's occurrences (the Occurrence's JSON form), read from S3 when offloaded."""
        body = record.blob
        if body is None and record.s3_key:
            with failing_as("could not read occurrence detail"):
                body = self.s3.get_object(Bucket=self.config.bucket_name, Key=record.s3_key)["Body"].read()
        details = codec.decode(body or b"", record.codec_version)
        for detail, entry in zip(details, record.index, strict=False):
            _restore_detail(detail, entry, record.project_id, record.received_ms)
        return list(details)

    def put_record(
        self,
        project_id: str,
        occurrences: Sequence[Occurrence],
        received_at: float,
        issue_ids: Sequence[str | None] | None = None,
    ) -> PutOutcome:
        """Store one request's occurrences as one item, unless a record with the same id exists.

        `issue_ids` are the grouping's answers, one per occurrence (None: not grouped)."""
        record_id = record_id_for(occurrences)
        received_ms = int(received_at * 1000)
        groups = list(issue_ids) if issue_ids is not None else [None] * len(occurrences)
        blob = codec.encode([stored_detail(o) for o in occurrences])
        s3_key = None
        if len(blob) > self.config.offload_threshold:
            s3_key = f"{project_id}/{record_id}"
            try:
                # If-None-Match: a client's retry must never overwrite the object of the record
                # stored first, nor put the expire tag back once keep_record removed it.
                self.s3.put_object(
                    Bucket=self.config.bucket_name, Key=s3_key, Body=blob, Tagging=S3_EXPIRE_TAG, IfNoneMatch="*"
                )
            except STORAGE_FAILURES as error:
                if error_code(error) != "PreconditionFailed":
                    raise StorageError("could not store occurrence detail") from error
                # Uploaded by an earlier attempt at this record: that object is the detail.
        item = {
            **record_key(project_id, record_id),
            "t": time_key(received_ms),
            INDEX_ATTR: [index_entry(o, g) for o, g in zip(occurrences, groups, strict=True)],
            "z": codec.CURRENT if codec.CURRENT != 1 else None,
            DETAIL_ATTR: None if s3_key else blob,
            "s3": s3_key,
            "ttl": int(received_at) + self.config.retention_seconds,
        }
        with failing_as("could not store occurrence"):
            try:
                self.ddb.put_item(
                    TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)"
                )
            except self.ddb.exceptions.ConditionalCheckFailedException:
                return PutOutcome(record_id=record_id, stored=False, s3_key=s3_key)
        return PutOutcome(record_id=record_id, stored=True, s3_key=s3_key)

    def delete_record(self, project_id: str, record_id: str) -> None:
        """Undo a put whose group update failed, so the client's retry stores and counts it again."""
        with failing_as("could not roll back the occurrence"):
            self.ddb.delete_item(TableName=self.table, Key=to_item(record_key(project_id, record_id)))

    def keep_record(self, project_id: str, record_id: str, s3_key: str | None) -> None:
        """Exempt a record from retention: it holds the first occurrence of an issue."""
        with failing_as("could not exempt the occurrence from retention"):
            self.ddb.update_item(
                TableName=self.table,
                Key=to_item(record_key(project_id, record_id)),
                UpdateExpression="REMOVE #ttl",
                ExpressionAttributeNames={"#ttl": "ttl"},
            )
            if s3_key:
                self.s3.delete_object_tagging(Bucket=self.config.bucket_name, Key=s3_key)

    def get_record(self, project_id: str, record_id: str) -> StoredRecord | None:
        with failing_as("could not read the occurrence"):
            response = self.ddb.get_item(TableName=self.table, Key=to_item(record_key(project_id, record_id)))
            if "Item" not in response:
                return None
            return self._stored_record(project_id, record_id, from_item(response["Item"]))

    def get_occurrences(self, project_id: str, refs: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The details of many occurrences by public id, in one BatchGetItem per 100 records (a
        listing page's details: Rollbar's instances); unknown or malformed ids are left out."""
        wanted: dict[str, list[tuple[str, int]]] = {}
        for ref in refs:
            try:
                record_id, position = parse_ref(ref)
            except KeyError:
                continue
            wanted.setdefault(record_id, []).append((ref, position))
        found: dict[str, dict[str, Any]] = {}
        keys = [record_key(project_id, record_id) for record_id in sorted(wanted)]
        with failing_as("could not read the occurrence"):
            for item in self._batch_get(keys, "the occurrence"):
                record_id = str(item["sk"])[len(RECORD) :]
                record = self._stored_record(project_id, record_id, item)
                for ref, position in wanted.get(record_id, []):
                    if position < len(record.details):
                        found[ref] = record.details[position]
        return found

    def _stored_record(self, project_id: str, record_id: str, item: dict[str, Any]) -> StoredRecord:
        if item.get("s3"):
            body = self.s3.get_object(Bucket=self.config.bucket_name, Key=item["s3"])["Body"].read()
        else:
            body = item["d"]
        received_ms = int(item["t"])
        index = list(item.get("ix", []))
        details = codec.decode(body, int(item.get("z", 1)))
        for detail, entry in zip(details, index, strict=False):
            _restore_detail(detail, entry, project_id, received_ms)
        return StoredRecord(
            record_id=record_id, received_ms=received_ms, index=index, details=details, kept="ttl" not in item
        )

    def record_exists(self, project_id: str, record_id: str) -> bool:
        """A key-only GetItem: whether the record is stored (CrashLog /locate)."""
        with failing_as("could not look up the occurrence"):
            response = self.ddb.get_item(
                TableName=self.table,
                Key=to_item(record_key(project_id, record_id)),
                ProjectionExpression="pk",
            )
        return "Item" in response

    def get_occurrence(self, project_id: str, ref: str) -> dict[str, Any] | None:
        """The detail of one occurrence by its public id (the Occurrence's JSON form), or None
        (also for malformed ids)."""
        try:
            record_id, position = parse_ref(ref)
        except KeyError:
            return None
        record = self.get_record(project_id, record_id)
        if record is None or position >= len(record.details):
            return None
        return record.details[position]

    def occurrence_summary(self, project_id: str, ref: str) -> OccurrenceSummary | None:
        """The listing view of one occurrence (its issue, kind, ...) without decoding its detail."""
        try:
            record_id, position = parse_ref(ref)
        except KeyError:
            return None
        with failing_as("could not read the occurrence"):
            response = self.ddb.get_item(
                TableName=self.table,
                Key=to_item(record_key(project_id, record_id)),
                ProjectionExpression="t, ix",
            )
        if "Item" not in response:
            return None
        item = from_item(response["Item"])
        summaries = RecordSummary(record_id, int(item["t"]), list(item.get("ix", []))).summaries()
        return summaries[position] if position < len(summaries) else None

    def put_listing(self, project_id: str, records: Sequence[RecordSummary]) -> int:
        """Write records into the project's listing (the digest does, once per batch): as few items
        as possible, each up to LISTING_PAGE_BYTES and spanning at most LISTING_SPAN_MS. Returns
        the number of items written. A page's key derives from its records, so a retried batch
        rewrites the same pages; readers drop the rare repeat a bisected retry leaves."""
        return self._put_all(listing_items(project_id, records), "the listing")

    def iter_records(
        self,
        project_id: str,
        *,
        before_ms: int | None = None,
        since_ms: int | None = None,
        newest_first: bool = True,
        page_size: int = 100,
    ) -> Iterator[RecordSummary]:
        """Records by time received, newest first; `before_ms` exclusive, `since_ms` inclusive.

        Read from the digest-written listing (many records per item, up to 1 MB per Query)."""
        return iterate_failing_as(
            "could not read occurrences",
            self._iter_records(project_id, before_ms, since_ms, newest_first, page_size),
        )

    def _iter_records(
        self, project_id: str, before_ms: int | None, since_ms: int | None, newest_first: bool, page_size: int
    ) -> Iterator[RecordSummary]:
        if since_ms is not None and before_ms is not None and since_ms >= before_ms:
            return  # nothing can match
        # A page's key is its newest record's time and a page spans at most LISTING_SPAN_MS, so
        # the pages that can hold [since, before) lie in [since, before + span).
        low, high = page_bounds(LISTING, since_ms, before_ms + LISTING_SPAN_MS if before_ms is not None else None)
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": {
                ":pk": to_attr(project_pk(project_id)),
                ":low": to_attr(low),
                ":high": to_attr(high),
            },
            "ScanIndexForward": not newest_first,
            "Limit": max(1, page_size),
        }
        seen: set[str] = set()
        while True:
            response = self.ddb.query(**request)
            found: list[RecordSummary] = []
            for raw in response.get("Items", []):
                for entry in page_entries(from_item(raw)):
                    received_ms = int(entry["t"])
                    if before_ms is not None and received_ms >= before_ms:
                        continue
                    if since_ms is not None and received_ms < since_ms:
                        continue
                    found.append(RecordSummary(entry["r"], received_ms, list(entry.get("ix", []))))
            # Pages of parallel stream shards may overlap in time: order what one read returned.
            found.sort(key=lambda r: (r.received_ms, r.record_id), reverse=newest_first)
            for record in found:
                if record.record_id not in seen:
                    seen.add(record.record_id)
                    yield record
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def occurrence_summaries(
        self, project_id: str, *, since_ms: int | None = None, before_ms: int | None = None, page_size: int = 100
    ) -> Iterator[OccurrenceSummary]:
        """Every occurrence received in [since_ms, before_ms), newest record first."""
        for record in self.iter_records(project_id, since_ms=since_ms, before_ms=before_ms, page_size=page_size):
            yield from record.summaries()


def listing_items(project_id: str, records: Sequence[RecordSummary]) -> list[dict[str, Any]]:
    """The project listing's items for a batch of records (what `put_listing` writes)."""
    items = []
    for page in listing_pages(records):
        newest = max(r.received_ms for r in page)
        tag = hashlib.sha256("\x00".join(r.record_id for r in page).encode()).hexdigest()[:12]
        items.append(
            {
                "pk": project_pk(project_id),
                "sk": listing_sk(newest, tag),
                PAGE_ATTR: pack_page([{"r": r.record_id, "t": r.received_ms, "ix": r.index} for r in page]),
            }
        )
        items.append(tally_item(project_id, listing_sk(newest, tag), page))
    return items


def tally_item(project_id: str, page_sk: str, page: Sequence[RecordSummary]) -> dict[str, Any]:
    """A page's tally (`TALLY`): its occurrences, errors and oldest receive time, ~100 bytes, so that
    a count over a window reads ~10,000 pages' tallies per Query instead of the pages."""
    return {
        "pk": project_pk(project_id),
        "sk": TALLY + page_sk.split("#", 1)[1],
        COUNT_ATTR: [
            sum(len(r.index) for r in page),
            sum(1 for r in page for e in r.index if e.get("k") != "performance"),
        ],
        OLDEST_ATTR: min(r.received_ms for r in page),
    }


def page_sk_of(tally_sk: str) -> str:
    """The page a tally counts: `LSC#<ms>#…` is the project listing's `LST#…`, `LSC#kp#…` a filtered one."""
    rest = tally_sk[len(TALLY) :]
    return (LISTING if rest[:1].isdigit() else FILTERED_LISTING) + rest


TALLY = "LSC#"
COUNT_ATTR = "n"
"""A tally's [occurrences, errors] (every occurrence not a performance sample)."""
OLDEST_ATTR = "o"
"""A tally's page's oldest receive time (the key holds the newest)."""
PAGE_ATTR = "z"
"""A listing page's entries: zlib-compressed JSON (`pack_page`). Entries of one page share most of
their text (titles, classes, actions), so this is what makes a listing cost ~0.05 instead of ~0.18
write units per occurrence."""


def pack_page(entries: list[dict[str, Any]]) -> bytes:
    """ASCII JSON (lone surrogates survive as escapes), then zlib."""
    return zlib.compress(json.dumps(entries, separators=(",", ":"), default=str).encode("ascii"), 6)


def page_entries(item: dict[str, Any]) -> list[dict[str, Any]]:
    """A listing page's entries (`rs`: pages written before they were compressed)."""
    packed = item.get(PAGE_ATTR)
    if packed is None:
        return list(item.get("rs", []))
    entries = json.loads(zlib.decompress(bytes(packed)))
    return entries if isinstance(entries, list) else []


def listing_pages(records: Sequence[RecordSummary]) -> list[list[RecordSummary]]:
    """Split records (any order) into receive-ordered pages within the size and span caps."""
    pages: list[list[RecordSummary]] = []
    page: list[RecordSummary] = []
    size = 0
    for record in sorted(records, key=lambda r: (r.received_ms, r.record_id)):
        record_bytes = 40 + len(json.dumps(record.index, ensure_ascii=False).encode("utf-8", "surrogatepass"))
        if page and (
            size + record_bytes > LISTING_PAGE_BYTES or record.received_ms - page[0].received_ms > LISTING_SPAN_MS
        ):
            pages.append(page)
            page, size = [], 0
        page.append(record)
        size += record_bytes
    if page:
        pages.append(page)
    return pages
