"""Docker-less twin of `sam local invoke`: run one function once with an event file.

    make invoke EVENT=events/rollbar_item.json [FN=rollbar_item] [ARGS="--endpoint-url URL"]
    python -m lodge_devtools.invoke [FUNCTION] -e EVENT

The function is the one the template routes the event's `routeKey` to, unless FUNCTION names one
(logical id or directory). The function's logs go to stderr and its response, as JSON, alone to
stdout (pipe it to `jq`). Data: a running `make dev`'s emulation when there is one, else an
in-process moto holding the local data (`.lodge/data`, restored and saved back) with the demo
project present, so the sample events (demo credentials) succeed. CrashLog events signed with the
demo key are re-signed with the demo secret and the current Date, since their recorded Date is
outside the replay window a few minutes after it was taken. A `/locate/{location_id}` event whose
location is not stored yet (Lodge mints location ids when it stores a report, so a sample file's id
never is) is pointed at a location made for it: events/crashlog_events.json is stored first and its
answer's location id put into the event.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import signal
import sys
import time
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from lodge_devtools import demo, template
from lodge_devtools.sam_app import DEFAULT_BUCKET, DEFAULT_TABLE, App, FunctionSpec, load_app
from lodge_devtools.target import DATA_DIR, STATE_FILE, Target, ensure_demo_project, pid_alive, read_state
from lodge_devtools.worker import Context
from lodge_devtools.workers import worker_env

LAYER_DIR = template.ROOT / "layers" / "lodge" / "python"


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to fd 1 (print, logging handlers made meanwhile) to stderr."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _timed_out(signum: int, frame: FrameType | None) -> None:
    raise TimeoutError("Task timed out")


def run_handler(spec: FunctionSpec, event: Any) -> tuple[bool, Any]:
    """Import and call the handler the way Lambda does; (ok, response or error description)."""
    sys.path[:0] = [str(spec.code_dir), str(LAYER_DIR)]
    module_name, _, function_name = spec.handler.rpartition(".")
    cached = sys.modules.get(module_name)
    if cached is not None and Path(getattr(cached, "__file__", "") or "").parent != spec.code_dir:
        del sys.modules[module_name]  # every function's handler module is `app`: another one's is cached
    request_id = str(uuid.uuid4())
    started = time.monotonic()
    print(f"START RequestId: {request_id} Version: $LATEST", file=sys.stderr)
    previous = signal.signal(signal.SIGALRM, _timed_out)
    signal.setitimer(signal.ITIMER_REAL, spec.timeout)
    try:
        with stdout_to_stderr():
            handler = getattr(importlib.import_module(module_name), function_name)
            context = Context(request_id, int((time.time() + spec.timeout) * 1000))
            result = handler(event, context)
            return True, json.loads(json.dumps(result))
    except Exception as error:
        kind = type(error).__name__
        print(f"[ERROR] {kind}: {error}", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        stack = traceback.format_tb(error.__traceback__)
        return False, {"errorMessage": str(error), "errorType": kind, "requestId": request_id, "stackTrace": stack}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        took = (time.monotonic() - started) * 1000
        print(f"END RequestId: {request_id}", file=sys.stderr)
        print(f"REPORT RequestId: {request_id}\tDuration: {took:.2f} ms", file=sys.stderr)


USAGE = "usage: make invoke EVENT=events/<file>.json [FN=<function>]   (sample events: ls events/)"


def resign_crashlog(event: dict[str, Any], now: float | None = None) -> bool:
    """Re-sign a CrashLog event made with the demo key: fresh Date, signature by the demo secret."""
    from email.utils import formatdate

    from lodge.protocols.crashlog import auth as crashlog_auth

    headers = event.get("headers") or {}
    names = {name.lower(): name for name in headers}
    parsed = crashlog_auth.parse_authorization(str(headers.get(names.get("authorization", ""), "")))
    if parsed is None or parsed[1] != demo.DEMO_CREDENTIALS["crashlog"]:
        return False
    date = formatdate(now if now is not None else time.time(), usegmt=True)
    method = str(((event.get("requestContext") or {}).get("http") or {}).get("method", "POST")).upper()
    canonical = crashlog_auth.canonical_string(
        method,
        str(headers.get(names.get("content-type", ""), "")),
        str(headers.get(names.get("content-md5", ""), "")),
        date,
        str(event.get("rawPath") or "/"),
    )
    signature = crashlog_auth.sign(demo.DEMO_CREDENTIALS["crashlog_secret"], canonical)
    headers[names.get("date", "date")] = date
    headers[names["authorization"]] = f"{parsed[0]} {parsed[1]}:{signature}"
    event["headers"] = headers
    return True


LOCATE_ROUTE = "GET /locate/{location_id}"
SAMPLE_REPORT = template.ROOT / "events" / "crashlog_events.json"


def point_at_fresh_location(app: App, target: Target, event: dict[str, Any]) -> str | None:
    """Store the sample CrashLog report and aim a locate event at its location; the new id, or None."""
    report = json.loads(SAMPLE_REPORT.read_text(encoding="utf-8"))
    resign_crashlog(report)
    spec = function_for(app, None, report)
    saved = dict(os.environ)
    os.environ.update(worker_env(spec, target.aws_env()))  # the report's function runs in its own environment
    try:
        ok, response = run_handler(spec, report)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    if not ok or response.get("statusCode") != 200:
        return None
    location_id = str(json.loads(response["body"])["location_id"])
    path = f"/locate/{location_id}"
    event["rawPath"] = path
    event.setdefault("requestContext", {}).setdefault("http", {})["path"] = path
    event["pathParameters"] = {**(event.get("pathParameters") or {}), "location_id": location_id}
    return location_id


def function_for(app: App, name: str | None, event: Any) -> FunctionSpec:
    """The named function, else the one the event's routeKey (`POST /events`) is routed to."""
    if name:
        return app.function(name)
    route_key = event.get("routeKey") if isinstance(event, dict) else None
    for route in app.routes:
        if route_key and route.route_key == route_key:
            return app.functions[route.function]
    raise KeyError(f"the event's routeKey {route_key!r} is no route of the template; name the function with FN=")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lodge_devtools.invoke", description=__doc__.split("\n")[0])
    parser.add_argument(
        "function", nargs="?", help="logical id (RollbarItemFunction) or directory (rollbar_item); default: by route"
    )
    parser.add_argument("-e", "--event", help="event JSON file ('-' = stdin)")
    parser.add_argument("--endpoint-url", help="run against this AWS endpoint (e.g. DynamoDB Local)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--table", default=DEFAULT_TABLE)
    parser.add_argument("--bucket", default=DEFAULT_BUCKET)
    parser.add_argument("--template", type=Path, default=template.TEMPLATE)
    parser.add_argument("--ephemeral", action="store_true", help="a throwaway emulation instead of the local data")
    parser.add_argument("--no-resign", action="store_true", help="keep a CrashLog event's recorded Date")
    return parser


def _usage_error(message: str) -> int:
    print(f"make invoke: {message}", file=sys.stderr)
    print(USAGE, file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args([a for a in (argv if argv is not None else sys.argv[1:]) if a])
    if not args.event:
        return _usage_error("no event file given")
    app = load_app(args.template, table=args.table, bucket=args.bucket)
    try:
        source = sys.stdin if args.event == "-" else open(args.event, encoding="utf-8")  # noqa: SIM115
        with source:
            event = json.load(source)
    except OSError as error:
        return _usage_error(f"cannot read {args.event}: {error.strerror}")
    except ValueError as error:
        return _usage_error(f"{args.event} is not JSON: {error}")
    try:
        spec = function_for(app, args.function, event)
    except KeyError as error:
        return _usage_error(error.args[0])
    if not args.no_resign and isinstance(event, dict) and resign_crashlog(event):
        print("(CrashLog event re-signed with the demo secret and the current Date)", file=sys.stderr)
    endpoint = args.endpoint_url
    if not endpoint and not args.ephemeral:
        runner = read_state(STATE_FILE)
        if runner and runner.get("emulated") and pid_alive(runner.get("pid")):
            endpoint = runner["aws_endpoint"]
            print(f"(running against the local runner's emulation, {runner['url']})", file=sys.stderr)
    target = Target(
        args.table,
        args.bucket,
        endpoint_url=endpoint,
        region=args.region,
        emulated=endpoint != args.endpoint_url or not endpoint,
    )
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    os.environ.update(worker_env(spec, target.aws_env()))
    with contextlib.ExitStack() as stack:
        snapshots = None
        if not endpoint:
            from moto import mock_aws

            from lodge_devtools import persistence

            stack.enter_context(mock_aws())
            target.provision()
            if not args.ephemeral:
                try:
                    stack.enter_context(persistence.lock_data_dir(DATA_DIR))
                except persistence.DataDirBusy:
                    print("(local data busy: this invocation runs on a throwaway emulation)", file=sys.stderr)
                else:
                    snapshots = persistence.Snapshots(
                        DATA_DIR, target.client("dynamodb"), target.client("s3"), args.table, args.bucket
                    )
                    snapshots.restore()
        ensure_demo_project(target.store())
        if isinstance(event, dict) and event.get("routeKey") == LOCATE_ROUTE and not args.no_resign:
            location_id = point_at_fresh_location(app, target, event)
            if location_id:
                print(f"(located a fresh report of events/crashlog_events.json: {location_id})", file=sys.stderr)
        ok, response = run_handler(spec, event)
        if snapshots is not None:
            snapshots.save()
    print(json.dumps(response))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
