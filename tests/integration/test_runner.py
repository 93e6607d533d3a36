"""The local runner over real HTTP: API Gateway routing, CORS, bodies, worker lifecycle, and the invoke twin.

Most cases run a throwaway template with an `echo` function, so they test the runner itself and
not Lodge's handlers; the last ones go through the real template and functions.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from lodge_devtools.runner import demo_item
from tests.integration.conftest import ROOT, RunnerHandle, launch_runner

pytestmark = pytest.mark.integration

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  RetentionDays: {Type: Number, Default: 42}
Globals:
  Function:
    Runtime: python3.11
    Handler: app.lambda_handler
    Timeout: 2
    Environment:
      Variables:
        TABLE_NAME: !Ref Table
        BUCKET_NAME: !Ref PayloadBucket
        RETENTION_DAYS: !Ref RetentionDays
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: ["*"]
        AllowMethods: [GET, POST]
        AllowHeaders: [content-type, x-rollbar-access-token]
        ExposeHeaders: [x-rate-limit-remaining]
        MaxAge: 600
  Table:
    Type: AWS::DynamoDB::Table
  PayloadBucket:
    Type: AWS::S3::Bucket
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/echo/
      Environment: {Variables: {FN_VAR: echo}}
      Events:
        Param: {Type: HttpApi, Properties: {Path: "/things/{thing_id}", Method: POST}}
        Literal: {Type: HttpApi, Properties: {Path: /things/special, Method: POST}}
        Get: {Type: HttpApi, Properties: {Path: "/things/{thing_id}", Method: GET}}
        Greedy: {Type: HttpApi, Properties: {Path: "/greedy/{proxy+}", Method: GET}}
        Nested: {Type: HttpApi, Properties: {Path: "/a/{x}/b/{y}", Method: GET}}
"""

ECHO = """
import base64, json, os, sys, time

CALLS = 0


def lambda_handler(event, context):
    global CALLS
    CALLS += 1
    print("echo handled", event["routeKey"])
    query = event.get("queryStringParameters") or {}
    if "crash" in query:
        os._exit(3)
    if "sleep" in query:
        time.sleep(float(query["sleep"]))
    if "raise" in query:
        raise RuntimeError("boom")
    if "bad" in query:
        return "not an object"
    if "binary" in query:
        return {"statusCode": 200, "headers": {"content-type": "application/octet-stream"},
                "body": base64.b64encode(bytes(range(256))).decode(), "isBase64Encoded": True}
    return {
        "statusCode": 201,
        "headers": {"content-type": "application/json", "access-control-allow-origin": "https://evil.example"},
        "cookies": ["a=1", "b=2"],
        "body": json.dumps({
            "event": event, "calls": CALLS, "pid": os.getpid(), "env": dict(os.environ),
            "remaining_ms": context.get_remaining_time_in_millis(), "sys_path": sys.path[:2],
        }),
    }
"""


@pytest.fixture(scope="module")
def echo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunnerHandle]:
    app_dir = tmp_path_factory.mktemp("echo_app")
    (app_dir / "template.yaml").write_text(TEMPLATE)
    (app_dir / "functions" / "echo").mkdir(parents=True)
    (app_dir / "functions" / "echo" / "app.py").write_text(ECHO)
    # The functions' output on the console (by default it goes to a log file), so tests can read it there.
    with launch_runner(app_dir / "run", "--template", str(app_dir / "template.yaml"), "--function-logs", "-") as handle:
        yield handle


def echoed(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def test_literal_route_beats_parameter_route(echo: RunnerHandle) -> None:
    literal = echoed(requests.post(f"{echo.url}/things/special", data="x", timeout=10))["event"]
    assert literal["routeKey"] == "POST /things/special"
    assert "pathParameters" not in literal
    param = echoed(requests.post(f"{echo.url}/things/abc-123", data="x", timeout=10))["event"]
    assert param["routeKey"] == "POST /things/{thing_id}"
    assert param["pathParameters"] == {"thing_id": "abc-123"}
    assert param["requestContext"]["routeKey"] == "POST /things/{thing_id}"


def test_several_path_parameters_and_query(echo: RunnerHandle) -> None:
    event = echoed(requests.get(f"{echo.url}/a/one/b/two?k=1&k=2&flag", timeout=10))["event"]
    assert event["pathParameters"] == {"x": "one", "y": "two"}
    assert event["rawQueryString"] == "k=1&k=2&flag"
    assert event["queryStringParameters"] == {"k": "1,2", "flag": ""}
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    assert event["requestContext"]["http"]["method"] == "GET"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nowhere"),
        ("PUT", "/things/abc"),
        ("DELETE", "/things/special"),
        ("GET", "/slash"),
        ("GET", "/things/"),
    ],
)
def test_unmatched_routes_are_api_gateway_404s(echo: RunnerHandle, method: str, path: str) -> None:
    response = requests.request(method, echo.url + path, timeout=10)
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}


def test_greedy_route_takes_the_trailing_slash_and_deeper_paths(echo: RunnerHandle) -> None:
    for path in ("/greedy/", "/greedy/a/b"):
        event = echoed(requests.get(echo.url + path, timeout=10))["event"]
        assert (event["routeKey"], event["rawPath"]) == ("GET /greedy/{proxy+}", path)


def test_cors_preflight_is_answered_by_the_gateway(echo: RunnerHandle) -> None:
    response = requests.options(
        f"{echo.url}/things/abc",
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type, X-Rollbar-Access-Token",
        },
        timeout=10,
    )
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert set(response.headers["Access-Control-Allow-Methods"].split(",")) == {"GET", "POST"}
    assert "x-rollbar-access-token" in response.headers["Access-Control-Allow-Headers"]
    assert response.headers["Access-Control-Max-Age"] == "600"


def test_cors_preflight_for_a_disallowed_method_gets_no_cors_headers(echo: RunnerHandle) -> None:
    response = requests.options(
        f"{echo.url}/things/abc",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "DELETE"},
        timeout=10,
    )
    assert response.status_code == 204
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_headers_on_responses_replace_the_functions(echo: RunnerHandle) -> None:
    response = requests.post(f"{echo.url}/things/x", data="{}", headers={"Origin": "https://app.example"}, timeout=10)
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Expose-Headers"] == "x-rate-limit-remaining"
    plain = requests.post(f"{echo.url}/things/x", data="{}", timeout=10)
    assert "Access-Control-Allow-Origin" not in plain.headers


def test_gzip_body_arrives_base64_encoded_and_intact(echo: RunnerHandle) -> None:
    payload = json.dumps({"hello": "wörld", "n": list(range(100))}).encode()
    compressed = gzip.compress(payload)
    event = echoed(
        requests.post(
            f"{echo.url}/things/x",
            data=compressed,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
            timeout=10,
        )
    )["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == compressed
    assert gzip.decompress(base64.b64decode(event["body"])) == payload
    assert event["headers"]["content-encoding"] == "gzip"


def test_json_body_arrives_as_text(echo: RunnerHandle) -> None:
    body = json.dumps({"a": "ü"})
    event = echoed(
        requests.post(
            f"{echo.url}/things/x", data=body.encode(), headers={"Content-Type": "application/json"}, timeout=10
        )
    )["event"]
    assert event["isBase64Encoded"] is False
    assert event["body"] == body


def test_chunked_request_body_is_read_fully(echo: RunnerHandle) -> None:
    chunks = [b'{"part": 1,', b' "more": "', b"x" * 70000, b'"}']
    event = echoed(
        requests.post(
            f"{echo.url}/things/x", data=iter(chunks), headers={"Content-Type": "application/json"}, timeout=10
        )
    )["event"]
    assert event["body"].encode() == b"".join(chunks)


def test_keep_alive_connection_serves_several_requests(echo: RunnerHandle) -> None:
    parts = urlsplit(echo.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        for i in range(3):
            connection.request("POST", f"/things/k{i}", body=b"body", headers={"Content-Type": "text/plain"})
            response = connection.getresponse()
            data = json.loads(response.read())
            assert response.status == 201
            assert data["event"]["pathParameters"] == {"thing_id": f"k{i}"}
        missing_connection_sock = connection.sock
        assert missing_connection_sock is not None  # the same socket was reused, never closed by the server
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("label", "query", "headers", "size", "status"),
    [
        ("body over the payload limit", "", {}, 11 * 1024 * 1024, 413),
        ("request line too long", "q=" + "T" * 100_000, {}, 1_200_000, 414),
        ("header too long", "", {"X-Big": "T" * 100_000}, 1_200_000, 431),
    ],
)
def test_an_answer_before_the_body_is_read_reaches_the_client(
    echo: RunnerHandle, label: str, query: str, headers: dict[str, str], size: int, status: int
) -> None:
    """The runner answers these without reading the body; it must still let the client finish
    sending and read the answer (a lingering close), not reset the connection mid-upload."""
    parts = urlsplit(echo.url)
    for _ in range(3):
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            path = "/things/x" + (f"?{query}" if query else "")
            connection.request("POST", path, body=b"x" * size, headers={"Content-Type": "text/plain", **headers})
            response = connection.getresponse()
            response.read()
            assert response.status == status, label
        finally:
            connection.close()


def test_response_headers_cookies_and_binary_body(echo: RunnerHandle) -> None:
    response = requests.post(f"{echo.url}/things/x", data="x", timeout=10)
    assert response.headers["Content-Type"] == "application/json"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    binary = requests.get(f"{echo.url}/things/x?binary", timeout=10)
    assert binary.status_code == 200
    assert binary.content == bytes(range(256))


def test_function_environment_is_resolved_and_isolated(echo: RunnerHandle) -> None:
    data = echoed(requests.post(f"{echo.url}/things/x", data="x", timeout=10))
    env = data["env"]
    assert env["FN_VAR"] == "echo"
    assert env["TABLE_NAME"] == echo.table
    assert env["BUCKET_NAME"] == echo.bucket
    assert env["RETENTION_DAYS"] == "42"
    assert env["AWS_ENDPOINT_URL"] == echo.aws_endpoint
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "EchoFunction"
    assert "PYTHONPATH" not in env  # the runner's own path is not leaked into the function
    assert data["sys_path"][0].endswith(os.path.join("functions", "echo"))
    assert data["sys_path"][1] == str(ROOT / "layers" / "lodge" / "python")
    assert 0 < data["remaining_ms"] <= 2000


def test_worker_stays_warm_between_requests(echo: RunnerHandle) -> None:
    first = echoed(requests.post(f"{echo.url}/things/x", data="x", timeout=10))
    second = echoed(requests.post(f"{echo.url}/things/x", data="x", timeout=10))
    assert second["pid"] == first["pid"]
    assert second["calls"] == first["calls"] + 1


def test_crashed_worker_is_a_502_and_is_replaced(echo: RunnerHandle) -> None:
    before = echoed(requests.post(f"{echo.url}/things/x", data="x", timeout=10))
    crashed = requests.get(f"{echo.url}/things/x?crash", timeout=10)
    assert crashed.status_code == 502
    assert crashed.json() == {"message": "Internal Server Error"}
    after = echoed(requests.post(f"{echo.url}/things/x", data="x", timeout=10))
    assert after["pid"] != before["pid"]
    assert after["calls"] == 1


def test_timeout_kills_the_worker_and_answers_503(echo: RunnerHandle) -> None:
    response = requests.get(f"{echo.url}/things/x?sleep=5", timeout=10)
    assert response.status_code == 503
    assert response.json() == {"message": "Service Unavailable"}
    assert echoed(requests.post(f"{echo.url}/things/x", data="x", timeout=10))["calls"] == 1
    assert "Task timed out after 2.00 seconds" in echo.log()


def test_handler_exception_and_bad_response_are_502(echo: RunnerHandle) -> None:
    raised = requests.get(f"{echo.url}/things/x?raise", timeout=10)
    assert (raised.status_code, raised.json()) == (502, {"message": "Internal Server Error"})
    bad = requests.get(f"{echo.url}/things/x?bad", timeout=10)
    assert (bad.status_code, bad.json()) == (502, {"message": "Internal Server Error"})
    assert "RuntimeError: boom" in echo.log()
    assert "echo handled" in echo.log()  # the function's own stdout reaches the console


# ---- the real template -------------------------------------------------------------------------


def test_real_runner_answers_unknown_routes_like_api_gateway(runner: RunnerHandle) -> None:
    # Outside every protocol prefix (under one, the protocol's own error JSON answers: issue 14, below).
    response = requests.get(f"{runner.url}/nothing-here", timeout=10)
    assert (response.status_code, response.json()) == (404, {"message": "Not Found"})


@pytest.mark.parametrize(
    ("method", "path", "body_key"),
    [
        ("POST", "/api/1/", "err"),  # rollbar.js pointed at pyrollbar's base URL
        ("GET", "/api/1/nothing-here", "err"),
        ("GET", "/api/1/deploy", "err"),
        ("GET", "/1/log_entries", "error"),
        ("POST", "/api/1/log_entries/x", "error"),
        ("GET", "/api/5114f7e38c5ce90000000011/nothing.json", "error"),
        ("GET", "/events", "error"),
        ("GET", "/locate/a/b", "error"),
    ],
)
def test_unserved_paths_under_a_protocol_prefix_answer_its_error_json(
    runner: RunnerHandle, method: str, path: str, body_key: str
) -> None:
    response = requests.request(method, f"{runner.url}{path}", data="{}", timeout=30)
    assert response.status_code == 404, response.text
    body = response.json()
    assert body_key in body and path in json.dumps(body), body
    if body_key == "err":
        assert body["err"] == 1 and body["message"]  # what rollbar.js checks before it logs a failure


def test_new_project_gets_distinct_credentials(runner: RunnerHandle) -> None:
    project_id, credentials = runner.new_project("Other")
    assert project_id != runner.project_id
    assert credentials["rollbar_read"] != runner.credentials["rollbar_read"]
    store = runner.target.store()
    assert store.get_project(project_id)["name"] == "Other"
    assert store.get_project(runner.project_id)["name"] == "Demo"


needs_rollbar = pytest.mark.skipif(
    not (ROOT / "functions" / "rollbar_item" / "app.py").exists()
    or not (ROOT / "functions" / "rollbar_read" / "app.py").exists(),
    reason="functions/rollbar_item and rollbar_read are not written yet",
)


@needs_rollbar
def test_pyrollbar_shaped_item_round_trip(runner: RunnerHandle) -> None:
    occurrence = str(uuid.uuid4())
    item = demo_item(occurrence)  # exactly what `make dev` prints as its curl example
    posted = requests.post(f"{runner.url}/api/1/item/", json=item, timeout=30)
    assert posted.status_code == 200, posted.text
    assert posted.json()["result"]["uuid"] == occurrence
    read = requests.get(
        f"{runner.url}/api/1/item/",
        params={"uuid": occurrence},
        headers={"X-Rollbar-Access-Token": runner.credentials["rollbar_read"]},
        timeout=30,
    )
    assert read.status_code == 200, read.text
    result = read.json()["result"]  # Rollbar answers with the item the occurrence was grouped into
    assert result["project_id"] == runner.project_id
    assert result["environment"] == "production"
    assert "ZeroDivisionError" in json.dumps(result)
    _other_project, other = runner.new_project("Isolation")
    hidden = requests.get(
        f"{runner.url}/api/1/item/",
        params={"uuid": occurrence},
        headers={"X-Rollbar-Access-Token": other["rollbar_read"]},
        timeout=30,
    )
    assert hidden.status_code == 404, hidden.text


INVOKE_HOME = tempfile.mkdtemp(prefix="lodge-invoke-")


def run_invoke(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m lodge_devtools.invoke ARGS` as `make invoke` runs it."""
    return subprocess.run(
        [sys.executable, "-m", "lodge_devtools.invoke", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "PYTHONPATH": f"{ROOT / 'devtools'}{os.pathsep}{ROOT / 'layers' / 'lodge' / 'python'}",
            "LODGE_HOME": INVOKE_HOME,  # never the developer's .lodge/ (local data, a running make dev)
        },
    )


def test_invoke_twin_runs_every_sample_event() -> None:
    events = sorted((ROOT / "events").glob("*.json"))
    pairs = [(e, e.stem) for e in events if (ROOT / "functions" / e.stem / "app.py").exists()]
    if not pairs:
        pytest.skip("no events/<function>.json with a written function yet")
    for event_file, function in pairs:
        result = run_invoke(function, "-e", str(event_file))
        assert result.returncode == 0, result.stderr
        response = json.loads(result.stdout)
        # Every sample runs to a protocol answer (crashlog_locate is a 404 until its report is stored).
        assert 200 <= response["statusCode"] < 500, (event_file.name, response)
        assert isinstance(response.get("body", ""), str)


def test_invoke_twin_on_a_throwaway_function(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    (tmp_path / "functions" / "echo").mkdir(parents=True)
    (tmp_path / "functions" / "echo" / "app.py").write_text(ECHO)
    event = {
        "version": "2.0",
        "routeKey": "POST /things/{thing_id}",
        "rawPath": "/things/1",
        "rawQueryString": "",
        "headers": {},
        "requestContext": {"http": {"method": "POST", "path": "/things/1"}},
        "isBase64Encoded": False,
    }
    (tmp_path / "event.json").write_text(json.dumps(event))
    result = run_invoke(
        "EchoFunction", "-e", str(tmp_path / "event.json"), "--template", str(tmp_path / "template.yaml")
    )
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)  # stdout holds the response alone
    assert response["statusCode"] == 201
    body = json.loads(response["body"])
    assert body["env"]["FN_VAR"] == "echo"
    assert body["env"]["TABLE_NAME"] == "lodge-local"
    assert "echo handled" in result.stderr  # the function's own print went to stderr


def test_invoke_twin_reports_a_handler_error(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    (tmp_path / "functions" / "echo").mkdir(parents=True)
    (tmp_path / "functions" / "echo" / "app.py").write_text(ECHO)
    (tmp_path / "event.json").write_text(json.dumps({"queryStringParameters": {"raise": "1"}, "routeKey": "GET /"}))
    result = run_invoke("echo", "-e", str(tmp_path / "event.json"), "--template", str(tmp_path / "template.yaml"))
    assert result.returncode == 1
    assert json.loads(result.stdout)["errorType"] == "RuntimeError"
    assert "boom" in result.stderr


def test_lodge_cli_finds_the_runner_and_its_tokens_work(runner: RunnerHandle) -> None:
    """bin/lodge against the running emulation: a new project's token posts; a rotated-out one is refused."""

    def lodge(*args: str) -> Any:
        done = subprocess.run(
            [str(ROOT / "bin" / "lodge"), "--state-file", str(runner.state_file), *args, "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    created = lodge("project", "create", "CLI project")
    assert created["project_id"] in {p["project_id"] for p in lodge("project", "list")}
    token = created["credentials"]["rollbar_post_server_item"]
    item = {"data": {"environment": "test", "body": {"message": {"body": "from the CLI's project"}}}}
    ok = requests.post(f"{runner.url}/api/1/item/", json=item, headers={"X-Rollbar-Access-Token": token}, timeout=30)
    assert ok.status_code == 200, ok.text
    rotated = lodge("token", "rotate", created["project_id"], "rollbar_post_server_item")
    assert rotated["revoked"] == 1 and rotated["token"] != token
    fresh = requests.post(
        f"{runner.url}/api/1/item/", json=item, headers={"X-Rollbar-Access-Token": rotated["token"]}, timeout=30
    )
    assert fresh.status_code == 200, fresh.text


def test_console_is_one_masked_line_per_request_and_function_output_goes_to_a_log_file(runner: RunnerHandle) -> None:
    token = runner.credentials["personal"]
    response = requests.get(
        f"{runner.url}/api/{runner.project_id}/samples.json", params={"token": token, "limit": 1}, timeout=30
    )
    assert response.status_code == 200, response.text
    requests.get(f"{runner.url}/nothing-here", timeout=10)
    console = runner.log().split("Ctrl-C to stop.", 1)[1]  # after the banner (which shows the demo credentials)
    assert f"GET /api/{runner.project_id}/samples.json?token=***&limit=1 200 " in console
    assert "GET /nothing-here 404 " in console
    assert token not in console
    assert "No application metrics to publish" not in console and '"_aws"' not in console
    function_log = (runner.state_file.parent / "logs" / "functions.log").read_text()
    assert "[AppsignalQueryFunction]" in function_log
