"""The scrubbing step of the pipeline (lodge.scrubbing): secrets are gone from DynamoDB, S3, the
issue title and every read API; the policy is per project, on by default, and cached."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lodge import config, scrubbing
from lodge.scrub import FILTERED
from lodge.storage import Store
from tests.conftest import Project
from tests.helpers import json_body
from tests.unit.functions.test_appsignal_query import get as appsignal_get
from tests.unit.functions.test_rollbar_read import fixture, get, ingest

CARD = "4111 1111 1111 1111"
PASSWORD = "hunter2-correct-horse"


def leaky_report() -> dict[str, Any]:
    payload = fixture("e1_pyrollbar_exc_info")
    trace = payload["data"]["body"]["trace"]
    trace["exception"]["message"] = f"charge failed for card {CARD}"
    trace["frames"][1]["locals"]["payload"]["password"] = PASSWORD
    payload["data"]["request"] = {
        "url": "https://shop.example/pay?api_key=k3y-s3cr3t-value&x=1",
        "headers": {"Authorization": "Bearer abcdefghijklmnop", "Cookie": "sid=s3ss10n"},
    }
    return payload


def everything_stored(store: Store, project: Project) -> str:
    """Every byte Lodge holds for the project: the table's items and the bucket's objects, decoded."""
    from lodge.codec import CURRENT, decode

    parts = [json.dumps(issue._asdict()) for issue in store.issues(project.id)]
    for record in store.iter_records(project.id):
        stored = store.get_record(project.id, record.record_id)
        assert stored is not None
        parts.append(json.dumps(stored.details) + json.dumps(stored.index))
    listing = store.s3.list_objects_v2(Bucket=store.config.bucket_name, Prefix=f"{project.id}/")
    for entry in listing.get("Contents", []):
        body = store.s3.get_object(Bucket=store.config.bucket_name, Key=entry["Key"])["Body"].read()
        parts.append(json.dumps(decode(body, CURRENT)))
    return "\n".join(parts)


SECRETS = (CARD, CARD.replace(" ", ""), PASSWORD, "k3y-s3cr3t-value", "abcdefghijklmnop", "s3ss10n")


def assert_clean(text: str) -> None:
    leaked = [secret for secret in SECRETS if secret in text]
    assert not leaked, leaked


@pytest.mark.parametrize("offload", [False, True], ids=["dynamodb", "s3"])
def test_secrets_are_scrubbed_in_storage_title_and_read_apis(
    store: Store, project: Project, monkeypatch: pytest.MonkeyPatch, offload: bool
) -> None:
    if offload:
        monkeypatch.setenv("OFFLOAD_THRESHOLD", "1")
        config.settings.cache_clear()
        store = Store()
    uuid = ingest(project, leaky_report())
    item = json_body(get(project, "/api/1/item/", f"uuid={uuid}"))["result"]
    assert item["title"].startswith("ZeroDivisionError: charge failed for card ") and CARD not in item["title"]
    instance = json_body(get(project, f"/api/1/instance/{item['last_occurrence_id']}"))["result"]
    frames = instance["data"]["body"]["trace"]["frames"]
    assert frames[1]["locals"]["payload"]["password"] == FILTERED  # the key stays, the value goes
    assert instance["data"]["request"]["headers"]["Authorization"] == FILTERED
    items = json_body(get(project, "/api/1/items/"))
    sample = appsignal_get(project, f"samples/{item['last_occurrence_id']}.json")
    for answer in (json.dumps(item), json.dumps(instance), json.dumps(items), sample["body"]):
        assert_clean(answer)
    stored = everything_stored(store, project)
    assert "charge failed" in stored
    assert_clean(stored)
    if offload:
        listing = store.s3.list_objects_v2(Bucket=store.config.bucket_name, Prefix=f"{project.id}/")
        assert listing.get("KeyCount", 0) == 1


def test_a_project_can_turn_scrubbing_off_or_mark_keys(store: Store, project: Project) -> None:
    store.put_scrub_config(project.id, enabled=True, extra_keys=["n"], safe_keys=["password"])
    scrubbing.clear_cache()
    uuid = ingest(project, leaky_report())
    item = json_body(get(project, "/api/1/item/", f"uuid={uuid}"))["result"]
    instance = json_body(get(project, f"/api/1/instance/{item['last_occurrence_id']}"))["result"]
    local = instance["data"]["body"]["trace"]["frames"][1]["locals"]["payload"]
    assert local == {"password": PASSWORD, "n": FILTERED}
    assert CARD not in item["title"]  # value rules still apply

    store.put_scrub_config(project.id, enabled=False, extra_keys=[], safe_keys=[])
    assert store.scrub_config(project.id) == {"enabled": False, "extra_keys": [], "safe_keys": []}
    scrubbing.clear_cache()
    payload = leaky_report()
    payload["data"]["uuid"] = "5f0c1c36-2a41-4a7e-9c55-1b9d8ad3a001"
    uuid = ingest(project, payload)
    item = json_body(get(project, "/api/1/item/", f"uuid={uuid}"))["result"]
    instance = json_body(get(project, f"/api/1/instance/{item['last_occurrence_id']}"))["result"]
    assert instance["data"]["body"]["trace"]["exception"]["message"] == f"charge failed for card {CARD}"


def test_the_policy_is_read_once_per_warm_process(store: Store, project: Project) -> None:
    calls = []
    real = store.project_settings  # the one read of the project's settings (lodge.project_settings)

    def counting(project_id: str) -> Any:
        calls.append(project_id)
        return real(project_id)

    store.project_settings = counting  # type: ignore[method-assign]
    scrubbing.clear_cache()
    for _ in range(3):
        scrubbing.policy_for(store, project.id)
    assert calls == [project.id]
