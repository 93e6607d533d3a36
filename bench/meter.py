"""Counting what a request asks of AWS: calls, sequential round trips, capacity units, S3 bytes.

Handlers are registered on the botocore clients lodge.aws hands out (`before-call.*` / `after-call.*`).
Write units are computed from the items themselves (bench.units): before and after every write a
separate, unmetered client reads the item, so the larger-of-old-and-new and GSI rules apply exactly.

Sequential round trips are the critical path: the intervals of all calls of a request are merged,
and overlapping calls (Store.bump_groups runs its UpdateItems in threads) count once. Every metered
call waits a simulated in-region latency (SIMULATED_LATENCY_MS, per service) before it is answered,
so parallel calls overlap as they would on AWS and the request's wait for AWS (the critical path's
latency, `aws_wait_ms`) goes into Lambda's billed duration (bench.cost).

S3 bytes: botocore turns a PutObject `Body` into a file-like object before any handler sees the
parameters, so the size is read from that object (and the tags from `Tagging`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from bench import units

SIMULATED_LATENCY_MS = {"dynamodb": 5.0, "s3": 25.0, "sqs": 10.0}
"""Assumed p50 from Lambda in the same region: a small DynamoDB PutItem/UpdateItem/GetItem is
"single-digit ms", a small S3 PutObject some tens of ms, an SQS SendMessage about 10 ms."""
OTHER_LATENCY_MS = 5.0


@dataclass
class Call:
    service: str
    operation: str
    start: float
    end: float = 0.0
    thread: int = 0
    error: str = ""
    wru: float = 0.0
    gsi_wru: float = 0.0
    rru: float = 0.0
    s3_put_bytes: int = 0
    s3_tags: int = 0
    item_bytes: int = 0
    gsi_bytes: int = 0
    attr_bytes: dict[str, int] = field(default_factory=dict)


@dataclass
class Tally:
    calls: list[Call] = field(default_factory=list)

    def by_operation(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for call in self.calls:
            key = f"{call.service}:{call.operation}"
            counts[key] = counts.get(key, 0) + 1
        return counts

    def round_trips(self) -> int:
        """Number of sequential phases: overlapping call intervals are merged into one."""
        phases = 0
        phase_end = -1.0
        for call in sorted(self.calls, key=lambda c: c.start):
            if call.start >= phase_end:
                phases += 1
                phase_end = call.end
            else:
                phase_end = max(phase_end, call.end)
        return phases

    def wait_ms(self) -> float:
        """The request's wait for AWS: per sequential phase, the longest simulated latency in it."""
        total = 0.0
        phase_end, phase_wait = -1.0, 0.0
        for call in sorted(self.calls, key=lambda c: c.start):
            latency = SIMULATED_LATENCY_MS.get(call.service, OTHER_LATENCY_MS)
            if call.start >= phase_end:
                total += phase_wait
                phase_end, phase_wait = call.end, latency
            else:
                phase_end, phase_wait = max(phase_end, call.end), max(phase_wait, latency)
        return total + phase_wait

    def summary(self) -> dict[str, Any]:
        s3_puts = [
            c
            for c in self.calls
            if c.service == "s3" and c.operation in ("PutObject", "PutObjectTagging", "CopyObject")
        ]
        s3_gets = [c for c in self.calls if c.service == "s3" and c.operation == "GetObject"]
        records = [c for c in self.calls if c.operation == "PutItem" and not c.error]
        return {
            "calls": len(self.calls),
            "by_operation": self.by_operation(),
            "round_trips": self.round_trips(),
            "ddb_round_trips": Tally([c for c in self.calls if c.service == "dynamodb"]).round_trips(),
            "wru_table": sum(c.wru for c in self.calls),
            "wru_gsi": sum(c.gsi_wru for c in self.calls),
            "wru": sum(c.wru + c.gsi_wru for c in self.calls),
            "rru": sum(c.rru for c in self.calls),
            "s3_puts": len(s3_puts),
            "s3_gets": len(s3_gets),
            "s3_bytes": sum(c.s3_put_bytes for c in self.calls),
            "s3_tags": sum(c.s3_tags for c in self.calls),
            "aws_wait_ms": self.wait_ms(),
            "record_bytes": sum(c.item_bytes for c in records),
            "record_gsi_bytes": sum(c.gsi_bytes for c in records),
            "record_attr_bytes": records[0].attr_bytes if records else {},
            "errors": sorted({c.error for c in self.calls if c.error}),
        }


def body_size(body: Any) -> int:
    """Bytes of a PutObject body: bytes or str as given, or the file-like object botocore made of it."""
    if isinstance(body, str):
        return len(body.encode("utf-8"))
    if isinstance(body, (bytes, bytearray, memoryview)):
        return len(body)
    if hasattr(body, "getbuffer"):
        return int(body.getbuffer().nbytes)
    if hasattr(body, "seek") and hasattr(body, "tell"):
        position = body.tell()
        size = int(body.seek(0, 2))
        body.seek(position)
        return size - position
    return 0


def tag_count(tagging: str) -> int:
    """Tags in a PutObject `Tagging` parameter (URL query form: `k1=v1&k2=v2`)."""
    return len([pair for pair in str(tagging).split("&") if pair])


def _key_of(operation: str, params: dict[str, Any], key_names: tuple[str, ...]) -> dict[str, Any] | None:
    if operation == "PutItem":
        item = params.get("Item", {})
        return {k: item[k] for k in key_names if k in item}
    if operation in ("UpdateItem", "DeleteItem", "GetItem"):
        return dict(params.get("Key", {}))
    return None


class Meter:
    """Attach to lodge.aws's clients; `start()` a fresh tally per request, `stop()` returns it."""

    def __init__(
        self, clients: dict[str, Any], inspector: Any, table: str, key_names: tuple[str, ...], index: units.Index
    ) -> None:
        self.inspector = inspector
        self.table = table
        self.key_names = key_names
        self.index = index
        self.latency_ms = dict(SIMULATED_LATENCY_MS)
        self._tally: Tally | None = None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._service_of: dict[str, str] = {}
        for service, client in clients.items():
            prefix = client.meta.service_model.endpoint_prefix
            self._service_of[prefix] = service
            client.meta.events.register(f"before-parameter-build.{prefix}", self._params)
            client.meta.events.register(f"before-call.{prefix}", self._before)
            client.meta.events.register(f"after-call.{prefix}", self._after)

    def start(self) -> None:
        self._tally = Tally()

    def stop(self) -> Tally:
        tally, self._tally = self._tally or Tally(), None
        return tally

    def _read(self, key: dict[str, Any] | None) -> dict[str, Any] | None:
        if not key:
            return None
        item: dict[str, Any] | None = self.inspector.get_item(TableName=self.table, Key=key, ConsistentRead=True).get(
            "Item"
        )
        return item

    def _params(self, params: dict[str, Any], **kwargs: Any) -> None:
        # before-call sees the serialized HTTP request; the API parameters are only seen here.
        self._local.api_params = dict(params)

    def _before(self, model: Any, **kwargs: Any) -> None:
        if self._tally is None:
            return
        params: dict[str, Any] = getattr(self._local, "api_params", {})
        service = self._service_of.get(model.service_model.endpoint_prefix, model.service_model.endpoint_prefix)
        call = Call(service=service, operation=model.name, start=time.perf_counter(), thread=threading.get_ident())
        self._local.call = call
        if service == "dynamodb" and model.name in ("PutItem", "UpdateItem", "DeleteItem"):
            self._local.old = self._read(_key_of(model.name, params, self.key_names))
        self._local.params = params
        if service == "s3" and model.name == "PutObject":
            call.s3_put_bytes = body_size(params.get("Body", b""))
            call.s3_tags = tag_count(params.get("Tagging", ""))
        time.sleep(self.latency_ms.get(service, OTHER_LATENCY_MS) / 1000)

    def _after(self, http_response: Any, parsed: dict[str, Any], model: Any, **kwargs: Any) -> None:
        call: Call | None = getattr(self._local, "call", None)
        if self._tally is None or call is None:
            return
        call.end = time.perf_counter()
        self._local.call = None
        error = (parsed.get("Error") or {}).get("Code", "") if http_response.status_code >= 300 else ""
        call.error = error
        params = self._local.params
        if call.service == "dynamodb":
            op = model.name
            if op in ("PutItem", "UpdateItem", "DeleteItem"):
                old = self._local.old
                new = self._read(_key_of(op, params, self.key_names))
                old_size, new_size = units.item_size(old), units.item_size(new)
                if error:
                    call.wru = units.write_units(old_size)  # a failed condition costs the existing item (>= 1)
                else:
                    call.wru = units.write_units(max(old_size, new_size))
                    call.gsi_wru = self.index.write_units(old, new)
                call.item_bytes = new_size
                call.gsi_bytes = units.item_size(self.index.entry(new)) if not error else 0
                if op == "PutItem" and new and not error:
                    call.attr_bytes = {k: units.item_size({k: v}) for k, v in new.items()}
            elif op == "GetItem":
                consistent = bool(params.get("ConsistentRead"))
                call.rru = units.read_units(units.item_size(parsed.get("Item")), consistent)
            elif op == "Query":
                size = sum(units.item_size(i) for i in parsed.get("Items", []))
                call.rru = units.read_units(size, bool(params.get("ConsistentRead")))
        with self._lock:
            self._tally.calls.append(call)
