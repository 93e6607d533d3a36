"""Where Lodge's data lives for the dev tools: an emulator endpoint (moto, DynamoDB Local) or real AWS.

The runner, the invoke twin and the admin CLI all talk to the table and bucket through explicit
clients built here, so none of them mutates its own process environment to reach an endpoint.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lodge_devtools import demo, template

if TYPE_CHECKING:
    from lodge.storage import Store

LODGE_HOME = Path(os.environ.get("LODGE_HOME") or template.ROOT / ".lodge")
"""The git-ignored directory of local state: runner.json, data/ (snapshots), logs/. LODGE_HOME moves it."""
STATE_FILE = LODGE_HOME / "runner.json"
DATA_DIR = LODGE_HOME / "data"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
_PASS_THROUGH = (
    "AWS_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_S3",
)


@dataclass(frozen=True)
class Target:
    table: str
    bucket: str
    endpoint_url: str | None = None
    """None means real AWS (default credential chain and endpoints)."""
    region: str = "us-east-1"
    emulated: bool = False
    """True for an emulator we own (moto): dummy credentials are used whatever the environment says."""
    api_url: str | None = None
    """The HTTP API's base URL when known (a deployed stack's ApiUrl output)."""

    def aws_env(self) -> dict[str, str]:
        """Environment variables that make botocore (in a worker) reach this target."""
        env = {"AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region, "AWS_EC2_METADATA_DISABLED": "true"}
        if self.emulated:
            env.update(DUMMY_CREDENTIALS)
        else:
            env.update({k: os.environ[k] for k in _PASS_THROUGH if k in os.environ})
            if self.endpoint_url and "AWS_ACCESS_KEY_ID" not in env and "AWS_PROFILE" not in env:
                env.update(DUMMY_CREDENTIALS)  # DynamoDB Local and friends need some credentials
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        return env

    def client(self, service: str) -> Any:
        from botocore.config import Config

        session = botocore_session()
        kwargs: dict[str, Any] = {"region_name": self.region, "config": Config(retries={"max_attempts": 3})}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        if self.emulated or (self.endpoint_url and not session.get_credentials()):
            kwargs["aws_access_key_id"] = DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"]
            kwargs["aws_secret_access_key"] = DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
        return session.create_client(service, **kwargs)

    def store(self) -> Store:
        from lodge.config import settings
        from lodge.storage import Store

        config = dataclasses.replace(settings(), table_name=self.table, bucket_name=self.bucket)
        return Store(config=config, dynamodb=self.client("dynamodb"), s3=self.client("s3"))

    def provision(self) -> None:
        from lodge_devtools import emulation

        emulation.provision(self.client("dynamodb"), self.client("s3"), self.table, self.bucket)


@functools.cache
def botocore_session() -> Any:
    """One session per process: each new session reloads the service models (~0.5 s per client)."""
    import botocore.session

    return botocore.session.get_session()


def ensure_demo_project(store: Store) -> bool:
    """Create the fixed-credential demo project unless it exists; True when it was created."""
    from lodge import auth

    if store.get_project(demo.DEMO_PROJECT_ID) is not None:
        return False
    auth.create_project(store, demo.DEMO_PROJECT_NAME, project_id=demo.DEMO_PROJECT_ID, fixed=demo.DEMO_CREDENTIALS)
    return True


def write_state(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_state(path: Path = STATE_FILE) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


def pid_alive(pid: Any) -> bool:
    """Whether a process with this id exists (a runner's pid from its state file)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def resource_refs(
    args: Any, target: Target, outputs: dict[str, str], queues: tuple[str, ...], required: tuple[str, ...]
) -> dict[str, str]:
    """Logical id -> URL/ARN/name of a target's queues and the like, for the CLI commands that
    reach them: from the stack's outputs (`outputs`: logical id -> output key) with `--stack`,
    else the running local runner's state file, else the queues found by name at the endpoint
    (those in `required` must exist)."""
    from lodge_devtools.cli import CliError
    from lodge_devtools.queues import queue_names

    if getattr(args, "stack", None):
        stack = target.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
        found = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        return {name: found[key] for name, key in outputs.items() if key in found}
    if not getattr(args, "endpoint_url", None):
        state = read_state(getattr(args, "state_file", None) or STATE_FILE) or {}
        if state.get("queues"):
            return dict(state["queues"])
    names = queue_names(target.table)
    sqs = target.client("sqs")
    refs: dict[str, str] = {}
    for name in queues:
        try:
            refs[name] = sqs.get_queue_url(QueueName=names[name])["QueueUrl"]
        except Exception as error:
            if name in required:
                raise CliError(f"no queue {names[name]} at this target") from error
    return refs
