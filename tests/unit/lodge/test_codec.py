"""The detail codec: exact round trips, and what the preset dictionary buys on a real report."""

from __future__ import annotations

import json
import zlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from lodge import codec, ingest
from lodge.dynamo import to_item
from lodge.protocols.crashlog import mapping as crashlog_mapping
from lodge.storage import Store
from lodge.storage.keys import record_key
from tests.unit.lodge.occurrences import pyrollbar_e1, pyrollbar_e1_payload

CRASHLOG_RUBY_EVENT = Path(__file__).resolve().parents[3] / "bench" / "workloads" / "crashlog_ruby" / "body.json"

WRITE_UNIT = 1024


# ---- DynamoDB item size, by the rules AWS documents --------------------------------------------


def _significant_digits(number: str) -> int:
    mantissa = number.lower().lstrip("+-").split("e")[0].replace(".", "").strip("0")
    return max(1, len(mantissa))


def attribute_size(attr: dict[str, Any]) -> int:
    """Bytes of one attribute value: strings UTF-8, numbers ~1 byte per 2 digits + 1, binary raw,
    lists/maps 3 bytes plus 1 per element (and the key's length for map entries)."""
    ((kind, value),) = attr.items()
    if kind == "S":
        return len(value.encode())
    if kind == "N":
        return (_significant_digits(value) + 1) // 2 + 1
    if kind == "B":
        return len(value)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in value)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + attribute_size(v) for k, v in value.items())
    if kind == "SS":
        return sum(len(v.encode()) for v in value)
    if kind == "NS":
        return sum((_significant_digits(v) + 1) // 2 + 1 for v in value)
    raise AssertionError(kind)


def item_size(item: dict[str, dict[str, Any]]) -> int:
    return sum(len(name.encode()) + attribute_size(attr) for name, attr in item.items())


def test_item_size_helper_follows_the_documented_examples() -> None:
    # AWS: a string is its UTF-8 length plus the name; "29.99" has 4 significant digits -> 3 bytes.
    assert item_size(to_item({"name": "ab"})) == 4 + 2
    assert item_size(to_item({"p": Decimal("29.99")})) == 1 + 3
    assert item_size(to_item({"n": 100})) == 1 + 2
    assert item_size(to_item({"m": {"k": "v"}, "l": [True]})) == (1 + 3 + 1 + 1 + 1) + (1 + 3 + 1 + 1)


# ---- round trips -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pyrollbar_e1_payload(),
        [pyrollbar_e1().to_detail()],
        {"message": "naïve café — 日本語 — emoji 👨‍👩‍👧 — nbsp\u00a0here", "n": [1, 2.5, -3, None, True, False]},
        {"deep": {"a": [{"b": [{"c": "d" * 5000}]}]}},
        [],
        "",
    ],
)
def test_round_trip(value: Any) -> None:
    assert codec.decode(codec.encode(value)) == value


def test_round_trip_with_a_lone_surrogate() -> None:
    """Clients that truncate strings can cut a surrogate pair; JSON still carries the half."""
    value = json.loads('{"m": "cut \\ud83d"}')
    assert codec.decode(codec.encode(value)) == value


def test_versions_are_explicit() -> None:
    blob = codec.encode({"a": 1}, version=1)
    assert codec.decode(blob, version=1) == {"a": 1}
    assert codec.CURRENT in codec.DICTIONARIES
    with pytest.raises(zlib.error):
        zlib.decompress(blob)  # needs its dictionary: a stored blob is only readable with its version


# ---- sizes ---------------------------------------------------------------------------------------------


def test_preset_dictionary_beats_plain_zlib_on_e1(capsys: pytest.CaptureFixture[str]) -> None:
    detail = [pyrollbar_e1().to_detail()]
    raw = json.dumps(detail, separators=(",", ":"), ensure_ascii=False).encode()
    plain = len(zlib.compress(raw, 9))
    with_dict = len(codec.encode(detail))
    with capsys.disabled():
        print(f"\nE1 detail: json {len(raw)} B, plain zlib {plain} B, preset dictionary {with_dict} B")
    assert with_dict < plain
    assert with_dict <= plain * 0.85, "the dictionary should save at least 15% on a typical report"


def test_e1_record_item_fits_one_write_unit(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    first = pyrollbar_e1()
    second = pyrollbar_e1()
    second.client_id = "0b9a6c36-3d8b-4f1e-8f0e-2a6b7c1d9e55"  # a repeat of the same error
    ingest.ingest(store, "p1", [first], first.received_at)
    result = ingest.ingest(store, "p1", [second], second.received_at)
    item = store.ddb.get_item(TableName=store.table, Key=to_item(record_key("p1", result.record_id)))["Item"]
    assert "ttl" in item and "d" in item and "s3" not in item
    size = item_size(item)
    detail = attribute_size(item["d"])
    with capsys.disabled():
        print(f"\nE1 record item: {size} B (detail blob {detail} B, index entry {attribute_size(item['ix'])} B)")
    assert size <= WRITE_UNIT


def test_a_typical_crashlog_ruby_event_fits_one_write_unit(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    """The bench's Rails controller event, with the place (`action`, `path`) every listing shows."""
    payload = json.loads(CRASHLOG_RUBY_EVENT.read_bytes())["payload"]
    project_id = "0123456789abcdef01234567"  # as long as auth.create_project's ids
    received_at = 1_795_324_864.25
    results = [
        ingest.ingest(
            store, project_id, [crashlog_mapping.to_occurrence(project_id, payload, i, received_at)], received_at
        )
        for i in ("6f0cbb1e-0f7d-4bd4-9a57-5b0f2f0c1a11", "0b9a6c36-3d8b-4f1e-8f0e-2a6b7c1d9e55")
    ]
    key = record_key(project_id, results[-1].record_id)
    item = store.ddb.get_item(TableName=store.table, Key=to_item(key))["Item"]
    assert "d" in item and "s3" not in item
    (entry,) = item["ix"]["L"]
    assert entry["M"]["a"] == {"S": "orders#index"} and entry["M"]["p"] == {
        "S": "https://shop.example.com/orders?boom=1"
    }
    size = item_size(item)
    with capsys.disabled():
        print(
            f"\nCrashLog Ruby record item: {size} B "
            f"(detail blob {attribute_size(item['d'])} B, index {attribute_size(item['ix'])} B)"
        )
    assert size <= WRITE_UNIT
