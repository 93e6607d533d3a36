"""The local twin of the digest's event source mapping: poll the emulated table's stream and
invoke the digest with the event shape Lambda sends (`{"Records": [...]}`, filtered to new records).

The runner polls in a background thread; tests call `drain()` to digest everything written so far,
synchronously. Like Lambda, a failed batch is bisected and retried, and a batch that still fails
alone is set aside (`failed`, which `redrive` replays) and, in the runner, its stream position is
sent to the template's DigestDeadLetterQueue in the message shape of Lambda's on-failure destination.
"""

from __future__ import annotations

import base64
import datetime
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from lodge.storage.records import RECORD_FILTER

BATCH_SIZE = 1000
Invoke = Callable[[dict[str, Any]], Any]


def streams_client(dynamodb: Any, endpoint_url: str | None = None) -> Any:
    """A dynamodbstreams client beside `dynamodb`. Explicit endpoint: botocore's account-based
    streams host is one an emulator does not answer."""
    import boto3

    region = dynamodb.meta.region_name
    endpoint = endpoint_url or f"https://streams.dynamodb.{region}.amazonaws.com"
    credentials = dynamodb._request_signer._credentials  # the same (dummy) credentials
    return boto3.client(
        "dynamodbstreams",
        region_name=region,
        endpoint_url=endpoint,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
    )


def _matches(record: dict[str, Any]) -> bool:
    if record.get("eventName") not in RECORD_FILTER["eventName"]:
        return False
    prefix = RECORD_FILTER["dynamodb"]["Keys"]["sk"]["S"][0]["prefix"]
    sk = record.get("dynamodb", {}).get("Keys", {}).get("sk", {}).get("S", "")
    return isinstance(sk, str) and sk.startswith(prefix)


def _lambda_json(value: Any) -> Any:
    """What Lambda puts in the event: JSON (binaries base64, times as epoch seconds)."""
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, datetime.datetime):
        return int(value.timestamp())
    if isinstance(value, dict):
        return {k: _lambda_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lambda_json(v) for v in value]
    return value


def failure_message(records: list[dict[str, Any]], error: str) -> dict[str, Any]:
    """What Lambda's on-failure destination receives for a stream batch: where it is in the
    stream, not the records themselves (they stay in the stream for 24 hours)."""
    first, last = records[0].get("dynamodb", {}), records[-1].get("dynamodb", {})

    def arrival(change: dict[str, Any]) -> str | None:
        created = change.get("ApproximateCreationDateTime")
        return created.isoformat() if isinstance(created, datetime.datetime) else None

    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:digest",
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 1,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
        "DDBStreamBatchInfo": {
            "shardId": records[0].get("shardId", ""),
            "startSequenceNumber": first.get("SequenceNumber"),
            "endSequenceNumber": last.get("SequenceNumber"),
            "approximateArrivalOfFirstRecord": arrival(first),
            "approximateArrivalOfLastRecord": arrival(last),
            "batchSize": len(records),
            "streamArn": records[0].get("eventSourceARN", ""),
        },
        "error": error[:1000],  # local only: Lambda's message has no error text (the logs do)
    }


class StreamPoller:
    def __init__(
        self,
        dynamodb: Any,
        table: str,
        invoke: Invoke,
        endpoint_url: str | None = None,
        on_failure: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.dynamodb = dynamodb
        self.on_failure = on_failure
        """Where a batch that failed alone goes (the runner: the template's DigestDeadLetterQueue)."""
        self.table = table
        self.invoke = invoke
        self.endpoint_url = endpoint_url
        self._client: Any = None
        self._iterators: dict[str, str | None] = {}
        self._lock = threading.Lock()
        self.failed: list[dict[str, Any]] = []
        """Batches that failed even alone (the local dead-letter queue)."""
        self.results: list[Any] = []
        """What each successful invocation returned, in order."""
        self.lags: list[float] = []
        """Seconds from a record's stream time to the end of its digest (digest lag)."""

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = streams_client(self.dynamodb, self.endpoint_url)
        return self._client

    def _stream_arn(self) -> str:
        return str(self.dynamodb.describe_table(TableName=self.table)["Table"]["LatestStreamArn"])

    def _read(self) -> list[dict[str, Any]]:
        arn = self._stream_arn()
        found: list[dict[str, Any]] = []
        for shard in self.client.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            if shard_id not in self._iterators:
                self._iterators[shard_id] = self.client.get_shard_iterator(
                    StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            iterator = self._iterators[shard_id]
            while iterator and len(found) < BATCH_SIZE:
                response = self.client.get_records(ShardIterator=iterator, Limit=BATCH_SIZE - len(found))
                records = response.get("Records", [])
                found += [{**r, "eventSourceARN": arn, "shardId": shard_id} for r in records]
                iterator = response.get("NextShardIterator")
                self._iterators[shard_id] = iterator
                if not records:
                    break
        return found

    def next_event(self) -> dict[str, Any]:
        """The event of the next batch of new records, read but not delivered (the bench meters
        the digest's own calls by invoking it with this)."""
        with self._lock:
            records = [r for r in self._read() if _matches(r)]
        return {"Records": [_lambda_json({k: v for k, v in r.items() if k != "shardId"}) for r in records]}

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        """Invoke the digest; on failure bisect and retry each half, as BisectBatchOnFunctionError."""
        if not records:
            return
        event = {"Records": [_lambda_json({k: v for k, v in r.items() if k != "shardId"}) for r in records]}
        try:
            result = self.invoke(event)
        except Exception as error:
            if len(records) == 1:
                self.failed.append({"error": repr(error), "id": str(uuid.uuid4()), "event": event})
                if self.on_failure is not None:
                    self.on_failure(failure_message(records, repr(error)))
                return
            middle = len(records) // 2
            self._deliver(records[:middle])
            self._deliver(records[middle:])
            return
        self.results.append(result)
        now = time.time()
        for record in records:
            created = record.get("dynamodb", {}).get("ApproximateCreationDateTime")
            if isinstance(created, datetime.datetime):
                self.lags.append(max(0.0, now - created.timestamp()))

    def drain(self) -> int:
        """Digest every new record written so far; returns how many stream records were read."""
        total = 0
        with self._lock:
            while True:
                records = self._read()
                total += len(records)
                self._deliver([r for r in records if _matches(r)])
                if not records:
                    return total

    def skip(self) -> int:
        """Move past every stream record written so far without digesting it (the runner, after it
        restored a snapshot: those records, their counts and listing pages are restored as they were)."""
        total = 0
        with self._lock:
            while True:
                records = self._read()
                total += len(records)
                if not records:
                    return total

    def redrive(self) -> int:
        """Invoke the digest again with every failed batch (after the fault is fixed); returns how
        many now succeeded. Those failing again stay in `failed`."""
        failed, self.failed = self.failed, []
        redriven = 0
        for entry in failed:
            try:
                self.results.append(self.invoke(entry["event"]))
                redriven += 1
            except Exception as error:
                self.failed.append({**entry, "error": repr(error)})
        return redriven

    def new_issue_ids(self) -> list[str]:
        """Issues created by the digest so far (drains first), and forget them."""
        self.drain()
        found = [i for r in self.results if isinstance(r, dict) for i in r.get("new_issue_ids", [])]
        self.results.clear()
        return found

    def run(self, stop: threading.Event, interval: float = 0.5) -> None:
        """Poll until `stop` is set (the runner's background thread)."""
        while not stop.wait(interval):
            try:
                self.drain()
            except Exception as error:
                print(f"digest poller: {error!r}", flush=True)


def in_process_invoke() -> Invoke:
    """Call the digest handler in this process (tests, the invoke twin)."""
    from lodge_devtools.handlers import load_function

    handler = load_function("digest").lambda_handler

    class _Context:
        function_name = "digest"
        memory_limit_in_mb = 256
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:digest"
        aws_request_id = "local"

    def invoke(event: dict[str, Any]) -> Any:
        return handler(event, _Context())

    return invoke


class RunnerDigest:
    """The runner's event source mapping: a poller thread invoking the digest's worker pool."""

    def __init__(self, target: Any, pool: Any, skip_backlog: bool = False, dead_letter_url: str | None = None) -> None:
        def invoke(event: dict[str, Any]) -> Any:
            return pool.invoke(event, str(uuid.uuid4()))

        def to_dead_letter_queue(message: dict[str, Any]) -> None:
            target.client("sqs").send_message(QueueUrl=dead_letter_url, MessageBody=json.dumps(message))

        self.poller = StreamPoller(
            target.client("dynamodb"),
            target.table,
            invoke,
            target.endpoint_url,
            on_failure=to_dead_letter_queue if dead_letter_url else None,
        )
        if skip_backlog:
            self.poller.skip()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.poller.run, args=(self._stop,), daemon=True, name="digest-esm")
        self._thread.start()

    def drain(self) -> None:
        self.poller.drain()

    def stop(self) -> None:
        """Stop polling, after a last drain: the runner's final snapshot then holds no undigested record."""
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            self.poller.drain()
        except Exception as error:  # the emulator may already be going away
            print(f"digest poller: last drain failed: {error!r}", flush=True)


def start_for_runner(
    target: Any, pools: Any, skip_backlog: bool = False, dead_letter_url: str | None = None
) -> RunnerDigest | None:
    """Start polling when the template has the digest and the target is an emulation we own;
    `skip_backlog`: the stream so far holds a restored snapshot's writes, digested before it was saved.
    Batches that fail alone go to `dead_letter_url` (the emulated DigestDeadLetterQueue)."""
    pool = pools.get("DigestFunction")
    if pool is None or not target.emulated:
        return None  # real AWS runs its own event source mapping
    return RunnerDigest(target, pool, skip_backlog, dead_letter_url)
