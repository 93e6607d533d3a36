"""The first hour of a new user (issue 14): the README's Quick start verbatim on a fresh clone, local
data that survives a restart (and kill -9), a taken port, the masked access log, `make invoke`."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import ROOT

pytestmark = pytest.mark.integration


def quick_start_blocks() -> list[str]:
    """The ```sh blocks of the README's Quick start section, as written."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh clone: the tracked files as they are in the working tree, plus the shared installs.

    The venvs are linked in (a clone would build them on its first `make dev`, ~1 min); the
    requirements files get an old mtime so make sees the installs as up to date.
    """
    target = tmp_path_factory.mktemp("clone") / "lodge"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source = ROOT / name
        if source.is_file() and not source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    for link in (".venv", ".venv-sam", "node_modules"):
        if (ROOT / link).exists():
            (target / link).symlink_to((ROOT / link).resolve())
    for requirements in target.glob("**/requirements*.txt"):
        os.utime(requirements, (0, 0))
    return target


def start_make_dev(clone: Path, log: Path) -> subprocess.Popen[bytes]:
    """`make dev` as the README says, on a free port (make takes ARGS from the environment too)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "LODGE_"))}
    env["ARGS"] = "--port 0"
    with open(log, "ab") as out:
        return subprocess.Popen(
            ["make", "dev"], cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_for_runner(clone: Path, process: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + 90
    state_file = clone / ".lodge" / "runner.json"
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        if state_file.exists():
            state = json.loads(state_file.read_text())
            if state.get("pid") != process.pid and _answers(state["url"]):
                return str(state["url"])
        time.sleep(0.2)
    raise AssertionError(f"make dev did not start:\n{log.read_text()}")


def _answers(url: str) -> bool:
    try:
        requests.get(url + "/ping", timeout=2)
    except requests.ConnectionError:
        return False
    return True


def stop(process: subprocess.Popen[bytes], sig: int) -> None:
    os.killpg(process.pid, sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_quick_start_verbatim_then_restart_keeps_the_project_and_its_issue(clone: Path, tmp_path: Path) -> None:
    blocks = quick_start_blocks()
    assert len(blocks) == 2 and blocks[0].strip().startswith("make dev"), "Quick start: make dev, then a 2nd terminal"
    log = tmp_path / "make-dev.log"
    started = time.monotonic()
    runner = start_make_dev(clone, log)
    try:
        wait_for_runner(clone, runner, log)
        shell = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", blocks[1]], cwd=clone, capture_output=True, text=True, timeout=120
        )
        assert shell.returncode == 0, shell.stderr
        assert time.monotonic() - started < 120, "first error visible within two minutes"
        listed = json.loads(shell.stdout.strip().splitlines()[-1])  # the last command: the issue, as JSON
        items = listed["result"]["items"]
        assert [i["title"] for i in items] == ["ZeroDivisionError: division by zero"], listed
        assert "ROLLBAR_POST_SERVER_ITEM" in shell.stderr  # the credentials were shown, once
        time.sleep(3)  # longer than the ~2 s snapshot interval
        stop(runner, signal.SIGKILL)  # the harshest restart: nothing runs on the way down
        assert "Traceback" not in log.read_text()
        runner = start_make_dev(clone, log)
        url = wait_for_runner(clone, runner, log)
        assert "restored" in log.read_text()
        elsewhere = tmp_path / "elsewhere"  # bin/lodge from any directory, through a symlink on the PATH
        elsewhere.mkdir()
        (elsewhere / "lodge").symlink_to(clone / "bin" / "lodge")
        projects = subprocess.run(
            ["./lodge", "project", "list", "--json"], cwd=elsewhere, capture_output=True, text=True, timeout=60
        )
        assert projects.returncode == 0, projects.stderr
        mine = [p for p in json.loads(projects.stdout) if p["name"] == "My app"]
        assert len(mine) == 1
        token = re.search(r"LODGE_ROLLBAR_READ='?([^'\s]+)", shell.stderr)
        assert token is not None
        again = requests.get(f"{url}/api/1/items/", headers={"X-Rollbar-Access-Token": token.group(1)}, timeout=30)
        assert again.status_code == 200, again.text
        assert [i["title"] for i in again.json()["result"]["items"]] == ["ZeroDivisionError: division by zero"]
        stop(runner, signal.SIGINT)  # Ctrl-C (make itself then exits by the signal): no traceback
        assert "Traceback" not in log.read_text() and "KeyboardInterrupt" not in log.read_text()
    finally:
        if runner.poll() is None:
            stop(runner, signal.SIGKILL)


def test_a_taken_port_is_one_line_with_the_way_out(clone: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "LODGE_"))}
        done = subprocess.run(
            ["make", "--no-print-directory", "dev", f"ARGS=--port {port} --data-dir {clone / 'other-data'}"],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "OSError" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.startswith("lodge:")]
    assert f"port {port}" in line and "already in use" in line and "--port" in line


def test_every_sample_event_answers_through_make_invoke(clone: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "LODGE_"))}
    env["LODGE_HOME"] = str(clone / ".lodge-invoke")  # not the data of the Quick start's runner
    answers = {}
    for event in sorted((clone / "events").glob("*.json")):
        done = subprocess.run(
            ["make", "--no-print-directory", "-s", "invoke", f"EVENT=events/{event.name}"],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, (event.name, done.stderr[-2000:])
        answers[event.name] = json.loads(done.stdout.strip().splitlines()[-1])["statusCode"]
    # Every sample succeeds. crashlog_locate too: invoke stores the sample report it locates first, and
    # CrashLog answers a found location with its documented 301 redirect.
    expected = {name: (301 if name == "crashlog_locate.json" else "2xx") for name in answers}
    assert {n: ("2xx" if 200 <= s < 300 else s) for n, s in answers.items()} == expected
    assert len(answers) == len(list((ROOT / "events").glob("*.json")))


def test_make_invoke_without_an_event_is_a_usage_line(clone: Path) -> None:
    for args in (
        ["invoke"],
        ["invoke", "EVENT=events/nope.json"],
        ["invoke", "FN=nope", "EVENT=events/rollbar_item.json"],
    ):
        done = subprocess.run(["make", "--no-print-directory", "-s", *args], cwd=clone, capture_output=True, text=True)
        assert done.returncode != 0
        assert "Traceback" not in done.stderr and "usage: make invoke EVENT=" in done.stderr, done.stderr
