"""Docker-less twin of `sam local invoke`: run one function once with an event file.

    python -m lodge_devtools.invoke rollbar_item -e events/rollbar_item.json [--endpoint-url URL]

The function's logs go to stderr and its response, as JSON, alone to stdout (pipe it to `jq`).
Without an endpoint it runs against an in-process moto with the table and bucket created from the
template and the demo project present, so the sample events (demo credentials) succeed.
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

from lodge_devtools import template
from lodge_devtools.sam_app import DEFAULT_BUCKET, DEFAULT_TABLE, FunctionSpec, load_app
from lodge_devtools.target import Target, ensure_demo_project
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lodge_devtools.invoke", description=__doc__.split("\n")[0])
    parser.add_argument("function", help="logical id (RollbarItemFunction) or directory name (rollbar_item)")
    parser.add_argument("-e", "--event", default="-", help="event JSON file ('-' = stdin)")
    parser.add_argument("--endpoint-url", help="run against this AWS endpoint (e.g. a running `make dev`'s emulation)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--table", default=DEFAULT_TABLE)
    parser.add_argument("--bucket", default=DEFAULT_BUCKET)
    parser.add_argument("--template", type=Path, default=template.TEMPLATE)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    app = load_app(args.template, table=args.table, bucket=args.bucket)
    try:
        spec = app.function(args.function)
    except KeyError as error:
        print(error.args[0], file=sys.stderr)
        return 2
    source = sys.stdin if args.event == "-" else open(args.event, encoding="utf-8")  # noqa: SIM115
    with source:
        event = json.load(source)
    emulated = not args.endpoint_url
    target = Target(args.table, args.bucket, endpoint_url=args.endpoint_url, region=args.region, emulated=emulated)
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    os.environ.update(worker_env(spec, target.aws_env()))
    with contextlib.ExitStack() as stack:
        if emulated:
            from moto import mock_aws

            stack.enter_context(mock_aws())
            target.provision()
            ensure_demo_project(target.store())
        ok, response = run_handler(spec, event)
    print(json.dumps(response))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
