"""Warm worker processes per function, the way Lambda keeps execution environments.

Each function gets a small pool: a request takes an idle worker or starts a new one (a cold start),
so concurrent requests run in parallel and module state stays per process. A worker that crashes,
times out or answers garbage is killed and replaced on the next request.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from lodge_devtools import worker as protocol
from lodge_devtools.sam_app import FunctionSpec

WORKER_SCRIPT = Path(protocol.__file__).resolve()
INIT_TIMEOUT = 10.0
"""Lambda's init phase limit."""
_BASE_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TZ", "SYSTEMROOT", "VIRTUAL_ENV")


class InvokeError(Exception):
    """The invocation failed; `kind` is "timeout", "crash", "init" or "handler"."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass
class _Frame:
    fd: int
    buffer: bytearray

    def read(self, deadline: float) -> Any:
        """One frame, waiting at most until `deadline` (monotonic)."""
        import json

        while True:
            if len(self.buffer) >= protocol.HEADER:
                size = int.from_bytes(self.buffer[: protocol.HEADER], "big")
                if len(self.buffer) >= protocol.HEADER + size:
                    body = bytes(self.buffer[protocol.HEADER : protocol.HEADER + size])
                    del self.buffer[: protocol.HEADER + size]
                    return json.loads(body)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                chunk = os.read(self.fd, 1 << 20)
                if not chunk:
                    raise EOFError
                self.buffer += chunk


def _pump(stream: IO[bytes], sink: IO[str], prefix: str) -> None:
    """Copy a worker's output to the console or the function log, line by line, tagged with the function."""
    for line in iter(stream.readline, b""):
        try:
            sink.write(f"{prefix} {line.decode('utf-8', 'replace').rstrip()}\n")
            sink.flush()
        except ValueError:  # the log file was closed at shutdown
            break
    stream.close()


class Worker:
    def __init__(
        self, spec: FunctionSpec, env: Mapping[str, str], layer_dir: Path, log_sink: IO[str] | None = None
    ) -> None:
        self.spec = spec
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-u",
                str(WORKER_SCRIPT),
                str(spec.code_dir),
                str(layer_dir),
                spec.handler,
                str(to_worker_r),
                str(from_worker_w),
            ],
            env=dict(env),
            cwd=spec.code_dir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(to_worker_r, from_worker_w),
        )
        os.close(to_worker_r)
        os.close(from_worker_w)
        self._out = to_worker_w
        self._in = _Frame(from_worker_r, bytearray())
        sinks = (log_sink, log_sink) if log_sink is not None else (sys.stdout, sys.stderr)
        for stream, sink in zip((self.process.stdout, self.process.stderr), sinks, strict=True):
            assert stream is not None
            threading.Thread(target=_pump, args=(stream, sink, f"[{spec.logical_id}]"), daemon=True).start()

    def wait_ready(self) -> None:
        try:
            message = self._in.read(time.monotonic() + INIT_TIMEOUT)
        except TimeoutError as error:
            raise InvokeError("timeout", "init phase timed out") from error
        except EOFError as error:
            raise InvokeError("crash", "worker exited during init") from error
        if not message.get("ready"):
            raise InvokeError("init", str(message.get("init_error")))

    def invoke(self, event: dict[str, Any], request_id: str) -> Any:
        deadline_ms = int((time.time() + self.spec.timeout) * 1000)
        try:
            protocol.write_frame(self._out, {"event": event, "request_id": request_id, "deadline_ms": deadline_ms})
            reply = self._in.read(time.monotonic() + self.spec.timeout)
        except TimeoutError as error:
            raise InvokeError("timeout", f"Task timed out after {self.spec.timeout:.2f} seconds") from error
        except (EOFError, OSError) as error:
            raise InvokeError("crash", "worker exited") from error
        if "error" in reply:
            raise InvokeError("handler", str(reply["error"]))
        return reply.get("result")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for fd in (self._out, self._in.fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    def stop(self) -> None:
        """Graceful stop: closing the request pipe makes the worker's loop end."""
        with contextlib.suppress(OSError):
            os.close(self._out)
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(OSError):
            os.close(self._in.fd)


class FunctionPool:
    """The warm workers of one function (at most `max_workers`; extra requests wait their turn).

    The workers' stdout and stderr go to `log_sink` (a log file) when given, else to the console."""

    def __init__(
        self,
        spec: FunctionSpec,
        env: Mapping[str, str],
        layer_dir: Path,
        max_workers: int = 4,
        log_sink: IO[str] | None = None,
    ) -> None:
        self.spec = spec
        self.log_sink = log_sink
        self.env = dict(env)
        self.layer_dir = layer_dir
        self.max_workers = max_workers
        self._idle: list[Worker] = []
        self._count = 0
        self._cond = threading.Condition()
        self._closed = False

    def _acquire(self) -> Worker:
        with self._cond:
            while not self._idle and self._count >= self.max_workers:
                self._cond.wait()
            if self._closed:
                raise InvokeError("crash", "runner is shutting down")
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            worker = Worker(self.spec, self.env, self.layer_dir, self.log_sink)
        except OSError as error:
            self._discard(None)
            raise InvokeError("crash", f"could not start worker: {error}") from error
        try:
            worker.wait_ready()
        except InvokeError:
            self._discard(worker)
            raise
        return worker

    def _discard(self, worker: Worker | None) -> None:
        if worker is not None:
            worker.kill()
        with self._cond:
            self._count -= 1
            self._cond.notify()

    def invoke(self, event: dict[str, Any], request_id: str | None = None) -> Any:
        worker = self._acquire()
        try:
            result = worker.invoke(event, request_id or str(uuid.uuid4()))
        except InvokeError as error:
            if error.kind == "handler":  # an exception in the handler leaves the environment warm
                self._release(worker)
            else:
                self._discard(worker)
            raise
        self._release(worker)
        return result

    def _release(self, worker: Worker) -> None:
        with self._cond:
            if self._closed:
                self._count -= 1
                worker.stop()
                return
            self._idle.append(worker)
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for worker in idle:
            worker.stop()


def worker_env(spec: FunctionSpec, aws_env: Mapping[str, str]) -> dict[str, str]:
    """A Lambda-like environment: a few OS basics, the AWS target, Lambda's own variables, the function's."""
    env = {k: os.environ[k] for k in _BASE_ENV if k in os.environ}
    env.update(aws_env)
    env.update(
        {
            "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(spec.timeout)),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.logical_id}",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
        }
    )
    env.update(spec.environment)
    return env
