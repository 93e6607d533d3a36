"""Local twin of Lambda's SQS event source mapping (and of the alert queue, DLQ and topic).

The runner creates template.yaml's SQS queues (with their RedrivePolicy) and SNS topics in the
emulation, points each function's `!Ref` environment values at them, and polls every queue that
an `SQS` event of a function reads, invoking the function with the event shape AWS sends
(`Records[].messageId/receiptHandle/body/attributes/eventSourceARN`). Like the real mapping it
deletes the records the function did not report in `batchItemFailures` and leaves the others to
their visibility timeout; moto applies maxReceiveCount and moves them to the dead-letter queue.
Tests drive the same code synchronously with `drain`.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lodge_devtools import template as tpl

if TYPE_CHECKING:
    from lodge_devtools.sam_app import App
    from lodge_devtools.target import Target

Invoke = Callable[[dict[str, Any]], Any]
PASS_THROUGH_PREFIX = "LODGE_ALERT_"  # noqa: S105 - an env prefix
"""Dev/test knobs (retry delays, window length) passed from the runner's environment to functions."""


def queue_names(table: str) -> dict[str, str]:
    """Local names of the template's queues and topics, by logical id (one set per table)."""
    template = tpl.load()
    names = {name: f"{table}-{name}" for name in tpl.resources(template, "AWS::SQS::Queue")}
    names.update({name: f"{table}-{name}" for name in tpl.resources(template, "AWS::SNS::Topic")})
    return names


def provision(sqs: Any, sns: Any, table: str) -> dict[str, str]:
    """Create the queues (dead-letter targets first) and topics; returns logical id -> URL or ARN."""
    template = tpl.load()
    queues = tpl.resources(template, "AWS::SQS::Queue")
    names = queue_names(table)
    refs: dict[str, str] = {}
    arns: dict[str, str] = {}
    ordered = sorted(queues, key=lambda n: "RedrivePolicy" in (queues[n].get("Properties") or {}))
    for name in ordered:
        props = queues[name].get("Properties") or {}
        attributes = {"VisibilityTimeout": str(props.get("VisibilityTimeout", 30))}
        redrive = props.get("RedrivePolicy")
        if redrive:
            target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": arns[target], "maxReceiveCount": str(redrive["maxReceiveCount"])}
            )
        url = sqs.create_queue(QueueName=names[name], Attributes=attributes)["QueueUrl"]
        refs[name] = url
        arns[name] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for name in tpl.resources(template, "AWS::SNS::Topic"):
        refs[name] = sns.create_topic(Name=names[name])["TopicArn"]
    return refs


def bind(app: App, refs: dict[str, str]) -> None:
    """Resolve functions' `!Ref Queue/Topic` environment values (load_app left the logical ids)."""
    knobs = {k: v for k, v in os.environ.items() if k.startswith(PASS_THROUGH_PREFIX)}
    for spec in app.functions.values():
        for key, value in list(spec.environment.items()):
            if value in refs:
                spec.environment[key] = refs[value]
        spec.environment.update(knobs)


def event_sources(app: App) -> list[tuple[str, str, int]]:
    """(function logical id, queue logical id, batch size) for each SQS event in the template."""
    template = tpl.load(app.root / "template.yaml")
    found = []
    for name, resource in tpl.resources(template, "AWS::Serverless::Function").items():
        for event in ((resource.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") == "SQS":
                props = event.get("Properties") or {}
                found.append((name, props["Queue"]["Fn::GetAtt"][0], int(props.get("BatchSize", 10))))
    return found


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event source sends for received messages."""
    records = []
    for message in messages:
        attributes = message.get("Attributes", {})
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                    "SentTimestamp": attributes.get("SentTimestamp", "0"),
                    "SenderId": attributes.get("SenderId", "local"),
                    "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp", "0"),
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}


def poll_once(
    sqs: Any, queue_url: str, queue_arn: str, invoke: Invoke, batch: int, wait: int = 0, region: str = "us-east-1"
) -> int:
    """Receive one batch, invoke, delete what succeeded; returns how many messages were received."""
    response = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=batch, WaitTimeSeconds=wait, AttributeNames=["All"]
    )
    messages = response.get("Messages", [])
    if not messages:
        return 0
    try:
        result = invoke(sqs_event(messages, queue_arn, region))
    except Exception:
        return len(messages)  # a failed invocation: every record returns after its visibility timeout
    failed = (
        {f.get("itemIdentifier") for f in (result or {}).get("batchItemFailures", [])}
        if isinstance(result, dict)
        else set()
    )
    done = [m for m in messages if m["MessageId"] not in failed]
    for start in range(0, len(done), 10):
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])
            ],
        )
    return len(messages)


def queue_arn(sqs: Any, queue_url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def drain(
    sqs: Any, queue_url: str, invoke: Invoke, batch: int = 5, idle_rounds: int = 2, max_rounds: int = 10_000
) -> int:
    """Synchronously poll until the queue stays empty for `idle_rounds` receives; returns messages handled."""
    arn = queue_arn(sqs, queue_url)
    handled = idle = 0
    for _ in range(max_rounds):
        got = poll_once(sqs, queue_url, arn, invoke, batch)
        handled += got
        idle = 0 if got else idle + 1
        if idle >= idle_rounds:
            break
    return handled


@dataclass
class Emulation:
    """The runner's queues: refs for the state file, and one poller thread per SQS event source."""

    target: Target
    refs: dict[str, str]
    sources: list[tuple[str, str, int]]
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        return {"queues": self.refs}

    def start(self, invokers: dict[str, Invoke]) -> None:
        for function, queue, batch in self.sources:
            invoke = invokers[function]
            thread = threading.Thread(target=self._loop, args=(queue, invoke, batch), daemon=True, name=f"sqs-{queue}")
            thread.start()
            self.threads.append(thread)

    def _loop(self, queue: str, invoke: Invoke, batch: int) -> None:
        sqs = self.target.client("sqs")
        url = self.refs[queue]
        arn = queue_arn(sqs, url)
        while not self.stopping.is_set():
            try:
                if not poll_once(sqs, url, arn, invoke, batch, wait=1, region=self.target.region):
                    self.stopping.wait(0.2)
            except Exception:
                self.stopping.wait(1.0)  # the emulator is going away, or a transient error

    def stop(self) -> None:
        self.stopping.set()


def setup(target: Target, app: App) -> Emulation:
    """Provision and bind before the function pools are built; `start` once they exist."""
    refs = provision(target.client("sqs"), target.client("sns"), target.table)
    bind(app, refs)
    return Emulation(target, refs, event_sources(app))
