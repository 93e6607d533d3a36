"""`lodge digest status` and `lodge digest dlq list|redrive` (README "Operate").

The digest's dead-letter queue holds what Lambda's on-failure destination sends for a stream batch
that failed every retry: not the records, but where they are (`DDBStreamBatchInfo`: stream ARN,
shard, first and last sequence number; the records stay in the stream for 24 hours). `redrive`
re-reads that range (GetShardIterator AT_SEQUENCE_NUMBER, GetRecords), builds the event Lambda would
send and runs the digest on it *in this process* with the caller's credentials — the same code as
the function, idempotent by its stream marks, so a range that was partly counted counts only the
rest — then deletes the message. In-process rather than lambda:Invoke: it works the same against
the local runner and a stack, and a batch that still fails shows its traceback here. Alerts the
redriven counts make are handed to the target's alert queue.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lodge.storage import Store
    from lodge_devtools.target import Target

OUTPUTS = {
    "DigestDeadLetterQueue": "DigestDeadLetterQueueUrl",
    "AlertQueue": "AlertQueueUrl",
    "DigestFunction": "DigestFunctionName",
}


def digest_refs(args: argparse.Namespace, target: Target) -> dict[str, str]:
    """Logical id -> queue URL (and the digest function's name on a stack) for this target."""
    from lodge_devtools.target import resource_refs

    queues = ("DigestDeadLetterQueue", "AlertQueue")
    return resource_refs(args, target, OUTPUTS, queues, required=("DigestDeadLetterQueue",))


def _target(args: argparse.Namespace) -> Target:
    from lodge_devtools.cli import resolve_target

    return resolve_target(args)


def _peek(sqs: Any, url: str) -> list[dict[str, Any]]:
    """The messages, received without hiding them (visibility timeout 0): a redrive right after
    finds them all."""
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(10):
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            seen.setdefault(message["MessageId"], message)
    return list(seen.values())


def failed_batch(message: dict[str, Any]) -> dict[str, Any]:
    """What one dead-lettered message says about its batch (missing fields as None)."""
    try:
        body = json.loads(message["Body"])
    except ValueError:
        body = {}
    info = body.get("DDBStreamBatchInfo") or {}
    response = body.get("responseContext") or {}
    return {
        "message_id": message["MessageId"],
        "stream_arn": info.get("streamArn"),
        "shard": info.get("shardId"),
        "start": info.get("startSequenceNumber"),
        "end": info.get("endSequenceNumber"),
        "records": info.get("batchSize"),
        "time": body.get("timestamp") or info.get("approximateArrivalOfLastRecord"),
        "condition": (body.get("requestContext") or {}).get("condition"),
        "error": body.get("error") or response.get("functionError"),
    }


def dlq_list(store: Store, args: argparse.Namespace) -> int:
    target = _target(args)
    sqs = target.client("sqs")
    rows = [failed_batch(m) for m in _peek(sqs, digest_refs(args, target)["DigestDeadLetterQueue"])]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("The digest dead-letter queue is empty.")
    for row in rows:
        print(
            f"{row['message_id']}  {row['time']}  shard {row['shard']}  sequence {row['start']}..{row['end']} "
            f"({row['records']} record(s), {row['condition']})  {row['error']}"
        )
    return 0


def stream_records(streams: Any, batch: dict[str, Any]) -> list[dict[str, Any]]:
    """The stream records of a failed batch, from its first to its last sequence number."""
    iterator = streams.get_shard_iterator(
        StreamArn=batch["stream_arn"],
        ShardId=batch["shard"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=batch["start"],
    )["ShardIterator"]
    end = int(batch["end"])
    found: list[dict[str, Any]] = []
    while iterator:
        response = streams.get_records(ShardIterator=iterator, Limit=1000)
        records = response.get("Records", [])
        for record in records:
            if int(record["dynamodb"]["SequenceNumber"]) > end:
                return found
            found.append({**record, "eventSourceARN": batch["stream_arn"]})
        if not records:
            return found
        iterator = response.get("NextShardIterator")
    return found


@contextlib.contextmanager
def _alerts_to(target: Target, queue_url: str | None) -> Iterator[None]:
    """Alerts the redriven counts decide go to the target's alert queue (lodge.alerts.handoff
    reads its queue from the environment and sends with lodge.aws's client)."""
    from lodge import aws
    from lodge.alerts.handoff import QUEUE_ENV

    saved = {k: os.environ.get(k) for k in (QUEUE_ENV, *target.aws_env())}
    os.environ.update(target.aws_env())
    if queue_url:
        os.environ[QUEUE_ENV] = queue_url
    else:
        os.environ.pop(QUEUE_ENV, None)
    aws.reset()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        aws.reset()


def dlq_redrive(store: Store, args: argparse.Namespace) -> int:
    from lodge.digest import digest, new_records
    from lodge_devtools.cli import CliError
    from lodge_devtools.streams import _lambda_json, _matches, streams_client

    target = _target(args)
    refs = digest_refs(args, target)
    sqs = target.client("sqs")
    url = refs["DigestDeadLetterQueue"]
    streams = streams_client(target.client("dynamodb"), target.endpoint_url)
    redriven = records = 0
    failures: list[str] = []
    kept: list[str] = []  # receipt handles of messages left in the queue
    seen: set[str] = set()
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen.add(message["MessageId"])
            batch = failed_batch(message)
            if not (batch["stream_arn"] and batch["shard"] and batch["start"] and batch["end"]):
                failures.append(f"{batch['message_id']}: not a stream batch's failure message; left in the queue")
                kept.append(message["ReceiptHandle"])
                continue
            found = [r for r in stream_records(streams, batch) if _matches(r)]
            try:
                with _alerts_to(target, refs.get("AlertQueue")):
                    digest(store, new_records({"Records": [_lambda_json(r) for r in found]}))
            except Exception as error:
                failures.append(f"{batch['message_id']}: the digest failed again: {error!r}; left in the queue")
                kept.append(message["ReceiptHandle"])
                continue
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            redriven += 1
            records += len(found)
    for handle in kept:  # visible again at once, for the next list or redrive
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    print(f"Redrove {redriven} failed batch(es), {records} stream record(s), through the digest.")
    for failure in failures:
        print(f"  {failure}")
    if failures:
        raise CliError(f"{len(failures)} batch(es) still fail", code=1)
    return 0


def status(store: Store, args: argparse.Namespace) -> int:
    """The digest's backlog: dead-lettered batches and, on a stack, the iterator age (CloudWatch)."""
    import datetime

    target = _target(args)
    refs = digest_refs(args, target)
    attributes = target.client("sqs").get_queue_attributes(
        QueueUrl=refs["DigestDeadLetterQueue"],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    depth = int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
        attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
    )
    age: float | None = None
    if refs.get("DigestFunction"):
        now = datetime.datetime.now(datetime.UTC)
        points = (
            target.client("cloudwatch")
            .get_metric_statistics(
                Namespace="AWS/Lambda",
                MetricName="IteratorAge",
                Dimensions=[{"Name": "FunctionName", "Value": refs["DigestFunction"]}],
                StartTime=now - datetime.timedelta(minutes=10),
                EndTime=now,
                Period=60,
                Statistics=["Maximum"],
            )
            .get("Datapoints", [])
        )
        if points:
            age = max(p["Maximum"] for p in points) / 1000
    figures = {"dead_lettered_batches": depth, "iterator_age_seconds": age}
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"Dead-lettered digest batches: {depth}" + ("  (lodge digest dlq list)" if depth else ""))
    if age is not None:
        print(f"Iterator age (max, last 10 minutes): {age:.1f} s")
    else:
        print(
            "Iterator age: not reported here (a stack reports it to CloudWatch; the local runner digests every 0.5 s)"
        )
    return 0


def register(groups: Any, common: argparse.ArgumentParser) -> None:
    """Add `digest ...` to the `lodge` parser's subcommand group."""
    digest = groups.add_parser("digest", help="the digest's backlog and dead-letter queue").add_subparsers(
        dest="command", required=True
    )
    digest.add_parser("status", parents=[common], help="dead-lettered batches and iterator age").set_defaults(
        run=status
    )
    dlq = digest.add_parser("dlq", help="digest batches that failed every retry").add_subparsers(
        dest="dlq", required=True
    )
    dlq.add_parser("list", parents=[common], help="list failed batches (stream positions, error)").set_defaults(
        run=dlq_list
    )
    dlq.add_parser("redrive", parents=[common], help="re-read and digest them, then drop them").set_defaults(
        run=dlq_redrive
    )
