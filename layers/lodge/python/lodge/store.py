"""Single-table DynamoDB storage, with large occurrence detail offloaded to S3.

Key design (docs/storage.md has the access patterns and the write units per ingest):

| item       | pk                 | sk                        | notes                                   |
|------------|--------------------|---------------------------|-----------------------------------------|
| project    | PRJ#<project>      | PROJECT                   | name, created                           |
| token      | TOK#<sha256(token)>| TOKEN                     | project, scopes, kind (+ secret: HMAC)  |
| token ref  | PRJ#<project>      | TOKREF#<sha256(token)>    | kind, label: listing/revoking per project|
| record     | PRJ#<project>      | REC#<record id>           | 1..N occurrences; GSI ByTime            |
| group      | PRJ#<project>      | GRP#<group id>            | issue: title, level, counts, first/last |
| marker     | PRJ#<project>      | MRK#<marker id>           | deploys, announces                      |
| rate limit | RL#<token hash>    | <window start>            | only for tokens with a limit; TTL       |

A *record* is what one request stored: one occurrence for Rollbar and CrashLog, a whole batch for
AppSignal. Its conditional put is the de-duplication (a retry carries the same client ids, hence
the same record id), and packing a batch into one item is what makes a 20-entry batch cost a few
write units instead of forty.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from lodge import aws, codec
from lodge.config import Settings, settings
from lodge.dynamo import from_item, to_attr, to_item

if TYPE_CHECKING:
    from lodge.grouping import Grouping
    from lodge.occurrence import Occurrence

TIME_INDEX = "ByTime"
INDEX_TEXT_LIMIT = 120
S3_EXPIRE_TAG = "lodge-expire=true"


class StorageError(Exception):
    """Storage failed; the request must be answered 5xx so the client retries."""


STORAGE_FAILURES = (BotoCoreError, ClientError, OSError)
"""What DynamoDB and S3 raise when they fail (throttling, timeouts, a dropped connection).
`lodge.http.handle` answers these with 503 wherever they escape a handler."""


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


# ---------------------------------------------------------------------------------------------
# ids and keys


def project_pk(project_id: str) -> str:
    return f"PRJ#{project_id}"


def record_id_for(occurrences: Sequence[Occurrence]) -> str:
    """One occurrence: its own id. A batch: a digest of its members' ids, so a resent batch collides."""
    if len(occurrences) == 1:
        return occurrences[0].occurrence_id
    joined = "\x00".join(sorted(o.occurrence_id for o in occurrences))
    return hashlib.sha256(("batch\x00" + joined).encode("utf-8", "surrogatepass")).hexdigest()[:24]


def occurrence_ref(record_id: str, index: int, size: int) -> str:
    """Public id of an occurrence: the record id, plus `-<index>` inside a batch."""
    return record_id if size == 1 else f"{record_id}-{index}"


def parse_ref(ref: str) -> tuple[str, int]:
    record_id, _, index = ref.partition("-")
    if not record_id or not (record_id.isascii() and record_id.isalnum()) or len(record_id) > 64:
        raise KeyError(ref)
    # ASCII digits only: str.isdigit() accepts "²" (then int() raises ValueError, a 500) and int()
    # accepts Arabic-Indic digits, which would make a second spelling of the same id.
    if index and not (index.isascii() and index.isdigit() and len(index) <= 6):
        raise KeyError(ref)
    return record_id, int(index or 0)


def new_marker_id() -> int:
    """Time-ordered integer ids (Rollbar's deploy_id is an int), unique within a millisecond x1000."""
    return int(time.time() * 1000) * 1000 + random.randrange(1000)


def _clip(value: Any) -> Any:
    if isinstance(value, str) and len(value) > INDEX_TEXT_LIMIT:
        return value[:INDEX_TEXT_LIMIT]
    return value


def index_entry(occurrence: Occurrence) -> dict[str, Any]:
    """The few fields listings need without reading detail; kept small, it is paid for on the GSI."""
    entry = {
        "k": occurrence.kind,
        "l": occurrence.level,
        "e": occurrence.environment,
        "g": occurrence.group_id,
        "a": _clip(occurrence.action),
        "x": _clip(occurrence.exception_class),
        "m": _clip(occurrence.default_title()) if occurrence.kind != "performance" else None,
        "p": _clip(occurrence.path),
        "d": occurrence.duration,
        "s": occurrence.status,
        "ts": round(occurrence.effective_time, 3),
        "c": occurrence.client_id,
        "pr": occurrence.protocol,
    }
    return {k: v for k, v in entry.items() if v is not None}


# The item already holds these (its key, `g1sk` and the index entry), so the compressed detail
# leaves them out: ~100 incompressible bytes, the difference between 1 and 2 write units for a
# typical report. `_restore_detail` puts them back on read.
_DETAIL_FROM_ITEM = ("project_id", "client_id", "group_id", "received_at")


def stored_detail(occurrence: Occurrence) -> dict[str, Any]:
    detail = occurrence.to_detail()
    for key in _DETAIL_FROM_ITEM:
        detail.pop(key, None)
    return detail


def _restore_detail(detail: dict[str, Any], entry: dict[str, Any], project_id: str, received_ms: int) -> None:
    detail.setdefault("project_id", project_id)
    detail.setdefault("received_at", received_ms / 1000)
    if "c" in entry:
        detail.setdefault("client_id", entry["c"])
    if "g" in entry:
        detail.setdefault("group_id", entry["g"])


def _received_ms(time_key: str) -> int:
    """The receive time from the `ByTime` sort key (milliseconds, 13 digits)."""
    return int(time_key)


# ---------------------------------------------------------------------------------------------
# results


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
    """A record as the time index returns it: no detail, just the per-occurrence index entries."""

    record_id: str
    received_ms: int
    index: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class GroupDelta:
    grouping: Grouping
    first: Occurrence
    last: Occurrence
    first_ref: str
    last_ref: str
    count: int


class Store:
    """All reads and writes of Lodge's table and bucket. One instance per process is enough."""

    def __init__(self, config: Settings | None = None, dynamodb: Any = None, s3: Any = None) -> None:
        self.config = config or settings()
        self._ddb = dynamodb
        self._s3 = s3

    @property
    def ddb(self) -> Any:
        if self._ddb is None:
            self._ddb = aws.dynamodb()
        return self._ddb

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = aws.s3()
        return self._s3

    @property
    def table(self) -> str:
        return self.config.table_name

    # ---- records (occurrences) ----------------------------------------------------------------

    def put_record(self, project_id: str, occurrences: Sequence[Occurrence], received_at: float) -> PutOutcome:
        """Store one request's occurrences as one item, unless a record with the same id exists."""
        record_id = record_id_for(occurrences)
        received_ms = int(received_at * 1000)
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
            except Exception as error:  # botocore errors and network failures alike
                if _error_code(error) != "PreconditionFailed":
                    raise StorageError("could not store occurrence detail") from error
                # Uploaded by an earlier attempt at this record: that object is the detail.
        item = {
            "pk": project_pk(project_id),
            "sk": f"REC#{record_id}",
            "g1sk": f"{received_ms:013d}",
            "ix": [index_entry(o) for o in occurrences],
            "z": codec.CURRENT if codec.CURRENT != 1 else None,
            "d": None if s3_key else blob,
            "s3": s3_key,
            "ttl": int(received_at) + self.config.retention_seconds,
        }
        try:
            self.ddb.put_item(
                TableName=self.table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except self.ddb.exceptions.ConditionalCheckFailedException:
            return PutOutcome(record_id=record_id, stored=False, s3_key=s3_key)
        except Exception as error:
            raise StorageError("could not store occurrence") from error
        return PutOutcome(record_id=record_id, stored=True, s3_key=s3_key)

    def delete_record(self, project_id: str, record_id: str) -> None:
        """Undo a put whose group update failed, so the client's retry stores and counts it again."""
        key = to_item({"pk": project_pk(project_id), "sk": f"REC#{record_id}"})
        self.ddb.delete_item(TableName=self.table, Key=key)

    def keep_record(self, project_id: str, record_id: str, s3_key: str | None) -> None:
        """Exempt a record from retention: it holds the first occurrence of a group."""
        self.ddb.update_item(
            TableName=self.table,
            Key=to_item({"pk": project_pk(project_id), "sk": f"REC#{record_id}"}),
            UpdateExpression="REMOVE #ttl",
            ExpressionAttributeNames={"#ttl": "ttl"},
        )
        if s3_key:
            self.s3.delete_object_tagging(Bucket=self.config.bucket_name, Key=s3_key)

    def get_record(self, project_id: str, record_id: str) -> StoredRecord | None:
        response = self.ddb.get_item(
            TableName=self.table,
            Key=to_item({"pk": project_pk(project_id), "sk": f"REC#{record_id}"}),
        )
        if "Item" not in response:
            return None
        item = from_item(response["Item"])
        if item.get("s3"):
            body = self.s3.get_object(Bucket=self.config.bucket_name, Key=item["s3"])["Body"].read()
        else:
            body = item["d"]
        received_ms = _received_ms(item["g1sk"])
        index = list(item.get("ix", []))
        details = codec.decode(body, int(item.get("z", 1)))
        for detail, entry in zip(details, index, strict=False):
            _restore_detail(detail, entry, project_id, received_ms)
        return StoredRecord(
            record_id=record_id,
            received_ms=received_ms,
            index=index,
            details=details,
            kept="ttl" not in item,
        )

    def get_occurrence(self, project_id: str, ref: str) -> dict[str, Any] | None:
        """The stored detail of one occurrence by its public id, or None (also for malformed ids)."""
        try:
            record_id, position = parse_ref(ref)
        except KeyError:
            return None
        record = self.get_record(project_id, record_id)
        if record is None or position >= len(record.details):
            return None
        return record.details[position]

    def iter_records(
        self,
        project_id: str,
        *,
        before_ms: int | None = None,
        since_ms: int | None = None,
        newest_first: bool = True,
        page_size: int = 100,
    ) -> Iterator[RecordSummary]:
        """Records by time received, newest first; `before_ms` exclusive, `since_ms` inclusive."""
        if since_ms is not None and before_ms is not None and since_ms >= before_ms:
            return  # nothing can match; DynamoDB rejects a BETWEEN whose bounds are reversed
        low = f"{since_ms:013d}" if since_ms is not None else "0"
        high = f"{before_ms:013d}" if before_ms is not None else "9" * 13
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": TIME_INDEX,
            "KeyConditionExpression": "pk = :pk AND g1sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": {
                ":pk": to_attr(project_pk(project_id)),
                ":low": to_attr(low),
                ":high": to_attr(high),
            },
            "ScanIndexForward": not newest_first,
            "Limit": page_size,
        }
        while True:
            response = self.ddb.query(**request)
            for raw in response.get("Items", []):
                item = from_item(raw)
                received_ms = _received_ms(item["g1sk"])
                if before_ms is not None and received_ms >= before_ms:
                    continue
                record_id = item["sk"][4:]  # GSI entries carry the table key: REC#<record id>
                yield RecordSummary(record_id=record_id, received_ms=received_ms, index=item.get("ix", []))
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # ---- groups (issues) ----------------------------------------------------------------------

    def bump_group(self, project_id: str, delta: GroupDelta, before: dict[str, Any] | None = None) -> bool:
        """Count occurrences into their group with one UpdateItem; True when it created the group.
        `before`, when given, receives the updated attributes as they were (UPDATED_OLD; alerts read
        the old count from it, lodge.alerts.hook)."""
        grouping = delta.grouping
        first, last = delta.first, delta.last
        values = {
            ":env": first.environment,
            ":fp": grouping.fingerprint,
            ":title": grouping.title,
            ":lvl": first.level,
            ":active": "active",
            ":fs": round(first.effective_time, 3),
            ":fo": delta.first_ref,
            ":algo": grouping.version,
            ":why": grouping.reason,
            ":kind": first.kind,
            ":ls": round(last.effective_time, 3),
            ":lo": delta.last_ref,
            ":llvl": last.level,
            ":n": delta.count,
        }
        optional = {
            ":exc": first.exception_class,
            ":plat": first.platform,
            ":fw": first.framework,
            ":proto": first.protocol,
        }
        names = {
            "#env": "env",
            "#fp": "fp",
            "#title": "title",
            "#lvl": "lvl",
            "#st": "st",
            "#fs": "fs",
            "#fo": "fo",
            "#algo": "algo",
            "#why": "why",
            "#kind": "k",
            "#ls": "ls",
            "#lo": "lo",
            "#llvl": "llvl",
            "#cnt": "cnt",
        }
        sets = [
            "#env = if_not_exists(#env, :env)",
            "#fp = if_not_exists(#fp, :fp)",
            "#title = if_not_exists(#title, :title)",
            "#lvl = if_not_exists(#lvl, :lvl)",
            "#st = if_not_exists(#st, :active)",
            "#fs = if_not_exists(#fs, :fs)",
            "#fo = if_not_exists(#fo, :fo)",
            "#algo = if_not_exists(#algo, :algo)",
            "#why = if_not_exists(#why, :why)",
            "#kind = if_not_exists(#kind, :kind)",
            "#ls = :ls",
            "#lo = :lo",
            "#llvl = :llvl",
        ]
        short = {":exc": "x", ":plat": "plat", ":fw": "fw", ":proto": "pr"}
        for placeholder, value in optional.items():
            if value is not None:
                attr_name = "#" + short[placeholder]
                names[attr_name] = short[placeholder]
                values[placeholder] = value
                sets.append(f"{attr_name} = if_not_exists({attr_name}, {placeholder})")
        response = self.ddb.update_item(
            TableName=self.table,
            Key=to_item({"pk": project_pk(project_id), "sk": f"GRP#{grouping.group_id}"}),
            UpdateExpression="SET " + ", ".join(sets) + " ADD #cnt :n",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={k: to_attr(v) for k, v in values.items()},
            ReturnValues="UPDATED_OLD",
        )
        old = response.get("Attributes", {})
        if before is not None:
            before.update(from_item(old))
        return "cnt" not in old

    def bump_groups(
        self, project_id: str, deltas: Sequence[GroupDelta], before: list[dict[str, Any]] | None = None
    ) -> list[str]:
        """Apply every group delta (in parallel when several); returns the ids of new groups.
        `before`, when given, receives each group's attributes before its write (see bump_group)."""
        olds: list[dict[str, Any]] = [{} for _ in deltas]
        if len(deltas) <= 1:
            created = [self.bump_group(project_id, d, o) for d, o in zip(deltas, olds, strict=True)]
        else:
            with ThreadPoolExecutor(max_workers=min(8, len(deltas))) as pool:
                created = list(pool.map(lambda d, o: self.bump_group(project_id, d, o), deltas, olds))
        if before is not None:
            before.extend(olds)
        return [d.grouping.group_id for d, new in zip(deltas, created, strict=True) if new]

    def get_group(self, project_id: str, group_id: str) -> dict[str, Any] | None:
        response = self.ddb.get_item(
            TableName=self.table, Key=to_item({"pk": project_pk(project_id), "sk": f"GRP#{group_id}"})
        )
        if "Item" not in response:
            return None
        item = from_item(response["Item"])
        item["id"] = group_id
        return item

    def list_groups(self, project_id: str) -> list[dict[str, Any]]:
        """Every group of a project (a Query over its partition); callers sort and filter."""
        groups = []
        for item in self._query_prefix(project_pk(project_id), "GRP#"):
            item["id"] = item["sk"][4:]
            groups.append(item)
        return groups

    def set_group_status(self, project_id: str, group_id: str, status: str) -> dict[str, Any] | None:
        try:
            response = self.ddb.update_item(
                TableName=self.table,
                Key=to_item({"pk": project_pk(project_id), "sk": f"GRP#{group_id}"}),
                UpdateExpression="SET #st = :st, #chg = :now",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#st": "st", "#chg": "stt"},
                ExpressionAttributeValues={":st": to_attr(status), ":now": to_attr(round(time.time(), 3))},
                ReturnValues="ALL_NEW",
            )
        except self.ddb.exceptions.ConditionalCheckFailedException:
            return None
        item = from_item(response["Attributes"])
        item["id"] = group_id
        return item

    # ---- markers (deploys, announces) ---------------------------------------------------------

    def put_marker(self, project_id: str, marker: dict[str, Any], marker_id: int | None = None) -> int:
        marker_id = marker_id if marker_id is not None else new_marker_id()
        item = {**marker, "pk": project_pk(project_id), "sk": f"MRK#{marker_id:019d}", "id": marker_id}
        item.setdefault("created", round(time.time(), 3))
        self.ddb.put_item(TableName=self.table, Item=to_item(item))
        from lodge.alerts import hook  # alerts (issue 11): a deploy alert, one SendMessage, never raises

        hook.marker_stored(project_id, marker_id, item)
        return marker_id

    def get_marker(self, project_id: str, marker_id: int) -> dict[str, Any] | None:
        response = self.ddb.get_item(
            TableName=self.table, Key=to_item({"pk": project_pk(project_id), "sk": f"MRK#{marker_id:019d}"})
        )
        return from_item(response["Item"]) if "Item" in response else None

    def update_marker(self, project_id: str, marker_id: int, changes: dict[str, Any]) -> dict[str, Any] | None:
        changes = {k: v for k, v in changes.items() if v is not None and k not in ("pk", "sk", "id")}
        if not changes:
            return self.get_marker(project_id, marker_id)
        names = {f"#a{i}": k for i, k in enumerate(changes)}
        values = {f":v{i}": to_attr(v) for i, v in enumerate(changes.values())}
        try:
            response = self.ddb.update_item(
                TableName=self.table,
                Key=to_item({"pk": project_pk(project_id), "sk": f"MRK#{marker_id:019d}"}),
                UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(changes))),
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except self.ddb.exceptions.ConditionalCheckFailedException:
            return None
        return from_item(response["Attributes"])

    def list_markers(self, project_id: str, newest_first: bool = True) -> list[dict[str, Any]]:
        markers = list(self._query_prefix(project_pk(project_id), "MRK#"))
        return markers[::-1] if newest_first else markers

    # ---- projects and tokens ------------------------------------------------------------------

    def put_project(self, project_id: str, name: str) -> None:
        self.ddb.put_item(
            TableName=self.table,
            Item=to_item({"pk": project_pk(project_id), "sk": "PROJECT", "name": name, "created": int(time.time())}),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get_project(self, project_id: str) -> dict[str, Any] | None:
        response = self.ddb.get_item(TableName=self.table, Key=to_item({"pk": project_pk(project_id), "sk": "PROJECT"}))
        if "Item" not in response:
            return None
        item = from_item(response["Item"])
        item["id"] = project_id
        return item

    def list_projects(self) -> list[dict[str, Any]]:
        """Admin only: a filtered Scan (projects are few; this never runs on an ingest path)."""
        projects = []
        request: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": "sk = :sk",
            "ExpressionAttributeValues": {":sk": to_attr("PROJECT")},
        }
        while True:
            response = self.ddb.scan(**request)
            for raw in response.get("Items", []):
                item = from_item(raw)
                item["id"] = item["pk"][4:]
                projects.append(item)
            if "LastEvaluatedKey" not in response:
                return sorted(projects, key=lambda p: p.get("created", 0))
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def put_token(self, token_hash: str, record: dict[str, Any]) -> None:
        """Store a token under its hash, plus a reference in its project's partition for listing."""
        project_id = record["project"]
        self.ddb.put_item(TableName=self.table, Item=to_item({**record, "pk": f"TOK#{token_hash}", "sk": "TOKEN"}))
        ref = {k: v for k, v in record.items() if k != "secret"}
        self.ddb.put_item(
            TableName=self.table,
            Item=to_item({**ref, "pk": project_pk(project_id), "sk": f"TOKREF#{token_hash}"}),
        )

    def get_token(self, token_hash: str) -> dict[str, Any] | None:
        response = self.ddb.get_item(TableName=self.table, Key=to_item({"pk": f"TOK#{token_hash}", "sk": "TOKEN"}))
        return from_item(response["Item"]) if "Item" in response else None

    def delete_token(self, project_id: str, token_hash: str) -> None:
        self.ddb.delete_item(TableName=self.table, Key=to_item({"pk": f"TOK#{token_hash}", "sk": "TOKEN"}))
        self.ddb.delete_item(
            TableName=self.table, Key=to_item({"pk": project_pk(project_id), "sk": f"TOKREF#{token_hash}"})
        )

    def list_tokens(self, project_id: str) -> list[dict[str, Any]]:
        tokens = []
        for item in self._query_prefix(project_pk(project_id), "TOKREF#"):
            item["hash"] = item["sk"][7:]
            tokens.append(item)
        return tokens

    # ---- rate limits ---------------------------------------------------------------------------

    def hit_rate_limit(self, token_hash: str, limit: int, window_seconds: int = 60) -> tuple[bool, int, int]:
        """Count one request in a fixed window; returns (allowed, remaining, window reset epoch)."""
        now = int(time.time())
        start = now - now % window_seconds
        reset = start + window_seconds
        try:
            response = self.ddb.update_item(
                TableName=self.table,
                Key=to_item({"pk": f"RL#{token_hash}", "sk": str(start)}),
                UpdateExpression="ADD #c :one SET #ttl = :ttl",
                ConditionExpression="attribute_not_exists(#c) OR #c < :limit",
                ExpressionAttributeNames={"#c": "c", "#ttl": "ttl"},
                ExpressionAttributeValues={":one": to_attr(1), ":limit": to_attr(limit), ":ttl": to_attr(reset + 60)},
                ReturnValues="UPDATED_NEW",
            )
        except self.ddb.exceptions.ConditionalCheckFailedException:
            return False, 0, reset
        used = int(response["Attributes"]["c"]["N"])
        return True, max(0, limit - used), reset

    # ---- helpers -------------------------------------------------------------------------------

    def _query_prefix(self, pk: str, prefix: str) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": to_attr(pk), ":prefix": to_attr(prefix)},
        }
        while True:
            response = self.ddb.query(**request)
            for raw in response.get("Items", []):
                yield from_item(raw)
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
