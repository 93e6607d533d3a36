"""`lodge issue list|show|resolve|mute|reopen|archive PROJECT ...`: triage from the terminal (docs/triage.md).

Works on the same target as the other commands (the local runner, `--endpoint-url`, or a deployed
`--stack`) and goes through the layer's queries and `Store.change_issue`, so a change made here is
exactly the change `PATCH /api/1/item/{id}` makes; it is recorded as made by `cli:<user>`.
An issue is named by its id or by its item counter (the number `issue list` shows).
"""

from __future__ import annotations

import argparse
import getpass
import json
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lodge.models.issues import Issue
    from lodge.storage import Store


def _cli_error(message: str) -> Exception:
    from lodge_devtools.cli import CliError

    return CliError(message)


def _project_id(store: Store, ref: str) -> str:
    from lodge_devtools.cli import find_project

    project_id: str = find_project(store, ref).id
    return project_id


def _numbered(store: Store, project_id: str, found: list[Issue]) -> list[Issue]:
    from lodge.queries.issues import with_counters

    return with_counters(store, project_id, found)


def _find(store: Store, project_id: str, ref: str) -> Issue:
    issue = store.issue(project_id, ref) if ref and not ref.isdigit() else None
    if issue is None and ref.isascii() and ref.isdigit():
        issue = store.issue_by_counter(project_id, int(ref))
    if issue is None and ref.isascii() and ref.isdigit():  # not handed out yet: number every issue (a walk)
        issue = next((i for i in _numbered(store, project_id, store.issues(project_id)) if i.counter == int(ref)), None)
    if issue is None:
        raise _cli_error(f"no issue {ref!r} in this project")
    return issue


def _when(epoch: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch)) if epoch else "-"


def _row(issue: Issue) -> dict[str, Any]:
    return {
        "id": issue.id,
        "counter": issue.counter,
        "status": issue.status,
        "regressed": issue.regression is not None,
        "level": issue.level,
        "environment": issue.environment,
        "title": issue.title,
        "total_occurrences": issue.total_occurrences,
        "last_seen": issue.last_seen,
        "resolved_in_version": issue.resolved_in_version,
        "muted_until": issue.muted_until,
        "muted_until_total": issue.muted_until_total,
        "history": [change._asdict() for change in issue.history],
    }


def issue_list(store: Store, args: argparse.Namespace) -> int:
    from lodge.queries import issues

    project_id = _project_id(store, args.project)
    where = issues.IssueFilter(
        environments={args.environment} if args.environment else (),
        levels={args.level} if args.level else (),
        statuses={args.status} if args.status else (),
        title_contains=args.q or "",
    )
    page = issues.list_issues(store, project_id, where, args.page, 100)
    listed = _numbered(store, project_id, page.issues)
    if args.json:
        print(
            json.dumps(
                {"page": page.page, "pages": page.pages, "total": page.total, "issues": [_row(i) for i in listed]},
                indent=2,
            )
        )
        return 0
    if not listed:
        print("No matching issues.")
        return 0
    print(f"{'#':>5}  {'STATUS':<9}  {'LEVEL':<8}  {'COUNT':>6}  {'LAST SEEN (UTC)':<19}  TITLE")
    for issue in listed:
        status = issue.status + ("*" if issue.regression else "")
        print(
            f"{issue.counter or '':>5}  {status:<9}  {issue.level or '-':<8}  {issue.total_occurrences:>6}  "
            f"{_when(issue.last_seen):<19}  {issue.title or ''}"
        )
    print(f"page {page.page} of {page.pages}, {page.total} issues (* regressed)")
    return 0


def issue_show(store: Store, args: argparse.Namespace) -> int:
    project_id = _project_id(store, args.project)
    (issue,) = _numbered(store, project_id, [_find(store, project_id, args.issue)])
    row = _row(issue)
    if args.json:
        print(json.dumps(row, indent=2))
        return 0
    for key in ("id", "counter", "title", "status", "level", "environment", "total_occurrences", "resolved_in_version"):
        print(f"{key:<20} {row[key] if row[key] is not None else '-'}")
    print(f"{'last_seen':<20} {_when(issue.last_seen)}")
    if issue.muted_until or issue.muted_until_total is not None:
        print(f"{'muted until':<20} {_when(issue.muted_until)} / total > {issue.muted_until_total}")
    if issue.regression:
        r = issue.regression
        print(f"{'regressed':<20} {_when(r.at)} by {r.occurrence_id} (code version {r.code_version or '-'})")
    for change in issue.history:
        line = f"  {_when(change.at)}  {change.previous} -> {change.status}  by {change.by}  {change.reason or ''}"
        print(line.rstrip())
    return 0


def _change(store: Store, args: argparse.Namespace, **fields: Any) -> int:
    from lodge.models.issues import IssueChange

    project_id = _project_id(store, args.project)
    issue = _find(store, project_id, args.issue)
    changed = store.change_issue(project_id, issue.id, IssueChange(by=f"cli:{getpass.getuser()}", **fields))
    if changed is None:
        raise _cli_error(f"no issue {args.issue!r} in this project")
    if args.json:
        print(json.dumps(_row(changed), indent=2))
    else:
        print(f"{changed.id}: {changed.status}")
    return 0


def issue_resolve(store: Store, args: argparse.Namespace) -> int:
    from lodge.triage import valid_version

    version = valid_version(args.in_version) if args.in_version is not None else None
    if args.in_version is not None and version is None:
        raise _cli_error("--in-version must be at most 40 characters")
    return _change(store, args, status="resolved", resolved_in_version=version)


def issue_mute(store: Store, args: argparse.Namespace) -> int:
    until = time.time() + args.seconds if args.seconds else None
    if args.occurrences is not None and args.occurrences < 1:
        raise _cli_error("--occurrences must be at least 1")
    return _change(store, args, status="muted", muted_until=until, mute_occurrences=args.occurrences)


def issue_reopen(store: Store, args: argparse.Namespace) -> int:
    return _change(store, args, status="active")


def issue_archive(store: Store, args: argparse.Namespace) -> int:
    return _change(store, args, status="archived")


def register(groups: Any, common: argparse.ArgumentParser) -> None:
    """Add `lodge issue ...` to the CLI's subcommand groups."""
    issue = groups.add_parser("issue", help="list, show and triage issues").add_subparsers(
        dest="command", required=True
    )
    listing = issue.add_parser("list", parents=[common], help="a project's issues, last seen first")
    listing.add_argument("project", help="project id or name")
    listing.add_argument("--status", choices=("active", "resolved", "muted", "archived"))
    listing.add_argument("--level")
    listing.add_argument("--environment")
    listing.add_argument("-q", metavar="TEXT", help="title contains TEXT (any case)")
    listing.add_argument("--page", type=int, default=1)
    listing.set_defaults(run=issue_list)
    for name, run, text in (
        ("show", issue_show, "one issue with its status history"),
        ("resolve", issue_resolve, "resolve (optionally in a version)"),
        ("mute", issue_mute, "mute forever, for a while, or for N more occurrences"),
        ("reopen", issue_reopen, "make it active again"),
        ("archive", issue_archive, "archive it (keeps counting, never reopens)"),
    ):
        command = issue.add_parser(name, parents=[common], help=text)
        command.add_argument("project", help="project id or name")
        command.add_argument("issue", help="issue id, or its counter as `issue list` shows it")
        command.set_defaults(run=run)
        if name == "resolve":
            command.add_argument("--in-version", metavar="VERSION", help="only occurrences from VERSION on reopen it")
        if name == "mute":
            command.add_argument("--seconds", type=int, metavar="N", help="mute for N seconds")
            command.add_argument("--occurrences", type=int, metavar="N", help="mute until N more occurrences came")
