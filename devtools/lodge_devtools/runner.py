"""Docker-less twin of `sam local start-api`: serve template.yaml's HttpApi routes on 127.0.0.1:3000.

Each request becomes the API Gateway payload-2.0 event and runs in a warm worker process of its
function (see workers.py), with the layer on its path and the function's environment from the
template. AWS is moto's server on a free loopback port, unless `--endpoint-url`/`AWS_ENDPOINT_URL`
points elsewhere (DynamoDB Local, or a real account with real credentials). Gateway behaviour
that clients can observe is emulated: route selection, 404 `{"message":"Not Found"}`, CORS from the
template's CorsConfiguration, 502 for a crashed function or a malformed response, 503 on timeout,
413 over API Gateway's 10 MB payload limit.

Local data persists: the embedded moto's table and bucket are snapshotted under `.lodge/data/`
(persistence.py) and restored on the next start; `--fresh` starts empty. The console shows one line
per request (method, path with credentials masked, status, ms); the functions' own output (Powertools
logs and metrics) goes to `.lodge/logs/functions.log`, or to the console with `--function-logs -`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import errno
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import IO, Any
from urllib.parse import unquote_plus, urlsplit

from lodge_devtools import apigw, demo, persistence, queues, streams, template
from lodge_devtools.sam_app import DEFAULT_BUCKET, DEFAULT_TABLE, App, Cors, load_app
from lodge_devtools.target import STATE_FILE, Target, ensure_demo_project, pid_alive, read_state, write_state
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
LISTEN_BACKLOG = 128
"""Pending connections the kernel queues for us (socketserver's default of 5 resets bursts of new clients)."""
_SECRET_PARAM = re.compile(r"(token|key|secret|password|passwd|signature|auth|credential|session)", re.IGNORECASE)


def mask_credentials(target: str) -> str:
    """The request target for the access log, with credential-like query values (`api_key=`, `token=`,
    `access_token=`, `sentry_key=`, ...) replaced by `***`."""
    path, sep, query = target.partition("?")
    if not sep:
        return target
    parts = []
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        if eq and value and _SECRET_PARAM.search(unquote_plus(name)):
            pair = f"{name}=***"
        parts.append(pair)
    return f"{path}?{'&'.join(parts)}"


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


LINGER_SECONDS = 5.0
"""How long an early answer waits for the rest of an unread body before closing (see `finish`)."""


def _linger(connection: socket.socket, seconds: float = LINGER_SECONDS, limit: int = 4 * MAX_PAYLOAD) -> None:
    """Half-close after the answer, then read and drop what the client still sends, until it closes
    (or `seconds` pass, or `limit` bytes arrive)."""
    try:
        connection.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + seconds
        drained = 0
        while drained < limit:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            connection.settimeout(left)
            chunk = connection.recv(65536)
            if not chunk:
                return
            drained += len(chunk)
    except OSError:
        return


class LodgeServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self, address: tuple[str, int], app: App, pools: Mapping[str, FunctionPool], quiet: bool = False
    ) -> None:
        super().__init__(address, RequestHandler)
        self.app = app
        self.pools = pools
        self.quiet = quiet
        self.log_lock = threading.Lock()
        self.before_dispatch: Callable[[], None] | None = None  # digest hook (lodge_devtools.streams)


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    server: LodgeServer
    server_version = "lodge-local"
    _status: int | None = None
    """The status answered to the current request (for the access log line)."""
    sys_version = ""
    _body_unread = False
    """An answer went out before the request body was read (413, a too long line or header, ...)."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # http.server's own refusals (414 request line, 431 header, 400 malformed) come before the body.
        self._body_unread = True
        super().send_error(code, message, explain)

    def finish(self) -> None:
        """A lingering close after an early answer, as web servers do: closing a socket with unread
        data resets the connection, so a client still sending its body (a 12 MB upload answered 413)
        would see a broken pipe instead of the answer. Half-close, then drain the rest (bounded)."""
        super().finish()
        if self._body_unread:
            _linger(self.connection)

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
        self._status = status
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
            self._body_unread = True
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
        self._status = None
        try:
            self._route()
        finally:
            if self._status is not None and not self.server.quiet:
                took = (time.monotonic() - started) * 1000
                line = f"{self.command} {mask_credentials(self.path)} {self._status} {took:.0f} ms\n"
                with self.server.log_lock:
                    sys.stderr.write(line)
                    sys.stderr.flush()

    def _route(self) -> None:
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

    def _log_failure(self, function: str, kind: str, detail: str) -> None:
        with self.server.log_lock:
            sys.stderr.write(f"[{function}] invocation failed ({kind}): {detail}\n")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _dispatch logs every answered request: method, masked path, status, duration

    def log_error(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            super().log_error(format, *args)


for _method in METHODS:
    setattr(RequestHandler, f"do_{_method}", RequestHandler._dispatch)


# ---- startup -------------------------------------------------------------------------------------


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
    from lodge.protocols.sentry.auth import dsn as sentry_dsn  # the layer, as the CLI imports lodge.auth

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
        f"Console: {url}/console/  (sign in with the personal token above)",
        "",
        "pyrollbar:",
        "  import rollbar",
        f"  rollbar.init('{creds['rollbar_post_server_item']}', 'production', endpoint='{url}/api/1/')",
        "  rollbar.report_message('hello from pyrollbar')",
        "",
        # Sentry (issue 13): one additive line; the DSN helper lives in the layer.
        f"Sentry SDKs: dsn='{sentry_dsn(url, creds['sentry_dsn'], demo.DEMO_PROJECT_ID)}'",
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make dev ARGS=...", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000, help="0 picks a free port (default 3000)")
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
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="local data snapshots (default: data/ next to the state file)"
    )
    parser.add_argument("--fresh", action="store_true", help="start with empty local data (deletes the snapshot)")
    parser.add_argument(
        "--save-interval", type=float, default=2.0, help="seconds between snapshots of changed local data"
    )
    parser.add_argument(
        "--function-logs",
        default=None,
        metavar="FILE",
        help="where the functions' own output goes (default: logs/functions.log next to the state file; - = console)",
    )
    parser.add_argument("--max-workers", type=int, default=4, help="warm workers per function")
    parser.add_argument("--quiet", action="store_true", help="do not log requests")
    parser.add_argument(
        "--sync-digest",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="digest the stream before each request, so reads see every earlier write (default; "
        "--no-sync-digest leaves it to the poller, which lags by about a second, like AWS by seconds)",
    )
    return parser


def _raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


class StartupError(Exception):
    """Startup cannot go on; the message is the one line the user sees."""


def port_taken_message(host: str, port: int, state_file: Path) -> str:
    """One line: who holds the port (a Lodge runner, if its state file says so) and how to pick another."""
    state = read_state(state_file) or {}
    holder = "something else"
    if state.get("url", "").endswith(f":{port}") and pid_alive(state.get("pid")):
        holder = f"Lodge (pid {state['pid']}, {state['url']})"
    return (
        f"lodge: port {port} on {host} is already in use by {holder}; stop it, or pick another port: "
        f'make dev ARGS="--port {port + 1}"'
    )


def bind(args: argparse.Namespace, app: App) -> LodgeServer:
    """Take the port first, so a second `make dev` fails in a second with one line, before moto starts."""
    try:
        return LodgeServer((args.host, args.port), app, {}, args.quiet)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise StartupError(port_taken_message(args.host, args.port, args.state_file)) from None
        raise StartupError(f"lodge: cannot listen on {args.host}:{args.port}: {error.strerror}") from None


def open_function_log(args: argparse.Namespace) -> tuple[IO[str] | None, str]:
    """(sink for the workers' output or None for the console, where it is)."""
    where = args.function_logs or str(args.state_file.parent / "logs" / "functions.log")
    if where == "-":
        return None, "console"
    path = Path(where)
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "a", encoding="utf-8", buffering=1), str(path)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return serve(args)
    except StartupError as error:
        print(error, file=sys.stderr)
        return 1


def serve(args: argparse.Namespace) -> int:
    app = load_app(args.template, table=args.table, bucket=args.bucket)
    server = bind(args, app)
    moto_server = None
    autosave: persistence.Autosave | None = None
    data_lock = None
    data_dir: Path = args.data_dir or args.state_file.parent / "data"
    pools: dict[str, FunctionPool] = {}
    log_sink, log_where = open_function_log(args)
    digest: streams.RunnerDigest | None = None
    signal.signal(signal.SIGTERM, _raise_exit)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started in the background (inherited SIG_IGN)
    try:
        restored = None
        if args.endpoint_url or args.aws:
            target = Target(args.table, args.bucket, endpoint_url=args.endpoint_url or None, region=args.region)
            target.provision()
        else:
            try:
                data_lock = persistence.lock_data_dir(data_dir)
            except persistence.DataDirBusy as busy:
                raise StartupError(
                    f"lodge: another runner (pid {busy}) uses the local data in {data_dir}; stop it first, "
                    "or give this one its own with --data-dir DIR"
                ) from None
            if args.fresh:
                persistence.clear(data_dir)
            moto_server, endpoint, tracker = persistence.start_tracked_moto()
            target = Target(args.table, args.bucket, endpoint_url=endpoint, region=args.region, emulated=True)
            target.provision()
            snapshots = persistence.Snapshots(
                data_dir,
                target.client("dynamodb"),
                target.client("s3"),
                target.table,
                target.bucket,
                read_items=persistence.in_process_reader(target.table, target.region),
            )
            try:
                restored = snapshots.restore()
            except (ValueError, KeyError) as error:
                raise StartupError(
                    f"lodge: the local data in {data_dir} cannot be read ({error}); move it away, or start empty "
                    "with make dev ARGS=--fresh"
                ) from None
            tracker.take()  # the restore itself is not a change
            # Background jobs that follow the emulation start here and stop in `finally` (autosave; the
            # stream poller of the digest starts once the function pools exist, below).
            autosave = persistence.Autosave(snapshots, tracker, args.save_interval)
            autosave.start()
        if args.demo and ensure_demo_project(target.store()) and autosave is not None:
            autosave.tracker.mark("dynamodb")
        aws_env = target.aws_env()
        alert_queues = queues.setup(target, app)  # SQS queues, topics and event sources (issue 11)
        pools = {
            name: FunctionPool(spec, worker_env(spec, aws_env), LAYER_DIR, args.max_workers, log_sink)
            for name, spec in app.functions.items()
        }
        server.pools = pools
        alert_queues.start({name: pool.invoke for name, pool in pools.items()})
        # The digest's event source mapping (issue 16); a restored snapshot was digested before it was saved.
        digest = streams.start_for_runner(
            target,
            pools,
            skip_backlog=bool(restored and restored[0]),
            dead_letter_url=alert_queues.refs.get("DigestDeadLetterQueue"),
        )
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
            **alert_queues.state(),
        }
        write_state(args.state_file, state)
        print(
            f"Lodge is running on {url}  (AWS: {target.endpoint_url or 'real AWS'}, table {target.table}, "
            f"bucket {target.bucket})"
        )
        if restored is not None:
            items, objects = restored
            what = f"restored {items} items, {objects} objects" if items or objects else "empty"
            print(f"Local data: {data_dir} ({what}; saved as it changes; make dev ARGS=--fresh starts empty)")
        print(f"Function logs: {log_where}")
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
        server.server_close()
        for pool in pools.values():
            pool.close()
        if autosave is not None:
            autosave.stop()  # the last snapshot, after the workers are gone
        if moto_server is not None:
            threading.Thread(target=moto_server.stop, daemon=True).start()
        if (read_state(args.state_file) or {}).get("pid") == os.getpid():
            args.state_file.unlink()
        if log_sink is not None:
            log_sink.close()
        if data_lock is not None:
            data_lock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
