"""`lodge`: create projects and manage their credentials, locally or in a deployed stack.

Tokens are stored only as SHA-256 hashes, so a token is shown exactly once: when it is created
(`project create`) or rotated (`token rotate`). `token list` shows each token's hash, labelled as
such, which `token revoke` accepts in place of the token.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lodge_devtools.sam_app import DEFAULT_BUCKET, DEFAULT_TABLE
from lodge_devtools.target import STATE_FILE, Target, read_state

if TYPE_CHECKING:
    from lodge.storage import Store

HASH_PREFIX = "sha256:"
REVOCATION_NOTE = "Warm functions cache token lookups for up to 60 s; revoked tokens stop working within a minute."

EPILOG = """\
target (where the table and bucket are):
  default               the running local runner (`make dev`), found through .lodge/runner.json
  --endpoint-url URL    any endpoint: DynamoDB Local, moto (table/bucket names: --table/--bucket)
  --stack NAME          a deployed stack: TableName and BucketName from its CloudFormation outputs
                        (AWS credentials from the usual places; --region or AWS_REGION)

credential kinds: rollbar_post_server_item rollbar_post_client_item rollbar_read rollbar_write
                  appsignal_push crashlog personal   (crashlog also gets its HMAC secret)

examples:
  lodge project create "My app"
  lodge --stack lodge project list
  lodge token list 5114f7e38c5ce90000000011
  lodge token rotate "My app" rollbar_post_server_item
  lodge token revoke "My app" sha256:3f1c...   (or the token itself)
"""


class CliError(Exception):
    """A failure worth one clear line, not a traceback; `code` is the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# ---- target -------------------------------------------------------------------------------------


def stack_target(stack: str, region: str | None) -> Target:
    from botocore.exceptions import BotoCoreError, ClientError

    from lodge_devtools.target import botocore_session

    session = botocore_session()
    region = region or session.get_config_variable("region") or "us-east-1"
    try:
        client = session.create_client("cloudformation", region_name=region)
        stacks: list[dict[str, Any]] = client.describe_stacks(StackName=stack)["Stacks"]
    except (BotoCoreError, ClientError) as error:
        raise CliError(f"cannot read stack {stack!r} in {region}: {error}") from error
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    missing = [key for key in ("TableName", "BucketName") if key not in outputs]
    if missing:
        raise CliError(f"stack {stack!r} has no output {', '.join(missing)} (is it a Lodge stack, fully deployed?)")
    return Target(outputs["TableName"], outputs["BucketName"], region=region)


def resolve_target(args: argparse.Namespace) -> Target:
    region = getattr(args, "region", None) or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if getattr(args, "stack", None):
        return stack_target(args.stack, region)
    table = getattr(args, "table", None)
    bucket = getattr(args, "bucket", None)
    if getattr(args, "endpoint_url", None):
        return Target(
            table or DEFAULT_TABLE,
            bucket or DEFAULT_BUCKET,
            endpoint_url=args.endpoint_url,
            region=region or "us-east-1",
        )
    state = read_state(getattr(args, "state_file", None) or STATE_FILE)
    if not state:
        raise CliError(
            "no running local runner found (start it with `make dev`), or choose a target with "
            "--endpoint-url URL or --stack NAME",
            2,
        )
    return Target(
        table or state["table"],
        bucket or state["bucket"],
        endpoint_url=state.get("aws_endpoint"),
        region=state.get("region", "us-east-1"),
        emulated=bool(state.get("emulated")),
    )


def find_project(store: Store, ref: str) -> dict[str, Any]:
    """A project by id, or by its name when exactly one project has it."""
    project = store.get_project(ref)
    if project is not None:
        return project
    named = [p for p in store.list_projects() if p.get("name") == ref]
    if len(named) == 1:
        return named[0]
    if named:
        raise CliError(f"{len(named)} projects are named {ref!r}; use the project id")
    raise CliError(f"no project {ref!r}")


# ---- commands -----------------------------------------------------------------------------------


def _when(epoch: Any) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(epoch))) if epoch else "-"


def _print_credentials(credentials: dict[str, str]) -> None:
    width = max(len(kind) for kind in credentials)
    for kind, value in credentials.items():
        print(f"  {kind:<{width}}  {value}")


def project_create(store: Store, args: argparse.Namespace) -> int:
    from lodge import auth

    project_id, credentials = auth.create_project(store, args.name)
    if args.json:
        print(json.dumps({"project_id": project_id, "name": args.name, "credentials": credentials}, indent=2))
        return 0
    print(f"Created project {args.name!r}: {project_id}")
    print("Credentials - shown only now, store them somewhere safe:")
    _print_credentials(credentials)
    return 0


def project_list(store: Store, args: argparse.Namespace) -> int:
    projects = store.list_projects()
    if args.json:
        rows = [
            {"project_id": p["id"], "name": p.get("name", ""), "created": int(p.get("created", 0))} for p in projects
        ]
        print(json.dumps(rows, indent=2))
        return 0
    if not projects:
        print("No projects. Create one with: lodge project create NAME")
        return 0
    print(f"{'PROJECT ID':<24}  {'CREATED (UTC)':<19}  NAME")
    for project in projects:
        print(f"{project['id']:<24}  {_when(project.get('created')):<19}  {project.get('name', '')}")
    return 0


def token_list(store: Store, args: argparse.Namespace) -> int:
    project = find_project(store, args.project)
    tokens = sorted(store.list_tokens(project["id"]), key=lambda t: (t.get("kind", ""), t.get("created", 0)))
    if args.json:
        rows = [
            {
                "kind": t.get("kind", ""),
                "label": t.get("label", ""),
                "created": int(t.get("created", 0)),
                "token_sha256": t["hash"],
                "rate_limit": int(t["rl"]) if t.get("rl") else None,
            }
            for t in tokens
        ]
        print(json.dumps(rows, indent=2))
        return 0
    print(f"Credentials of {project.get('name', '')!r} ({project['id']}). Tokens are stored only as hashes;")
    print("the last column is a token's SHA-256, not the token. `lodge token revoke` accepts it.")
    print(f"{'KIND':<24}  {'CREATED (UTC)':<19}  {'LABEL':<24}  TOKEN SHA-256")
    for token in tokens:
        print(
            f"{token.get('kind', ''):<24}  {_when(token.get('created')):<19}  {token.get('label', ''):<24}  "
            f"{HASH_PREFIX}{token['hash']}"
        )
    return 0


def token_rotate(store: Store, args: argparse.Namespace) -> int:
    from lodge import auth

    if args.kind not in auth.KINDS:
        raise CliError(f"unknown credential kind {args.kind!r}; known: {', '.join(auth.KINDS)}", 2)
    project = find_project(store, args.project)
    old = [t for t in store.list_tokens(project["id"]) if t.get("kind") == args.kind]
    limits = [int(t["rl"]) for t in old if t.get("rl")]
    token, secret = auth.issue_token(store, project["id"], args.kind, rate_limit=max(limits) if limits else None)
    for previous in old:
        store.delete_token(project["id"], previous["hash"])
    if args.json:
        out: dict[str, Any] = {"project_id": project["id"], "kind": args.kind, "token": token, "revoked": len(old)}
        if secret:
            out["secret"] = secret
        print(json.dumps(out, indent=2))
        return 0
    print(f"New {args.kind} credential for {project.get('name', '')!r} ({project['id']}) - shown only now:")
    _print_credentials({args.kind: token, **({"crashlog_secret": secret} if secret else {})})
    print(f"Revoked {len(old)} previous {args.kind} credential(s). {REVOCATION_NOTE}")
    return 0


def token_revoke(store: Store, args: argparse.Namespace) -> int:
    from lodge import auth

    project = find_project(store, args.project)
    value = args.token.strip()
    if value.lower().startswith(HASH_PREFIX):
        value = value[len(HASH_PREFIX) :].lower()
    revoked = auth.revoke_token(store, value, project["id"])
    if args.json:
        print(json.dumps({"project_id": project["id"], "revoked": revoked}))
    elif revoked:
        print(f"Revoked. {REVOCATION_NOTE}")
    if not revoked:
        raise CliError(f"no such token (or token hash) in project {project['id']}")
    return 0


# ---- parser -------------------------------------------------------------------------------------


def _common(defaults: bool) -> argparse.ArgumentParser:
    """Target and output options; accepted before or after the subcommand."""
    keep: Any = None if defaults else argparse.SUPPRESS
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("target and output")
    group.add_argument("--endpoint-url", metavar="URL", default=keep, help="AWS endpoint (DynamoDB Local, moto, ...)")
    group.add_argument("--stack", metavar="NAME", default=keep, help="deployed CloudFormation stack")
    group.add_argument("--region", metavar="R", default=keep, help="AWS region (default: AWS_REGION or config)")
    group.add_argument("--table", default=keep, help="table name with --endpoint-url (default lodge-local)")
    group.add_argument("--bucket", default=keep, help="bucket name with --endpoint-url (default lodge-local-payloads)")
    group.add_argument(
        "--json", action="store_true", default=False if defaults else argparse.SUPPRESS, help="machine-readable output"
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lodge",
        description="Create Lodge projects and manage their credentials.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_common(True)],
    )
    parser.add_argument("--state-file", type=Path, default=None, help=argparse.SUPPRESS)
    groups = parser.add_subparsers(dest="group", required=True, metavar="{project,token}")
    common = _common(False)

    project = groups.add_parser("project", help="create and list projects").add_subparsers(
        dest="command", required=True
    )
    create = project.add_parser("create", parents=[common], help="create a project with one credential of each kind")
    create.add_argument("name")
    create.set_defaults(run=project_create)
    listing = project.add_parser("list", parents=[common], help="list projects")
    listing.set_defaults(run=project_list)
    from lodge_devtools import cli_scrub  # issue 15: project scrub

    cli_scrub.add_parser(project, common)

    token = groups.add_parser("token", help="list, rotate and revoke credentials").add_subparsers(
        dest="command", required=True
    )
    tlist = token.add_parser("list", parents=[common], help="a project's credentials (kinds and hashes)")
    tlist.add_argument("project", help="project id or name")
    tlist.set_defaults(run=token_list)
    rotate = token.add_parser("rotate", parents=[common], help="issue a new credential of KIND, revoke the old ones")
    rotate.add_argument("project", help="project id or name")
    rotate.add_argument("kind", help="credential kind, e.g. rollbar_post_server_item")
    rotate.set_defaults(run=token_rotate)
    revoke = token.add_parser("revoke", parents=[common], help="revoke one credential")
    revoke.add_argument("project", help="project id or name")
    revoke.add_argument("token", metavar="TOKEN_OR_HASH", help="the token, or its hash as `token list` shows it")
    revoke.set_defaults(run=token_revoke)
    return parser


def main(argv: list[str] | None = None) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    args = build_parser().parse_args(argv)
    if getattr(args, "stack", None) and getattr(args, "endpoint_url", None):
        print("lodge: choose one of --stack and --endpoint-url", file=sys.stderr)
        return 2
    try:
        store = resolve_target(args).store()
        code: int = args.run(store, args)
    except CliError as error:
        print(f"lodge: {error}", file=sys.stderr)
        return error.code
    except (BotoCoreError, ClientError) as error:
        print(f"lodge: AWS request failed: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # `lodge token list X | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code


if __name__ == "__main__":
    sys.exit(main())
