"""Local data that survives a restart: snapshots of the emulated table and bucket under `.lodge/data/`.

moto keeps everything in memory and has no persistence of its own, so the runner serves moto through
a WSGI wrapper that notes which service a request changed (DynamoDB write operations, S3 PUT/POST/
DELETE). A background thread snapshots whatever changed every `interval` seconds (2 by default) and
once more on shutdown: the table as DynamoDB JSON from a Scan, the bucket as objects with their
content type, metadata and tags. Each file is written to a temporary name, fsynced and renamed, so a
kill -9 leaves the previous complete snapshot and loses at most the last interval's changes. On start
the runner restores the snapshot into the freshly provisioned table and bucket.

The table is read from moto's in-process backend (a Scan through moto's HTTP layer is ~30x slower);
the bucket, and every restore, go through the AWS API, so a template change is fine (items are put
back into the table the template defines now). The cost is measured in docs/deploy.md ("Local data").
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

SNAPSHOT_VERSION = 1
TABLE_FILE = "table.json"
BUCKET_FILE = "bucket.json"
LOCK_FILE = "lock"
DYNAMODB_READS = frozenset(
    {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "DescribeTable", "ListTables"}
    | {"DescribeTimeToLive", "DescribeContinuousBackups", "ListTagsOfResource", "DescribeLimits"}
    | {"DescribeStream", "GetShardIterator", "GetRecords", "ListStreams"}
)
"""DynamoDB operations that change nothing; every other one marks the table dirty."""


class DataDirBusy(Exception):
    """Another runner holds the data directory's lock."""


# ---- change tracking ------------------------------------------------------------------------------


class ChangeTracker:
    """WSGI middleware in front of moto: remembers whether the table or the bucket may have changed."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._dirty: set[str] = set()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        service = changed_service(environ.get("REQUEST_METHOD", "GET"), environ.get("HTTP_X_AMZ_TARGET", ""))
        result = self.app(environ, start_response)
        if service:  # marked after the change is applied, so a snapshot taken later sees it
            self.mark(service)
        return result

    def mark(self, service: str) -> None:
        with self._lock:
            self._dirty.add(service)

    def take(self) -> set[str]:
        """The services changed since the last call (and forget them)."""
        with self._lock:
            dirty, self._dirty = self._dirty, set()
        return dirty


def changed_service(method: str, target: str) -> str | None:
    """ "dynamodb" or "s3" when a request to moto may change data; None for reads."""
    if target.startswith("DynamoDB"):
        return None if target.rpartition(".")[2] in DYNAMODB_READS else "dynamodb"
    if target:
        return None  # another JSON-protocol service (streams, STS ...): not snapshotted
    return "s3" if method.upper() in ("PUT", "POST", "DELETE") else None


def start_tracked_moto() -> tuple[Any, str, ChangeTracker]:
    """moto's server on a free loopback port, behind a ChangeTracker; (server, endpoint, tracker)."""
    import logging

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log drowns everything
    tracker = ChangeTracker(DomainDispatcherApplication(create_backend_app))

    class TrackedMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            self._server = make_server(self._ip_address, self._port, tracker, True)
            self._server_ready_event.set()
            self._server.serve_forever()

    server = TrackedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}", tracker


def in_process_reader(table: str, region: str) -> Callable[[], list[dict[str, Any]]]:
    """Read moto's table straight from its in-process backend: a Scan through moto's HTTP layer
    takes ~2 s per 1,000 items (its response serialization), this ~60 ms. The backend is moto's
    internal API: if it is not what this expects, Snapshots falls back to a Scan."""

    def read() -> list[dict[str, Any]]:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][region]
        for _ in range(20):  # the server's threads may add an item while we copy: copy again
            try:
                return [item.to_json()["Attributes"] for item in backend.tables[table].all_items()]
            except RuntimeError:
                time.sleep(0.01)
        raise RuntimeError("the table kept changing while it was copied")

    return read


# ---- DynamoDB JSON <-> file -----------------------------------------------------------------------


def encode_value(value: dict[str, Any]) -> dict[str, Any]:
    """A low-level AttributeValue with binary parts as base64 text (JSON cannot hold bytes)."""
    (kind, inner), *_ = value.items()
    if kind == "B":
        return {"B": base64.b64encode(inner).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(b).decode() for b in inner]}
    if kind == "M":
        return {"M": {k: encode_value(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [encode_value(v) for v in inner]}
    return {kind: inner}


def decode_value(value: dict[str, Any]) -> dict[str, Any]:
    (kind, inner), *_ = value.items()
    if kind == "B":
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(b) for b in inner]}
    if kind == "M":
        return {"M": {k: decode_value(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [decode_value(v) for v in inner]}
    return {kind: inner}


def write_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write, fsync, rename: a crash leaves either the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, separators=(",", ":"))
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    with contextlib.suppress(OSError):  # make the rename itself durable
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    if data.get("version") != SNAPSHOT_VERSION:
        raise ValueError(f"{path}: unknown snapshot version {data.get('version')!r}")
    return data


# ---- snapshots ------------------------------------------------------------------------------------


class Snapshots:
    """Snapshot and restore one table and one bucket to and from `directory`."""

    def __init__(
        self,
        directory: Path,
        dynamodb: Any,
        s3: Any,
        table: str,
        bucket: str,
        read_items: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.directory = directory
        self.dynamodb = dynamodb
        self.s3 = s3
        self.table = table
        self.bucket = bucket
        self.read_items = read_items
        """All items as low-level AttributeValues, read in-process from the emulation (else a Scan)."""
        self._bodies: dict[tuple[str, str], str] = {}
        """(key, ETag) -> base64 body: unchanged objects are not downloaded again."""
        self._write_lock = threading.Lock()

    # snapshot

    def save(self, services: Iterable[str] = ("dynamodb", "s3")) -> dict[str, float]:
        """Snapshot the given services; returns seconds taken per file written."""
        took: dict[str, float] = {}
        with self._write_lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            if "dynamodb" in services:
                started = time.monotonic()
                write_atomically(self.directory / TABLE_FILE, self._table_snapshot())
                took[TABLE_FILE] = time.monotonic() - started
            if "s3" in services:
                started = time.monotonic()
                write_atomically(self.directory / BUCKET_FILE, self._bucket_snapshot())
                took[BUCKET_FILE] = time.monotonic() - started
        return took

    def _table_snapshot(self) -> dict[str, Any]:
        items = [{k: encode_value(v) for k, v in item.items()} for item in self._all_items()]
        return {"version": SNAPSHOT_VERSION, "taken": time.time(), "table": self.table, "items": items}

    def _all_items(self) -> list[dict[str, Any]]:
        if self.read_items is not None:
            try:
                return self.read_items()
            except (ImportError, KeyError, AttributeError, TypeError):
                self.read_items = None  # moto's internals changed: the API is slower but always right
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {"TableName": self.table}
        while True:
            page = self.dynamodb.scan(**request)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _bucket_snapshot(self) -> dict[str, Any]:
        objects: list[dict[str, Any]] = []
        bodies: dict[tuple[str, str], str] = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for listed in page.get("Contents", []):
                key, etag = listed["Key"], listed.get("ETag", "")
                head = self.s3.head_object(Bucket=self.bucket, Key=key)
                body = self._bodies.get((key, etag))
                if body is None:
                    raw = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
                    body = base64.b64encode(raw).decode()
                bodies[(key, etag)] = body
                tags = self.s3.get_object_tagging(Bucket=self.bucket, Key=key).get("TagSet", [])
                objects.append(
                    {
                        "key": key,
                        "body": body,
                        "content_type": head.get("ContentType", ""),
                        "content_encoding": head.get("ContentEncoding", ""),
                        "metadata": head.get("Metadata", {}),
                        "tags": {t["Key"]: t["Value"] for t in tags},
                    }
                )
        self._bodies = bodies
        return {"version": SNAPSHOT_VERSION, "taken": time.time(), "bucket": self.bucket, "objects": objects}

    # restore

    def restore(self) -> tuple[int, int]:
        """Put the snapshot back into the (provisioned, empty) table and bucket; (items, objects)."""
        table = _read(self.directory / TABLE_FILE)
        bucket = _read(self.directory / BUCKET_FILE)
        from lodge.storage.issues import upgraded_items  # snapshots from before the issue listing index

        items = [{k: decode_value(v) for k, v in item.items()} for item in (table or {}).get("items", [])]
        implied = {_key(extra): extra for item in items for extra in upgraded_items(item)[1:]}
        items = [upgraded_items(item)[0] for item in items]
        present = {_key(item) for item in items}
        items += [extra for key, extra in implied.items() if key not in present]
        for start in range(0, len(items), 25):
            pending: dict[str, Any] = {self.table: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]}
            while pending:
                pending = self.dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        objects = (bucket or {}).get("objects", [])
        for obj in objects:
            extra: dict[str, Any] = {"Metadata": obj.get("metadata") or {}}
            if obj.get("content_type"):
                extra["ContentType"] = obj["content_type"]
            if obj.get("content_encoding"):
                extra["ContentEncoding"] = obj["content_encoding"]
            if obj.get("tags"):
                extra["Tagging"] = urlencode(obj["tags"])
            self.s3.put_object(Bucket=self.bucket, Key=obj["key"], Body=base64.b64decode(obj["body"]), **extra)
        return len(items), len(objects)


def _key(item: dict[str, Any]) -> tuple[str, str]:
    return str(item.get("pk", {}).get("S")), str(item.get("sk", {}).get("S"))


class Autosave:
    """Snapshot what changed every `interval` seconds in a daemon thread; `stop()` saves one last time."""

    def __init__(self, snapshots: Snapshots, tracker: ChangeTracker, interval: float = 2.0) -> None:
        self.snapshots = snapshots
        self.tracker = tracker
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lodge-autosave", daemon=True)
        self.failures = 0

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def flush(self) -> None:
        dirty = self.tracker.take()
        if not dirty:
            return
        try:
            self.snapshots.save(dirty)
        except Exception as error:  # keep serving; retry on the next tick
            for service in dirty:
                self.tracker.mark(service)
            self.failures += 1
            if self.failures in (1, 10, 100):
                import sys

                print(f"lodge: could not save local data ({type(error).__name__}: {error})", file=sys.stderr)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        self.flush()


def lock_data_dir(directory: Path) -> Any:
    """An exclusive lock on `directory` for this process (released when it exits, even on kill -9)."""
    directory.mkdir(parents=True, exist_ok=True)
    handle = open(directory / LOCK_FILE, "a+", encoding="utf-8")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise DataDirBusy(holder) from error
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def clear(directory: Path) -> None:
    """Forget the local data (`--fresh`)."""
    for name in (TABLE_FILE, BUCKET_FILE):
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()
