"""Run fuzz cases: in-process against the real handlers on moto, or over HTTP through the local runner.

In-process, each handler is called exactly as Lambda calls it (an API Gateway payload-2.0 event, a
context), inside `mock_aws` with the table and bucket built from template.yaml and the demo project
(fixed credentials). Every log record that carries a traceback is caught at the logging layer and
classified by exception type and the innermost project frame, so a run reports 500s, tracebacks,
exceptions that escaped the handler (API Gateway would answer 502) and timeouts, per endpoint.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import signal
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

from tests.helpers import FakeLambdaContext

ROOT = Path(__file__).resolve().parents[2]
for _name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL") or n in ("AWS_PROFILE", "AWS_SESSION_TOKEN")]:
    del os.environ[_name]
for _key, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "TABLE_NAME": "lodge-fuzz",
    "BUCKET_NAME": "lodge-fuzz-payloads",
    "POWERTOOLS_METRICS_NAMESPACE": "LodgeFuzz",
    "POWERTOOLS_SERVICE_NAME": "lodge-fuzz",
}.items():
    os.environ.setdefault(_key, _value)

CASE_TIMEOUT_SECONDS = 10.0
"""The functions' Timeout in template.yaml: a case that runs longer would be killed by Lambda."""


class Timeout(Exception):
    pass


@dataclass
class Outcome:
    status: int | str
    """The HTTP status, or "escaped" (exception out of the handler), "timeout", "bad-response",
    "gateway-502" (over HTTP: the runner answered for a crashed function or a malformed response)."""
    tracebacks: list[str] = field(default_factory=list)
    """Signatures of log records that carried a traceback during the case."""
    escaped: str | None = None
    seconds: float = 0.0

    @property
    def signatures(self) -> list[str]:
        return [*self.tracebacks, *([self.escaped] if self.escaped else [])]


def signature(error: BaseException | None, tb: TracebackType | None) -> str:
    """`ExcType @ file:function` of the innermost frame in the project's layer or functions."""
    kind = type(error).__name__ if error is not None else "Error"
    where = "?"
    for frame, _line in traceback.walk_tb(tb):
        filename = Path(frame.f_code.co_filename)
        try:
            relative = filename.resolve().relative_to(ROOT)
        except ValueError:
            continue
        if relative.parts[0] in ("layers", "functions", "devtools"):
            where = f"{relative}:{frame.f_code.co_name}"
    return f"{kind} @ {where}"


class _TracebackCatcher(logging.Handler):
    """Collects a signature for every record logged with exc_info (logger.exception and the like).

    One instance per logger it is attached to (Powertools puts a filter on the root logger's
    handlers that drops its own records), all sharing `sink`, deduplicated per record."""

    def __init__(self, sink: dict[int, str]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and id(record) not in self.sink:
            _type, error, tb = record.exc_info
            self.sink[id(record)] = signature(error, tb)

    def take(self) -> list[str]:
        taken = list(self.sink.values())
        self.sink.clear()
        return taken


class _NullStream(io.TextIOBase):
    """Where the handlers' own log lines go during a run (millions of them, none needed)."""

    def write(self, text: str) -> int:
        return len(text)


_NULL = _NullStream()


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Timeout("case exceeded the function timeout")


class InProcess:
    """The handlers in this process on moto, with the demo project and some stored data to read."""

    def __init__(self) -> None:
        self._sink: dict[int, str] = {}
        self.catcher = _TracebackCatcher(self._sink)
        self._powertools_catcher = _TracebackCatcher(self._sink)
        self._stack = contextlib.ExitStack()
        self._handlers: dict[str, Any] = {}
        self._poller: Any = None

    def __enter__(self) -> InProcess:
        from moto import mock_aws

        from lodge import auth, aws, config, scrubbing
        from lodge_devtools import emulation
        from lodge_devtools.target import ensure_demo_project

        self._stack.enter_context(mock_aws())
        aws.reset()
        auth.clear_cache()
        scrubbing.clear_cache()
        config.settings.cache_clear()
        emulation.provision(aws.dynamodb(), aws.s3(), os.environ["TABLE_NAME"], os.environ["BUCKET_NAME"])
        from lodge.storage import Store

        ensure_demo_project(Store())
        logging.getLogger().addHandler(self.catcher)
        self._stack.callback(logging.getLogger().removeHandler, self.catcher)
        self._stack.callback(aws.reset)
        self._stack.callback(auth.clear_cache)
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        self._seed_data()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def handler(self, function: str) -> Any:
        if function not in self._handlers:
            from lodge_devtools.handlers import load_function

            module = load_function(function)
            powertools = getattr(getattr(module, "logger", None), "_logger", None)
            if isinstance(powertools, logging.Logger):
                if self._powertools_catcher not in powertools.handlers:
                    powertools.addHandler(self._powertools_catcher)
                for handler in powertools.handlers:
                    if isinstance(handler, logging.StreamHandler):
                        handler.setStream(_NULL)  # quiet: tracebacks are counted above
            self._handlers[function] = module.lambda_handler
        return self._handlers[function]

    def invoke(self, function: str, event: dict[str, Any]) -> tuple[Outcome, dict[str, Any] | None]:
        handler = self.handler(function)
        self.catcher.take()
        started = time.monotonic()
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, CASE_TIMEOUT_SECONDS)
        result: dict[str, Any] | None = None
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                result = handler(event, FakeLambdaContext())
            outcome = Outcome(_status(result))
        except Timeout:
            outcome = Outcome("timeout")
        except Exception as error:
            outcome = Outcome("escaped", escaped=signature(error, error.__traceback__))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        outcome.seconds = time.monotonic() - started
        outcome.tracebacks = self.catcher.take()
        return outcome, result

    def _seed_data(self) -> None:
        """Store every real payload once, so the read endpoints have items, samples and a location."""
        from lodge.ingest import ingest
        from lodge.protocols.crashlog import mapping as crashlog
        from lodge.storage import Store
        from lodge_devtools.demo import DEMO_PROJECT_ID
        from tests.fuzz.endpoints import BY_NAME, LOCATION_ID
        from tests.fuzz.mutators import clone
        from tests.fuzz.strategies import valid_case

        for name in ("rollbar_item", "appsignal_push", "crashlog_events", "rollbar_deploy", "appsignal_markers"):
            endpoint = BY_NAME[name]
            for seed in endpoint.seeds():
                self.invoke(endpoint.function, valid_case(endpoint, clone(seed)).event())
        payload = json.loads((ROOT / "tests/fixtures/crashlog/ruby_1.0.7.json").read_text())["payload"]
        occurrence = crashlog.to_occurrence(DEMO_PROJECT_ID, payload, LOCATION_ID, time.time())
        ingest(Store(), DEMO_PROJECT_ID, [occurrence], time.time())
        self.drain_digest()  # counts and listings are the digest's (accept, then digest)
        self._console_session()

    def drain_digest(self) -> int:
        """Digest every record stored so far, as the stream's event source mapping would."""
        from lodge import aws
        from lodge_devtools.streams import StreamPoller, in_process_invoke

        if self._poller is None:
            self._poller = StreamPoller(aws.dynamodb(), os.environ["TABLE_NAME"], in_process_invoke())
        return int(self._poller.drain())

    def _console_session(self) -> None:
        """The signed-in console cases' cookie and CSRF token, sealed with this table's session key."""
        from lodge import auth
        from lodge.console import data, session
        from lodge.storage import Store
        from lodge_devtools.demo import DEMO_CREDENTIALS, DEMO_PROJECT_ID
        from tests.fuzz.endpoints import SESSION

        data.forget_session_key()
        self._stack.callback(data.forget_session_key)
        key = data.session_key()
        current = session.new_session(DEMO_PROJECT_ID, auth.hash_token(DEMO_CREDENTIALS["personal"]))
        issue = Store().issues(DEMO_PROJECT_ID)[0]
        SESSION.update(
            cookie=f"{session.SESSION_COOKIE}={session.seal(key, current)}",
            csrf=session.csrf_token(key, current.sid),
            issue=issue.id,
            occurrence=issue.last_occurrence_id or "none",
        )


def _status(result: Any) -> int | str:
    """The status of a well-formed payload-2.0 response, else "bad-response"."""
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        return "bad-response"
    body = result.get("body", "")
    if not isinstance(body, str):
        return "bad-response"
    try:
        json.dumps(result)  # what the Lambda runtime does with it
    except (TypeError, ValueError):
        return "bad-response"
    return int(result["statusCode"])


# ---- over HTTP through the local runner --------------------------------------------------------


@contextlib.contextmanager
def runner(workdir: Path) -> Iterator[Any]:
    """The Docker-less local runner on an ephemeral port (the integration tests' launcher)."""
    from tests.integration.conftest import launch_runner

    with launch_runner(workdir) as handle:
        yield handle


def send_http(base_url: str, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> int | str:
    """One request with raw bytes on the wire (http.client; no client-side normalization)."""
    import http.client
    from urllib.parse import quote, urlsplit

    parts = urlsplit(base_url)
    raw_path, raw_query = path.encode("utf-8", "surrogatepass"), query.encode("utf-8", "surrogatepass")
    target = quote(raw_path, safe="/%:@!$&'()*+,;=-._~") + (
        f"?{quote(raw_query, safe='=&%+:;/,@!$()*-._~')}" if query else ""
    )
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value.encode("utf-8", "surrogatepass").replace(b"\r", b"").replace(b"\n", b""))
        connection.putheader("Content-Length", str(len(body)))
        # The server may answer (413, 414) and close before reading the whole body: read its answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.endheaders(body)
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException) as error:
        return f"http-error:{type(error).__name__}"
    finally:
        connection.close()


_WORKER_PREFIX = re.compile(r"^\[[A-Za-z0-9_]+\] ")


def _traceback_signature(lines: list[str], kind: str | None = None) -> str:
    """`ExcType @ file:function` from the text of a traceback (innermost project frame)."""
    where = "?"
    for line in lines:
        stripped = line.strip()
        if stripped.startswith('File "') and str(ROOT) in stripped and "site-packages" not in stripped:
            file_part, _, func = stripped.partition(", in ")
            where = f"{file_part.split(chr(34))[1].replace(str(ROOT) + '/', '')}:{func}"
        elif kind is None and line and not line.startswith(" ") and not stripped.startswith("Traceback"):
            kind = line.split(":", 1)[0].rsplit(".", 1)[-1]
            break
    return f"{kind or 'Error'} @ {where}"


def log_tracebacks(text: str) -> Counter[str]:
    """Traceback classes in a runner log: plain tracebacks (a worker's stderr) and Powertools JSON
    lines with an `exception` field, each line possibly prefixed with the function's `[LogicalId]`."""
    found: Counter[str] = Counter()
    lines = [_WORKER_PREFIX.sub("", line) for line in text.splitlines()]
    for index, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            found[_traceback_signature(lines[index + 1 : index + 200])] += 1
        elif line.startswith("{") and '"exception"' in line:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("exception"), str):
                name = record.get("exception_name")
                found[
                    _traceback_signature(record["exception"].splitlines(), name if isinstance(name, str) else None)
                ] += 1
    return found
