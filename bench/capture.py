"""Capture what a handler writes to stdout and stderr (file descriptors 1 and 2), as Lambda ships
both to CloudWatch Logs: Powertools Logger and Metrics (EMF) print to stdout."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


class Captured:
    stdout: bytes = b""
    stderr: bytes = b""

    @property
    def size(self) -> int:
        return len(self.stdout) + len(self.stderr)


@contextmanager
def output() -> Iterator[Captured]:
    result = Captured()
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            yield result
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            out.seek(0)
            err.seek(0)
            result.stdout = out.read()
            result.stderr = err.read()
