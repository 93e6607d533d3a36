"""One warm "execution environment" of a function for the local runner, run as its own process.

Started as `python -I worker.py CODE_DIR LAYER_DIR HANDLER IN_FD OUT_FD`: -I keeps the runner's
PYTHONPATH and this directory off sys.path, so the handler sees what Lambda gives it - its own code
dir first, then the layer, then the installed packages. The runner talks to it over two extra pipe
fds with length-prefixed JSON frames; stdout and stderr stay free for the function's logs.
Only the standard library is imported here, so the measured cold start is the function's own.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from typing import Any

HEADER = 4


def read_frame(fd: int) -> Any:
    """Blocking read of one frame; None at end of stream (the runner went away)."""
    header = _read_exact(fd, HEADER)
    if header is None:
        return None
    body = _read_exact(fd, int.from_bytes(header, "big"))
    return None if body is None else json.loads(body)


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = os.read(fd, size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def write_frame(fd: int, message: Any) -> None:
    data = json.dumps(message, separators=(",", ":")).encode("utf-8")
    view = memoryview(len(data).to_bytes(HEADER, "big") + data)
    while view:
        view = view[os.write(fd, view) :]


class Context:
    """The Lambda context object the handler (and Powertools) read."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.invoked_function_arn = (
            f"arn:aws:lambda:{os.environ.get('AWS_REGION', 'us-east-1')}:123456789012:function:{name}"
        )
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _error(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    """Log like the Lambda Python runtime does, and describe the error for the runner."""
    kind = error_type or type(error).__name__
    print(f"[ERROR] {kind}: {error}", file=sys.stderr)
    traceback.print_exception(error, file=sys.stderr)
    sys.stderr.flush()
    return {"errorType": kind, "errorMessage": str(error)}


def main(argv: list[str]) -> int:
    code_dir, layer_dir, handler_name, in_fd, out_fd = argv[0], argv[1], argv[2], int(argv[3]), int(argv[4])
    # Ctrl-C in the runner's terminal reaches the whole process group; the runner stops its workers itself
    # (and a worker whose runner died sees end-of-file on its request pipe and exits).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.path[:0] = [code_dir, layer_dir]
    module_name, _, function_name = handler_name.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except BaseException as error:  # init failure: report it, then exit like a failed Lambda init
        write_frame(out_fd, {"init_error": _error(error, "Runtime.ImportModuleError")})
        return 1
    write_frame(out_fd, {"ready": True})
    while True:
        request = read_frame(in_fd)
        if request is None:
            return 0
        context = Context(request["request_id"], int(request["deadline_ms"]))
        try:
            result = handler(request["event"], context)
            reply: dict[str, Any] = {"result": json.loads(json.dumps(result))}
        except Exception as error:
            reply = {"error": _error(error)}
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        write_frame(out_fd, reply)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
