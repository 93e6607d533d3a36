"""CrashLog over real HTTP against the local runner: requests signed by the test's own signer
(docs/protocols/crashlog.md, not Lodge's code), read back through /locate and the store."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from lodge.occurrence import occurrence_id_for
from tests.fixtures.crashlog.signer import TAMPERED_PARTS, fixture, signed_headers, tampered
from tests.integration.conftest import RunnerHandle

pytestmark = pytest.mark.integration


def _post(runner: RunnerHandle, path: str, body: bytes, **sign: Any) -> requests.Response:
    credentials = sign.pop("credentials", runner.credentials)
    headers = signed_headers(credentials["crashlog"], credentials["crashlog_secret"], "POST", path, body=body, **sign)
    return requests.post(runner.url + path, data=body, headers=headers, timeout=10)


def _locate(runner: RunnerHandle, location_id: str, token: str | None) -> requests.Response:
    params = {"token": token} if token else None
    return requests.get(f"{runner.url}/locate/{location_id}", params=params, allow_redirects=False, timeout=10)


@pytest.mark.parametrize(
    ("name", "content_type", "md5", "sign_md5"),
    [
        ("ruby_1.0.7.json", "application/json; charset=UTF-8", None, True),
        ("node_winston.json", "application/json", "hex", False),
        ("java_log4j.json", "application/json; charset=UTF-8", None, True),
    ],
)
def test_client_payloads_round_trip(
    runner: RunnerHandle, name: str, content_type: str, md5: str | None, sign_md5: bool
) -> None:
    body = fixture(name)
    started = time.monotonic()
    response = _post(runner, "/events", body, content_type=content_type, content_md5=md5, sign_md5=sign_md5)
    assert time.monotonic() - started < 2.0  # the Ruby client's read timeout
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    location_id = response.json()["location_id"]
    assert uuid.UUID(location_id).version == 4

    located = _locate(runner, location_id, runner.credentials["personal"])
    assert located.status_code == 301
    occurrence_id = occurrence_id_for("crashlog", location_id)
    target = located.headers["Location"]
    assert target.startswith(f"/api/{runner.project_id}/samples/{occurrence_id}.json")

    payload = json.loads(body)["payload"]
    detail = runner.target.store().get_occurrence(runner.project_id, occurrence_id)
    assert detail is not None
    frames = detail["exceptions"][0]["frames"]
    assert [(f.get("filename"), f.get("lineno")) for f in frames] == [
        (b["file"], b["number"]) for b in reversed(payload["backtrace"])
    ]
    if payload.get("context"):
        assert detail["extra"]["context"] == payload["context"]
        assert detail["context"] == "users#show"
        assert frames[-1]["context_pre"] == payload["backtrace"][0]["pre_context"]

    assert runner.credentials["personal"] not in target  # the client re-sends its credential
    sample = requests.get(
        urljoin(runner.url + "/", target), params={"token": runner.credentials["personal"]}, timeout=10
    )
    if sample.status_code == 200:  # the AppSignal query API is there: the sample shows this event
        assert payload["event"]["type"] in sample.text


@pytest.mark.parametrize("part", TAMPERED_PARTS)
def test_tampering_is_401_json(runner: RunnerHandle, part: str) -> None:
    key, secret = runner.credentials["crashlog"], runner.credentials["crashlog_secret"]
    headers, body = tampered(part, key, secret, fixture("java_log4j.json"))
    response = requests.post(runner.url + "/events", data=body, headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.json() == {"error": "HMAC authentication failed"}


def test_announce(runner: RunnerHandle) -> None:
    project_id, credentials = runner.new_project("Announcing app")
    body = json.dumps({"payload": {"hostname": "web-7", "timestamp": int(time.time()), "stage": "staging"}}).encode()
    response = _post(runner, "/announce", body, credentials=credentials, service="Staging")
    assert response.status_code == 201
    assert response.json() == {"application_name": "Announcing app"}
    markers = runner.target.store().list_markers(project_id)
    assert [(m["kind"], m["hostname"], m["stage"]) for m in markers] == [("announce", "web-7", "staging")]


def test_locate_rules(runner: RunnerHandle) -> None:
    other_id, other = runner.new_project("Other")
    response = _post(runner, "/events", fixture("ruby_1.1.0.pre1_vector_d4.json"))
    location_id = response.json()["location_id"]
    assert _locate(runner, str(uuid.uuid4()), runner.credentials["personal"]).status_code == 404
    assert _locate(runner, location_id, None).status_code == 401
    assert _locate(runner, location_id, runner.credentials["crashlog"]).status_code == 401
    assert _locate(runner, location_id, other["personal"]).status_code == 404
    assert other_id != runner.project_id
    path = f"/locate/{location_id}"
    key, secret = runner.credentials["crashlog"], runner.credentials["crashlog_secret"]
    signed = signed_headers(key, secret, "GET", path, content_type=None)
    response = requests.get(runner.url + path, headers=signed, allow_redirects=False, timeout=10)
    assert response.status_code == 301
