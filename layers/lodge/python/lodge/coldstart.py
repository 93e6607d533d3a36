"""The end of a function's init: freeze what the imports built, so the garbage collector stops re-scanning it.

Importing an ingest handler builds ~30,000 tracked objects (modules, functions, pydantic's
validators, Powertools' logger) that live as long as the process. CPython's cyclic collector
walks every tracked object at each full collection, and the first full collection falls while
botocore loads DynamoDB's service model (the first request): ~15-25 ms of CPU spent finding that
module state is still alive (`make bench`, bench/coldstart.py). `gc.freeze()` moves the objects that
exist now into the permanent generation, which collections skip. Nothing else changes: reference
counting still frees them, the collector stays enabled for everything built later, and the only
cost is that a reference cycle already unreachable at that moment is never collected (a settled
import leaves a few dozen such objects).

Only in a Lambda runtime (AWS_LAMBDA_FUNCTION_NAME is set there, by the local runner's workers and
by the bench), once per process: a test session that imports handlers keeps its collector as is.
"""

from __future__ import annotations

import gc
import os

_frozen = False


def init_done() -> None:
    """Called as the last statement of a handler module."""
    global _frozen
    if _frozen or not os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return
    _frozen = True
    gc.freeze()
