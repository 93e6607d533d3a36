"""Local data snapshots (issue 14): DynamoDB JSON with binaries, S3 objects with tags, atomic files,
change tracking, and the data directory's lock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lodge_devtools import persistence
from lodge_devtools.target import Target
from lodge_devtools.template import ROOT

TABLE, BUCKET = "lodge-snap", "lodge-snap-payloads"


@pytest.fixture
def target(aws_mock: None) -> Target:
    target = Target(TABLE, BUCKET, emulated=True)
    target.provision()
    return target


def snapshots(target: Target, directory: Path) -> persistence.Snapshots:
    return persistence.Snapshots(directory, target.client("dynamodb"), target.client("s3"), TABLE, BUCKET)


def test_attribute_values_with_binaries_round_trip_through_json() -> None:
    value = {
        "M": {
            "b": {"B": b"\x00\xffzlib"},
            "bs": {"BS": [b"a", b"\x01"]},
            "l": {"L": [{"S": "x"}, {"N": "1.5"}, {"NULL": True}, {"BOOL": False}, {"B": b"\x02"}]},
            "ss": {"SS": ["a", "b"]},
        }
    }
    assert persistence.decode_value(json.loads(json.dumps(persistence.encode_value(value)))) == value


def test_snapshot_then_restore_into_an_empty_emulation(target: Target, tmp_path: Path) -> None:
    ddb, s3 = target.client("dynamodb"), target.client("s3")
    for n in range(60):  # more than one BatchWriteItem of 25
        item = {"pk": {"S": f"PRJ#{n % 3}"}, "sk": {"S": f"REC#{n:04}"}, "d": {"B": bytes([n, 0, 255])}}
        ddb.put_item(TableName=TABLE, Item=item)
    detail = {"ContentType": "application/json", "Tagging": "lodge-expire=true"}
    s3.put_object(Bucket=BUCKET, Key="p/rec1", Body=b"\x1f\x8bdetail", **detail)
    s3.put_object(Bucket=BUCKET, Key="p/rec2", Body=b"kept")
    taken = snapshots(target, tmp_path).save()
    assert set(taken) == {persistence.TABLE_FILE, persistence.BUCKET_FILE}

    ddb.delete_table(TableName=TABLE)
    for key in ("p/rec1", "p/rec2"):
        s3.delete_object(Bucket=BUCKET, Key=key)
    target.provision()
    assert snapshots(target, tmp_path).restore() == (60, 2)

    restored = ddb.get_item(TableName=TABLE, Key={"pk": {"S": "PRJ#1"}, "sk": {"S": "REC#0007"}})["Item"]
    assert restored["d"] == {"B": bytes([7, 0, 255])}
    assert ddb.scan(TableName=TABLE, Select="COUNT")["Count"] == 60
    assert s3.get_object(Bucket=BUCKET, Key="p/rec1")["Body"].read() == b"\x1f\x8bdetail"
    assert s3.head_object(Bucket=BUCKET, Key="p/rec1")["ContentType"] == "application/json"
    tags = s3.get_object_tagging(Bucket=BUCKET, Key="p/rec1")["TagSet"]
    assert tags == [{"Key": "lodge-expire", "Value": "true"}]
    assert s3.get_object_tagging(Bucket=BUCKET, Key="p/rec2")["TagSet"] == []


def test_no_snapshot_restores_nothing(target: Target, tmp_path: Path) -> None:
    assert snapshots(target, tmp_path / "none").restore() == (0, 0)


def test_a_crash_while_writing_leaves_the_previous_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "table.json"
    persistence.write_atomically(path, {"version": 1, "items": ["old"]})

    def dies_halfway(data: Any, handle: Any, **kwargs: Any) -> None:
        handle.write('{"version": 1, "items": ["ne')
        raise KeyboardInterrupt  # stands in for the process dying mid-write

    monkeypatch.setattr(persistence.json, "dump", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        persistence.write_atomically(path, {"version": 1, "items": ["new"]})
    assert json.loads(path.read_text()) == {"version": 1, "items": ["old"]}


def test_an_unknown_snapshot_version_is_refused(target: Target, tmp_path: Path) -> None:
    (tmp_path / persistence.TABLE_FILE).write_text(json.dumps({"version": 99, "items": []}))
    with pytest.raises(ValueError, match="unknown snapshot version"):
        snapshots(target, tmp_path).restore()


@pytest.mark.parametrize(
    ("method", "target", "service"),
    [
        ("POST", "DynamoDB_20120810.PutItem", "dynamodb"),
        ("POST", "DynamoDB_20120810.UpdateItem", "dynamodb"),
        ("POST", "DynamoDB_20120810.TransactWriteItems", "dynamodb"),
        ("POST", "DynamoDB_20120810.Query", None),
        ("POST", "DynamoDB_20120810.GetItem", None),
        ("PUT", "", "s3"),
        ("DELETE", "", "s3"),
        ("POST", "", "s3"),  # multi-object delete
        ("GET", "", None),
        ("HEAD", "", None),
    ],
)
def test_which_requests_mark_data_changed(method: str, target: str, service: str | None) -> None:
    assert persistence.changed_service(method, target) == service


def test_autosave_writes_only_what_changed(target: Target, tmp_path: Path) -> None:
    tracker = persistence.ChangeTracker(lambda environ, start: [])
    autosave = persistence.Autosave(snapshots(target, tmp_path), tracker, interval=3600)
    autosave.flush()
    assert not list(tmp_path.glob("*.json"))  # nothing changed, nothing written
    tracker({"REQUEST_METHOD": "POST", "HTTP_X_AMZ_TARGET": "DynamoDB_20120810.PutItem"}, None)
    autosave.flush()
    assert [p.name for p in tmp_path.glob("*.json")] == [persistence.TABLE_FILE]


def test_one_runner_per_data_directory(tmp_path: Path) -> None:
    held = persistence.lock_data_dir(tmp_path)
    try:
        import subprocess
        import sys

        probe = (
            "import sys; from pathlib import Path; from lodge_devtools import persistence\n"
            "try:\n    persistence.lock_data_dir(Path(sys.argv[1]))\nexcept persistence.DataDirBusy as e:\n"
            "    print('busy', e)"
        )
        done = subprocess.run(
            [sys.executable, "-c", probe, str(tmp_path)],
            capture_output=True,
            text=True,
            env={"PYTHONPATH": str(ROOT / "devtools")},
        )
        assert done.stdout.strip() == f"busy {__import__('os').getpid()}", done.stderr
    finally:
        held.close()


def test_the_in_process_reader_sees_what_a_scan_sees(target: Target, tmp_path: Path) -> None:
    ddb = target.client("dynamodb")
    for n in range(30):
        ddb.put_item(TableName=TABLE, Item={"pk": {"S": "P"}, "sk": {"S": f"{n:03}"}, "b": {"B": bytes([n])}})
    fast = snapshots(target, tmp_path)
    fast.read_items = persistence.in_process_reader(TABLE, "us-east-1")
    scanned = snapshots(target, tmp_path)._all_items()
    assert sorted(fast._all_items(), key=lambda i: i["sk"]["S"]) == sorted(scanned, key=lambda i: i["sk"]["S"])

    def moto_changed() -> list[dict[str, Any]]:
        raise AttributeError("'Table' object has no attribute 'all_items'")

    fast.read_items = moto_changed
    assert len(fast._all_items()) == 30  # falls back to a Scan
