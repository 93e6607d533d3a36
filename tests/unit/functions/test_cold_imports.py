"""What an ingest function's cold start imports: each handler in a fresh interpreter with the
environment template.yaml gives it, as the bench measures it (bench/coldstart.py).

Import discipline, not timing (timing is `make bench`'s job): no boto3 (Lodge builds its clients on
botocore, lodge.aws), no console templates, no scan of installed distributions for pydantic
plugins (PYDANTIC_DISABLE_PLUGINS in the template's Globals), and init ends by freezing what it
built (lodge.coldstart).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench import env

INGEST_FUNCTIONS = ["rollbar_item", "appsignal_push", "crashlog_events", "sentry_ingest"]
NEVER_IMPORTED = ["boto3", "jinja2", "lodge.console"]

_PROBE = r"""
import gc, importlib.metadata, importlib.util, json, sys
scans = []
def entry_points(*args, **kwargs):
    scans.append(kwargs)
    return ()
importlib.metadata.entry_points = entry_points  # pydantic's plugin loader looks it up here
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["app"] = module
spec.loader.exec_module(module)
print(json.dumps({"scans": len(scans), "modules": sorted(sys.modules), "frozen": gc.get_freeze_count()}))
"""


@pytest.mark.parametrize("function", INGEST_FUNCTIONS)
def test_ingest_cold_start_imports_only_what_a_request_needs(function: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(env.ROOT / "functions" / function / "app.py")],
        env=env.subprocess_environment(function),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=env.ROOT,
        check=True,
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert "app" in found["modules"] and "lodge.occurrence" in found["modules"]  # the probe did load it
    assert [name for name in NEVER_IMPORTED if name in found["modules"]] == []
    assert found["scans"] == 0, "pydantic scanned installed distributions for plugins"
    # lodge.coldstart.init_done() at the end of the handler module: the collector no longer re-scans
    # what init built (the first full collection comes while botocore loads the service model).
    assert found["frozen"] > 10000, "the handler module does not end with lodge.coldstart.init_done()"
