"""`lodge digest dlq list|redrive` and `lodge digest status` against moto: a poison record's batch
lands in the digest's dead-letter queue, the CLI lists it, and once the cause is fixed the redrive
re-reads its stream range and digests it: the counts are then exact."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from lodge import aws
from lodge.ingest import ingest
from lodge.storage import Store
from lodge_devtools import cli, queues
from lodge_devtools.streams import StreamPoller, in_process_invoke
from tests.unit.devtools.test_cli_alerts import make_stack, run_json
from tests.unit.lodge.occurrences import make

pytestmark = pytest.mark.manual_digest
T0 = 1_700_000_000.0


def _counts(store: Store) -> Counter[str]:
    return Counter({g["id"]: int(g["cnt"]) for g in store.list_groups("p1")})


def test_a_poison_batch_is_listed_then_redriven_once_fixed(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    refs = queues.provision(aws.sqs(), aws.sns(), store.table)
    stack = make_stack({"DigestDeadLetterQueueUrl": refs["DigestDeadLetterQueue"], "AlertQueueUrl": refs["AlertQueue"]})

    def send(message: dict[str, Any]) -> None:
        aws.sqs().send_message(QueueUrl=refs["DigestDeadLetterQueue"], MessageBody=json.dumps(message))

    poller = StreamPoller(aws.dynamodb(), store.table, in_process_invoke(), on_failure=send)
    for i in range(4):
        ingest(store, "p1", [make(message=f"fine {i % 2}")], T0 + i)
    poisoned = ingest(store, "p1", [make(message="poison")], T0 + 10)
    details_of = Store.details_of

    def choke(self: Store, record: Any) -> Any:
        if record.record_id == poisoned.record_id:
            raise ValueError("cannot decode")
        return details_of(self, record)

    monkeypatch.setattr(Store, "details_of", choke)
    poller.drain()
    before = _counts(store)
    assert sum(before.values()) == 4 and (poisoned.group_ids[0] or "") not in before

    (row,) = run_json(capsys, "--stack", stack, "digest", "dlq", "list")
    assert row["shard"] and row["start"] == row["end"] and row["records"] == 1
    assert "cannot decode" in row["error"] and row["condition"] == "RetryAttemptsExhausted"
    assert run_json(capsys, "--stack", stack, "digest", "status")["dead_lettered_batches"] == 1

    assert cli.main(["--stack", stack, "digest", "dlq", "redrive"]) == 1  # not fixed yet: it stays
    assert "failed again" in capsys.readouterr().out
    assert len(run_json(capsys, "--stack", stack, "digest", "dlq", "list")) == 1

    monkeypatch.setattr(Store, "details_of", details_of)  # the cause is fixed
    assert cli.main(["--stack", stack, "digest", "dlq", "redrive"]) == 0
    assert "Redrove 1 failed batch(es), 1 stream record(s)" in capsys.readouterr().out
    assert _counts(store) == before + Counter({poisoned.group_ids[0] or "": 1})
    assert run_json(capsys, "--stack", stack, "digest", "dlq", "list") == []
    assert run_json(capsys, "--stack", stack, "digest", "status")["dead_lettered_batches"] == 0
    assert cli.main(["--stack", stack, "digest", "dlq", "redrive"]) == 0  # nothing left: nothing done
    assert "Redrove 0 failed batch(es)" in capsys.readouterr().out
    assert _counts(store) == before + Counter({poisoned.group_ids[0] or "": 1})
