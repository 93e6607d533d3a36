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
from lodge_devtools.target import STATE_FILE, Target, pid_alive, read_state

if TYPE_CHECKING:
    from lodge.models.credentials import Project
    from lodge.storage import Store

HASH_PREFIX = "sha256:"
RUNNER_DOWN = "the local runner is down (it stopped or crashed); start it with `make dev`"
CACHE_NOTE = "Warm functions cache token lookups for up to 60 s; the change applies within a minute."
REVOCATION_NOTE = "Warm functions cache token lookups for up to 60 s; revoked tokens stop working within a minute."

EPILOG = """\
target (where the table and bucket are):
  default               the running local runner (`make dev`), found through .lodge/runner.json
  --endpoint-url URL    any endpoint: DynamoDB Local, moto (table/bucket names: --table/--bucket)
  --stack NAME          a deployed stack: TableName and BucketName from its CloudFormation outputs
                        (AWS credentials from the usual places; --region or AWS_REGION)

credential kinds: rollbar_post_server_item rollbar_post_client_item rollbar_read rollbar_write
                  appsignal_push crashlog personal   (crashlog also gets its HMAC secret)
                  sentry_dsn   (the DSN public key; create and rotate print the whole DSN)

examples:
  lodge project create "My app"
  eval "$(lodge project create "My app" --env)"   (LODGE_URL and LODGE_<KIND> variables for a shell)
  lodge --stack lodge project list
  lodge project delete "My app"                (asks first; --yes to skip the question)
  lodge token list 5114f7e38c5ce90000000011
  lodge token rotate "My app" rollbar_post_server_item
  lodge token revoke "My app" sha256:3f1c...   (or the token itself)
  lodge token limit "My app" appsignal_push 600   (requests per minute per token; 0 = unlimited)
  lodge project limit "My app" 600              (occurrences stored per issue per minute; 0 = no limit)
  lodge sentry discards "My app"   (what its Sentry SDKs reported dropping)
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
    api_url = outputs.get("ApiUrl", "").rstrip("/") or None
    return Target(outputs["TableName"], outputs["BucketName"], region=region, api_url=api_url)


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
    if state.get("emulated") and not pid_alive(state.get("pid")):
        raise CliError(RUNNER_DOWN, 2)
    return Target(
        table or state["table"],
        bucket or state["bucket"],
        endpoint_url=state.get("aws_endpoint"),
        region=state.get("region", "us-east-1"),
        emulated=bool(state.get("emulated")),
    )


# ---- Sentry DSN (issue 13): where SDKs send, shown with the DSN key ---------------------------------


def api_url(args: argparse.Namespace) -> str | None:
    """The API base URL clients use: the stack's ApiUrl output, or the local runner's URL."""
    if getattr(args, "endpoint_url", None):
        return None
    if getattr(args, "stack", None):
        from botocore.exceptions import BotoCoreError, ClientError

        from lodge_devtools.target import botocore_session

        session = botocore_session()
        region = getattr(args, "region", None) or session.get_config_variable("region") or "us-east-1"
        try:
            stacks = session.create_client("cloudformation", region_name=region).describe_stacks(StackName=args.stack)
        except (BotoCoreError, ClientError):
            return None
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks["Stacks"][0].get("Outputs", [])}
        return outputs.get("ApiUrl")
    state = read_state(getattr(args, "state_file", None) or STATE_FILE)
    return state.get("url") if state else None


def sentry_dsn(args: argparse.Namespace, key: str, project_id: str) -> str:
    from lodge.protocols.sentry.auth import dsn

    url = api_url(args)
    return dsn(url, key, project_id) if url else dsn("https://API-HOST/", key, project_id) + "  (API-HOST: your ApiUrl)"


def find_project(store: Store, ref: str) -> Project:
    """A project by id, or by its name when exactly one project has it."""
    project = store.project(ref)
    if project is not None:
        return project
    named = [p for p in store.projects() if p.name == ref]
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

    name = args.name.strip()
    if not name:
        raise CliError("a project needs a name", 2)
    taken = [p for p in store.projects() if p.name.casefold() == name.casefold()]
    if taken:
        raise CliError(f"a project named {taken[0].name!r} exists already ({taken[0].id}); pick another name")
    project_id, credentials = auth.create_project(store, name)
    the_dsn = sentry_dsn(args, credentials["sentry_dsn"], project_id)
    if args.env:
        print(f"Created project {name!r}: {project_id} - credentials exported, shown only now:", file=sys.stderr)
        print(shell_exports(project_id, {**credentials, "sentry_dsn": the_dsn}, getattr(args, "runner_url", None)))
        return 0
    if args.json:
        created = {"project_id": project_id, "name": name, "credentials": credentials, "sentry_dsn": the_dsn}
        print(json.dumps(created, indent=2))
        return 0
    print(f"Created project {name!r}: {project_id}")
    print("Credentials - shown only now, store them somewhere safe:")
    _print_credentials(credentials)
    print(f"Sentry SDKs: dsn={the_dsn}")
    return 0


def shell_exports(project_id: str, credentials: dict[str, str], url: str | None) -> str:
    """`export` lines for a POSIX shell: LODGE_URL (local runner), LODGE_PROJECT_ID, LODGE_<KIND>."""
    import shlex

    lines = [f"export LODGE_URL={shlex.quote(url)}"] if url else []
    lines.append(f"export LODGE_PROJECT_ID={shlex.quote(project_id)}")
    lines += [f"export LODGE_{kind.upper()}={shlex.quote(value)}" for kind, value in credentials.items()]
    for line in lines:
        print(f"  {line}", file=sys.stderr)
    return "\n".join(lines)


def project_delete(store: Store, args: argparse.Namespace) -> int:
    """Delete a project with everything it holds: credentials, issues, occurrences, markers, S3 detail."""
    project = find_project(store, args.project)
    label = f"{project.name!r} ({project.id})"
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError(f"deleting {label} needs confirmation: run it in a terminal, or add --yes", 2)
        answer = input(f"Delete project {label} and all its data (tokens, issues, occurrences)? Type its name: ")
        if answer.strip() != project.name and answer.strip() != project.id:
            raise CliError("not deleted (the answer did not match the project's name)")
    deleted = store.delete_project(project.id)
    if args.json:
        print(json.dumps({"project_id": project.id, "deleted": deleted._asdict()}))
    else:
        print(
            f"Deleted project {label}: {deleted.tokens} credentials, {deleted.items} items, "
            f"{deleted.objects} stored payloads. {REVOCATION_NOTE}"
        )
    return 0


def token_limit(store: Store, args: argparse.Namespace) -> int:
    """Set (or clear, with 0) the per-minute rate limit of a project's credentials of one kind."""
    from lodge import auth

    if args.kind not in auth.KINDS:
        raise CliError(f"unknown credential kind {args.kind!r}; known: {', '.join(auth.KINDS)}", 2)
    if args.per_minute < 0:
        raise CliError("the limit is requests per minute: 0 (unlimited) or more", 2)
    project = find_project(store, args.project)
    changed = 0
    for listed in store.credentials(project.id):
        if listed.kind != args.kind:
            continue
        credential = store.credential(listed.token_hash)  # the listing has no secret; this has
        if credential is None:
            continue
        store.add_credential(credential._replace(rate_limit=args.per_minute or None))
        changed += 1
    if not changed:
        raise CliError(f"project {project.id} has no {args.kind} credential")
    limit = f"{args.per_minute} requests per minute" if args.per_minute else "no limit"
    if args.json:
        print(json.dumps({"project_id": project.id, "kind": args.kind, "rate_limit": args.per_minute or None}))
    else:
        print(f"{args.kind} of {project.name!r}: {limit} ({changed} credential(s)). {CACHE_NOTE}")
    return 0


def project_list(store: Store, args: argparse.Namespace) -> int:
    projects = store.projects()
    if args.json:
        rows = [{"project_id": p.id, "name": p.name, "created": p.created or 0} for p in projects]
        print(json.dumps(rows, indent=2))
        return 0
    if not projects:
        print("No projects. Create one with: lodge project create NAME")
        return 0
    print(f"{'PROJECT ID':<24}  {'CREATED (UTC)':<19}  NAME")
    for project in projects:
        print(f"{project.id:<24}  {_when(project.created):<19}  {project.name}")
    return 0


def token_list(store: Store, args: argparse.Namespace) -> int:
    project = find_project(store, args.project)
    tokens = sorted(store.credentials(project.id), key=lambda c: (c.kind, c.created or 0))
    if args.json:
        rows = [
            {
                "kind": c.kind,
                "label": c.label,
                "created": c.created or 0,
                "token_sha256": c.token_hash,
                "rate_limit": c.rate_limit,
            }
            for c in tokens
        ]
        print(json.dumps(rows, indent=2))
        return 0
    print(f"Credentials of {project.name!r} ({project.id}). Tokens are stored only as hashes;")
    print("the last column is a token's SHA-256, not the token. `lodge token revoke` accepts it.")
    print(f"{'KIND':<24}  {'CREATED (UTC)':<19}  {'LABEL':<24}  {'LIMIT/MIN':<9}  TOKEN SHA-256")
    for token in tokens:
        limit = str(token.rate_limit) if token.rate_limit else "-"
        print(
            f"{token.kind:<24}  {_when(token.created):<19}  {token.label:<24}  "
            f"{limit:<9}  {HASH_PREFIX}{token.token_hash}"
        )
    return 0


def token_rotate(store: Store, args: argparse.Namespace) -> int:
    from lodge import auth

    if args.kind not in auth.KINDS:
        raise CliError(f"unknown credential kind {args.kind!r}; known: {', '.join(auth.KINDS)}", 2)
    project = find_project(store, args.project)
    old = [c for c in store.credentials(project.id) if c.kind == args.kind]
    limits = [c.rate_limit for c in old if c.rate_limit]
    token, secret = auth.issue_token(store, project.id, args.kind, rate_limit=max(limits) if limits else None)
    for previous in old:
        store.remove_credential(project.id, previous.token_hash)
    the_dsn = sentry_dsn(args, token, project.id) if args.kind == "sentry_dsn" else None
    if args.json:
        out: dict[str, Any] = {"project_id": project.id, "kind": args.kind, "token": token, "revoked": len(old)}
        if secret:
            out["secret"] = secret
        if the_dsn:
            out["sentry_dsn"] = the_dsn
        print(json.dumps(out, indent=2))
        return 0
    print(f"New {args.kind} credential for {project.name!r} ({project.id}) - shown only now:")
    _print_credentials({args.kind: token, **({"crashlog_secret": secret} if secret else {})})
    if the_dsn:
        print(f"Sentry SDKs: dsn={the_dsn} (update every SDK's DSN)")
    print(f"Revoked {len(old)} previous {args.kind} credential(s). {REVOCATION_NOTE}")
    return 0


def token_revoke(store: Store, args: argparse.Namespace) -> int:
    from lodge import auth

    project = find_project(store, args.project)
    value = args.token.strip()
    if value.lower().startswith(HASH_PREFIX):
        value = value[len(HASH_PREFIX) :].lower()
    revoked = auth.revoke_token(store, value, project.id)
    if args.json:
        print(json.dumps({"project_id": project.id, "revoked": revoked}))
    elif revoked:
        print(f"Revoked. {REVOCATION_NOTE}")
    if not revoked:
        raise CliError(f"no such token (or token hash) in project {project.id}")
    return 0


# ---- issue 15, point 9: CrashLog secrets in their own items (SEC#), readable only by CrashLog's functions
def token_move_secrets(store: Store, args: argparse.Namespace) -> int:
    """Once after upgrading a table written before secrets had their own items."""
    moved = store.move_legacy_secrets()
    if args.json:
        print(json.dumps({"moved": moved}))
    else:
        print(f"Moved {moved} CrashLog secret(s) out of their token items.")
    return 0


# ---- end issue 15, point 9


def sentry_discards(store: Store, args: argparse.Namespace) -> int:
    """What the project's Sentry SDKs reported dropping (client reports), per UTC day."""
    from lodge.protocols.sentry import outcomes

    project = find_project(store, args.project)
    days = outcomes.read(store, project.id)
    if args.json:
        print(json.dumps({"project_id": project.id, "days": days}, indent=2))
        return 0
    if not days:
        print(f"No client reports from {project.name!r}'s Sentry SDKs: nothing dropped, or none sent yet.")
        return 0
    print(f"{'DAY (UTC)':<10}  {'REASON:CATEGORY':<40}  QUANTITY")
    for day, counts in sorted(days.items()):
        for key, quantity in sorted(counts.items()):
            print(f"{day:<10}  {key:<40}  {quantity}")
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
    groups = parser.add_subparsers(dest="group", required=True, metavar="{project,token,issue,sentry,alert,digest}")
    common = _common(False)

    project = groups.add_parser("project", help="create and list projects").add_subparsers(
        dest="command", required=True
    )
    create = project.add_parser("create", parents=[common], help="create a project with one credential of each kind")
    create.add_argument("name", help="a unique name")
    create.add_argument(
        "--env", action="store_true", help="print `export LODGE_...=` lines instead (use with eval in a shell)"
    )
    create.set_defaults(run=project_create)
    listing = project.add_parser("list", parents=[common], help="list projects")
    listing.set_defaults(run=project_list)
    delete = project.add_parser("delete", parents=[common], help="delete a project and all its data (asks first)")
    delete.add_argument("project", help="project id or name")
    delete.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(run=project_delete)
    from lodge_devtools import cli_scrub  # issue 15: project scrub

    cli_scrub.add_parser(project, common)
    from lodge_devtools import cli_flood  # issue 15 point 8: project limit

    cli_flood.add_parser(project, common)

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
    limit = token.add_parser("limit", parents=[common], help="set the per-minute rate limit of a credential kind")
    limit.add_argument("project", help="project id or name")
    limit.add_argument("kind", help="credential kind, e.g. appsignal_push")
    limit.add_argument("per_minute", type=int, metavar="PER_MINUTE", help="requests per minute per token; 0 = none")
    limit.set_defaults(run=token_limit)
    move = token.add_parser(  # issue 15, point 9
        "move-secrets", parents=[common], help="move CrashLog secrets of an older table into their own items (once)"
    )
    move.set_defaults(run=token_move_secrets)

    sentry = groups.add_parser("sentry", help="what Sentry SDKs reported").add_subparsers(dest="command", required=True)
    discards = sentry.add_parser("discards", parents=[common], help="events the project's SDKs dropped, per day")
    discards.add_argument("project", help="project id or name")
    discards.set_defaults(run=sentry_discards)

    from lodge_devtools import cli_issues  # issue 10: `lodge issue ...`

    cli_issues.register(groups, common)

    from lodge_devtools.cli_alerts import register as register_alerts  # alerts (issue 11)

    register_alerts(groups, common)

    from lodge_devtools.cli_digest import register as register_digest  # the digest's backlog and DLQ (issue 16)

    register_digest(groups, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from lodge.storage.errors import StorageError

    args = build_parser().parse_args(argv)
    if getattr(args, "stack", None) and getattr(args, "endpoint_url", None):
        print("lodge: choose one of --stack and --endpoint-url", file=sys.stderr)
        return 2
    try:
        target = resolve_target(args)
        args.runner_url = target.api_url or _runner_url(args)
        store = target.store()
        code: int = args.run(store, args)
    except CliError as error:
        print(f"lodge: {error}", file=sys.stderr)
        return error.code
    except StorageError as error:  # storage names what failed; the AWS error is its cause
        return _aws_failed(args, error.__cause__ or error)
    except (BotoCoreError, ClientError) as error:
        return _aws_failed(args, error)
    except BrokenPipeError:  # `lodge token list X | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code


def _aws_failed(args: argparse.Namespace, error: BaseException) -> int:
    from botocore.exceptions import EndpointConnectionError

    if isinstance(error, EndpointConnectionError):
        if _is_local(args):
            print(f"lodge: {RUNNER_DOWN}", file=sys.stderr)
            return 2
        print(f"lodge: cannot reach {error.kwargs.get('endpoint_url', 'the AWS endpoint')}: {error}", file=sys.stderr)
        return 1
    print(f"lodge: AWS request failed: {error}", file=sys.stderr)
    return 1


def _is_local(args: argparse.Namespace) -> bool:
    """True when the target is the local runner's emulation (no --stack, no --endpoint-url)."""
    return not getattr(args, "stack", None) and not getattr(args, "endpoint_url", None)


def _runner_url(args: argparse.Namespace) -> str | None:
    if not _is_local(args):
        return None
    state = read_state(getattr(args, "state_file", None) or STATE_FILE) or {}
    url = state.get("url")
    return str(url) if url else None


if __name__ == "__main__":
    sys.exit(main())
