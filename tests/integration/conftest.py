"""The local runner in a subprocess, for integration tests over real HTTP on loopback.

`runner` (session-scoped) serves the real template.yaml with the demo project; `launch_runner`
starts another one (e.g. on a throwaway template) for tests that need their own functions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from lodge import auth
from lodge_devtools.demo import DEMO_CREDENTIALS, DEMO_PROJECT_ID
from lodge_devtools.target import Target

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0


@dataclass
class RunnerHandle:
    url: str
    aws_endpoint: str
    table: str
    bucket: str
    log_path: Path
    state_file: Path
    project_id: str = DEMO_PROJECT_ID
    credentials: dict[str, str] = field(default_factory=lambda: dict(DEMO_CREDENTIALS))

    @property
    def target(self) -> Target:
        return Target(self.table, self.bucket, endpoint_url=self.aws_endpoint, emulated=True)

    def new_project(self, name: str) -> tuple[str, dict[str, str]]:
        """Create another project in the runner's emulation (for cross-project isolation tests)."""
        return auth.create_project(self.target.store(), name)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def launch_runner(workdir: Path, *args: str) -> Iterator[RunnerHandle]:
    """Start `python -m lodge_devtools.runner --port 0 --demo ARGS` and wait until it answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    state_file = workdir / "runner.json"
    log_path = workdir / "runner.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "devtools"), str(ROOT / "layers" / "lodge" / "python")])
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lodge_devtools.runner",
                "--port",
                "0",
                "--demo",
                "--sync-digest",  # reads see every earlier write digested (counts, listings)
                "--state-file",
                str(state_file),
                *args,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        handle = _wait_ready(process, state_file, log_path)
        yield handle
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(process: subprocess.Popen[bytes], state_file: Path, log_path: Path) -> RunnerHandle:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"runner exited with {process.returncode}:\n{log_path.read_text()}")
        if state_file.exists():
            state = json.loads(state_file.read_text())
            try:
                requests.get(state["url"] + "/__ready__", timeout=2)
            except requests.ConnectionError:
                pass
            else:
                return RunnerHandle(
                    state["url"], state["aws_endpoint"], state["table"], state["bucket"], log_path, state_file
                )
        time.sleep(0.1)
    raise RuntimeError(f"runner did not start within {START_TIMEOUT}s:\n{log_path.read_text()}")


@pytest.fixture(scope="session")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunnerHandle]:
    """The runner serving the real template.yaml, with the demo project's credentials."""
    with launch_runner(tmp_path_factory.mktemp("runner")) as handle:
        yield handle
