"""Docker-less twin of `sam local start-api`: serve template.yaml's HttpApi routes on 127.0.0.1:3000.

Each request becomes the API Gateway payload-2.0 event and runs in a warm worker process of its
function (see workers.py), with the layer on its path and the function's environment from the
template. AWS is moto's server on a free loopback port, unless `--endpoint-url`/`AWS_ENDPOINT_URL`
points elsewhere (DynamoDB Local, or a real account with real credentials). Gateway behaviour
that clients can observe is emulated: route selection, 404 `{"message":"Not Found"}`, CORS from the
template's CorsConfiguration, 502 for a crashed function or a malformed response, 503 on timeout,
413 over API Gateway's 10 MB payload limit.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

from lodge_devtools import apigw, demo, streams, template
from lodge_devtools.sam_app import DEFAULT_BUCKET, DEFAULT_TABLE, App, Cors, load_app
from lodge_devtools.target import STATE_FILE, Target, ensure_demo_project, read_state, write_state
from lodge_devtools.workers import FunctionPool, InvokeError, worker_env

LAYER_DIR = template.ROOT / "layers" / "lodge" / "python"
MAX_PAYLOAD = 10 * 1024 * 1024
"""API Gateway HTTP API's request payload limit."""
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive", "date"}
_STATUS_MESSAGES = {
    404: "Not Found",
    413: "Request Entity Too Large",
    400: "Bad Request",
    502: "Internal Server Error",
    503: "Service Unavailable",
}


class BadResponse(ValueError):
    """The function's return value is not a valid payload-2.0 response (API Gateway answers 502)."""


def shape_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Turn a handler's return value into (status, headers, body) the way API Gateway does."""
    if not isinstance(result, dict):
        raise BadResponse(f"handler returned {type(result).__name__}, not an object")
    if "statusCode" not in result:  # payload 2.0 inference: the whole object is a JSON 200 body
        return 200, [("Content-Type", "application/json")], json.dumps(result).encode()
    status = result["statusCode"]
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise BadResponse(f"invalid statusCode {status!r}")
    headers: list[tuple[str, str]] = []
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    cookies = result.get("cookies") or []
    if not isinstance(single, dict) or not isinstance(multi, dict) or not isinstance(cookies, list):
        raise BadResponse("headers, multiValueHeaders and cookies must be an object, an object and a list")
    for name, value in single.items():
        if isinstance(value, (dict, list)) or value is None:
            raise BadResponse(f"header {name!r} is not a scalar")
        headers.append((str(name), _scalar(value)))
    for name, values in multi.items():
        for value in values if isinstance(values, list) else [values]:
            headers.append((str(name), _scalar(value)))
    headers.extend(("Set-Cookie", str(cookie)) for cookie in cookies)
    body = result.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        raise BadResponse("body must be a string")
    elif result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as error:
            raise BadResponse("body is not valid base64") from error
    else:
        data = body.encode("utf-8", "surrogateescape")
    return status, headers, data


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def cors_headers(cors: Cors, origin: str) -> list[tuple[str, str]]:
    """The CORS headers API Gateway adds to an actual (non-preflight) response."""
    allowed = cors.allowed_origin(origin)
    if not allowed:
        return []
    headers = [("Access-Control-Allow-Origin", allowed)]
    if cors.expose_headers:
        headers.append(("Access-Control-Expose-Headers", ",".join(cors.expose_headers)))
    if cors.allow_credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    if allowed != "*":
        headers.append(("Vary", "Origin"))
    return headers


def preflight_headers(cors: Cors, origin: str, request_method: str, request_headers: str) -> list[tuple[str, str]]:
    """API Gateway's answer to an OPTIONS preflight; an origin or method it does not allow gets no CORS headers."""
    allowed = cors.allowed_origin(origin)
    method = request_method.strip().upper()
    if not allowed or not method or ("*" not in cors.allow_methods and method not in cors.allow_methods):
        return []
    asked = [h.strip().lower() for h in request_headers.split(",") if h.strip()]
    if "*" not in cors.allow_headers and any(h not in cors.allow_headers for h in asked):
        return []
    headers = [
        ("Access-Control-Allow-Origin", allowed),
        ("Access-Control-Allow-Methods", ",".join(cors.allow_methods)),
    ]
    if cors.allow_headers:
        headers.append(("Access-Control-Allow-Headers", ",".join(cors.allow_headers)))
    if cors.max_age is not None:
        headers.append(("Access-Control-Max-Age", str(cors.max_age)))
    if cors.allow_credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    if allowed != "*":
        headers.append(("Vary", "Origin"))
    return headers


class LodgeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: App, pools: Mapping[str, FunctionPool], quiet: bool) -> None:
        super().__init__(address, RequestHandler)
        self.app = app
        self.pools = pools
        self.quiet = quiet
        self.before_dispatch: Callable[[], None] | None = None  # digest hook (lodge_devtools.streams)


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    server: LodgeServer
    server_version = "lodge-local"
    sys_version = ""

    def _read_body(self) -> bytes | None:
        """The full request body (Content-Length or chunked); None after answering an error."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = bytearray()
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    self._gateway_error(400)
                    return None
                if size == 0:
                    while self.rfile.readline(8192).strip():
                        pass  # trailers
                    return bytes(body)
                if len(body) + size > MAX_PAYLOAD:
                    self._gateway_error(413)
                    return None
                body += self.rfile.read(size)
                self.rfile.readline(8)
        raw_length = self.headers.get("Content-Length")
        if not raw_length:
            return b""
        try:
            length = int(raw_length)
            if length < 0:
                raise ValueError
        except ValueError:
            self._gateway_error(400)
            return None
        if length > MAX_PAYLOAD:
            self._gateway_error(413)
            return None
        return self.rfile.read(length)

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes, request_id: str) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Apigw-Requestid", request_id)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def _gateway_error(self, status: int, request_id: str | None = None) -> None:
        if status in (400, 413):
            self.close_connection = True  # the body was not (fully) read
        body = json.dumps({"message": _STATUS_MESSAGES[status]}).encode()
        headers = [("Content-Type", "application/json")]
        origin = self.headers.get("Origin", "")
        if self.server.app.cors and origin:
            headers += cors_headers(self.server.app.cors, origin)
        self._send(status, headers, body, request_id or str(uuid.uuid4()))

    def _dispatch(self) -> None:
        if self.server.before_dispatch is not None:  # --sync-digest: digest everything first
            self.server.before_dispatch()
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        body = self._read_body()
        if body is None:
            return
        split = urlsplit(self.path)
        path = split.path or "/"
        app = self.server.app
        origin = self.headers.get("Origin", "")
        if self.command == "OPTIONS" and app.cors is not None:
            headers = preflight_headers(
                app.cors,
                origin,
                self.headers.get("Access-Control-Request-Method", ""),
                self.headers.get("Access-Control-Request-Headers", ""),
            )
            self._send(204, headers, b"", request_id)
            return
        found = app.match(self.command, path)
        if found is None:
            self._gateway_error(404, request_id)
            return
        route, params = found
        client_ip = self.client_address[0]
        header_pairs = list(self.headers.items())
        header_pairs += [
            ("X-Forwarded-For", client_ip),
            ("X-Forwarded-Port", str(self.server.server_address[1])),
            ("X-Forwarded-Proto", "http"),
        ]
        event = apigw.build_event(
            self.command,
            path,
            raw_query=split.query,
            headers=header_pairs,
            body=body,
            route_key=route.route_key,
            path_parameters=params,
            source_ip=client_ip,
        )
        event["requestContext"]["requestId"] = request_id
        try:
            result = self.server.pools[route.function].invoke(event, request_id)
            status, headers, data = shape_response(result)
        except InvokeError as error:
            self._log_failure(route.function, error.kind, str(error))
            self._gateway_error(503 if error.kind == "timeout" else 502, request_id)
            return
        except BadResponse as error:
            self._log_failure(route.function, "response", str(error))
            self._gateway_error(502, request_id)
            return
        headers = [(k, v) for k, v in headers if k.lower() not in _HOP_BY_HOP]
        if app.cors is not None:  # with CORS configured, API Gateway ignores the function's CORS headers
            headers = [(k, v) for k, v in headers if not k.lower().startswith("access-control-")]
            headers += cors_headers(app.cors, origin)
        self._send(status, headers, data, request_id)
        if not self.server.quiet:
            took = (time.monotonic() - started) * 1000
            sys.stderr.write(f"{self.command} {self.path} -> {status} ({route.function}, {took:.0f} ms)\n")

    def _log_failure(self, function: str, kind: str, detail: str) -> None:
        sys.stderr.write(f"[{function}] invocation failed ({kind}): {detail}\n")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _dispatch logs routed requests with their function and duration

    def log_error(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            super().log_error(format, *args)


for _method in METHODS:
    setattr(RequestHandler, f"do_{_method}", RequestHandler._dispatch)


# ---- startup -------------------------------------------------------------------------------------


def start_moto() -> tuple[Any, str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log drowns the functions' logs
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def demo_item(occurrence: str) -> dict[str, Any]:
    """A Rollbar item as pyrollbar sends it for an exception, from the demo project."""
    return {
        "access_token": demo.DEMO_CREDENTIALS["rollbar_post_server_item"],
        "data": {
            "environment": "production",
            "level": "error",
            "language": "python 3.11.7",
            "notifier": {"name": "pyrollbar", "version": "1.5.0"},
            "uuid": occurrence,
            "timestamp": int(time.time()),
            "server": {"host": "demo-host"},
            "body": {
                "trace": {
                    "frames": [{"filename": "app.py", "lineno": 3, "method": "<module>"}],
                    "exception": {"class": "ZeroDivisionError", "message": "division by zero"},
                }
            },
        },
    }


def demo_text(url: str) -> str:
    """The demo project's credentials and copy-paste examples."""
    creds = demo.DEMO_CREDENTIALS
    occurrence = str(uuid.uuid4())
    item = demo_item(occurrence)
    width = max(len(k) for k in creds)
    lines = [
        f"Demo project {demo.DEMO_PROJECT_NAME!r} (id {demo.DEMO_PROJECT_ID}) - local only:",
        *(f"  {kind:<{width}}  {token}" for kind, token in creds.items()),
        "",
        "Send a Rollbar item (pyrollbar's shape) and read it back:",
        f"  curl -s {url}/api/1/item/ -H 'Content-Type: application/json' \\",
        f"    -H 'X-Rollbar-Access-Token: {creds['rollbar_post_server_item']}' \\",
        f"    -d '{json.dumps(item)}'",
        f"  curl -s '{url}/api/1/item/?uuid={occurrence}' -H 'X-Rollbar-Access-Token: {creds['rollbar_read']}'",
        "",
        "pyrollbar:",
        "  import rollbar",
        f"  rollbar.init('{creds['rollbar_post_server_item']}', 'production', endpoint='{url}/api/1/')",
        "  rollbar.report_message('hello from pyrollbar')",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lodge_devtools.runner", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000, help="0 picks a free port")
    parser.add_argument("--demo", action="store_true", help="create the demo project and print its credentials")
    parser.add_argument(
        "--endpoint-url",
        default=os.environ.get("AWS_ENDPOINT_URL"),
        help="use this AWS endpoint (DynamoDB Local, ...) instead of an embedded moto server",
    )
    parser.add_argument("--aws", action="store_true", help="use real AWS (default credentials) instead of moto")
    parser.add_argument(
        "--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    )
    parser.add_argument("--table", default=DEFAULT_TABLE)
    parser.add_argument("--bucket", default=DEFAULT_BUCKET)
    parser.add_argument("--template", type=Path, default=template.TEMPLATE)
    parser.add_argument("--state-file", type=Path, default=STATE_FILE, help="where the admin CLI finds this runner")
    parser.add_argument("--max-workers", type=int, default=4, help="warm workers per function")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    parser.add_argument("--sync-digest", action="store_true", help="digest the stream before each request (tests)")
    return parser


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    app = load_app(args.template, table=args.table, bucket=args.bucket)
    moto_server = None
    if args.endpoint_url or args.aws:
        target = Target(args.table, args.bucket, endpoint_url=args.endpoint_url or None, region=args.region)
    else:
        moto_server, endpoint = start_moto()
        target = Target(args.table, args.bucket, endpoint_url=endpoint, region=args.region, emulated=True)
    pools: dict[str, FunctionPool] = {}
    server: LodgeServer | None = None
    digest: streams.RunnerDigest | None = None
    signal.signal(signal.SIGTERM, _raise_exit)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background (inherited SIG_IGN)
    try:
        target.provision()
        if args.demo:
            ensure_demo_project(target.store())
        aws_env = target.aws_env()
        pools = {
            name: FunctionPool(spec, worker_env(spec, aws_env), LAYER_DIR, args.max_workers)
            for name, spec in app.functions.items()
        }
        server = LodgeServer((args.host, args.port), app, pools, args.quiet)
        digest = streams.start_for_runner(target, pools)
        if digest is not None and args.sync_digest:
            server.before_dispatch = digest.drain
        url = f"http://{args.host}:{server.server_address[1]}"
        state = {
            "url": url,
            "aws_endpoint": target.endpoint_url,
            "region": target.region,
            "table": target.table,
            "bucket": target.bucket,
            "emulated": target.emulated,
            "pid": os.getpid(),
        }
        write_state(args.state_file, state)
        print(
            f"Lodge is running on {url}  (AWS: {target.endpoint_url or 'real AWS'}, table {target.table}, "
            f"bucket {target.bucket})"
        )
        for route in sorted(app.routes, key=lambda r: (r.path, r.method)):
            print(f"  {route.method:<7} {url}{route.path}  -> {route.function}")
        if args.demo:
            print()
            print(demo_text(url))
        print("\nCtrl-C to stop.", flush=True)
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the cleanup
        if digest is not None:
            digest.stop()
        if server is not None:
            server.server_close()
        for pool in pools.values():
            pool.close()
        if moto_server is not None:
            threading.Thread(target=moto_server.stop, daemon=True).start()
        if server is not None and (read_state(args.state_file) or {}).get("pid") == os.getpid():
            args.state_file.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
