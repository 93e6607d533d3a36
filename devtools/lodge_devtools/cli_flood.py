"""`lodge project limit PROJECT [PER_MINUTE]`: a project's per-issue flood limit (docs/storage.md
"Floods"): occurrences of one issue stored per minute; beyond it they are counted, not stored.
0 turns the limit off. Without PER_MINUTE it prints the current limit. Warm functions pick a change
up within a minute (TOKEN_CACHE_SECONDS; within seconds where a container is busy with the project)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from lodge.storage import Store


def project_limit(store: Store, args: argparse.Namespace) -> int:
    from lodge_devtools.cli import CliError, find_project

    project = find_project(store, args.project)
    if args.per_minute is not None:
        if args.per_minute < 0:
            raise CliError("the limit is occurrences per issue per minute: 0 (no limit) or more", 2)
        store.put_flood_limit(project.id, args.per_minute)
    limit = store.flood_limit(project.id)
    if args.json:
        print(json.dumps({"project_id": project.id, "issue_limit_per_minute": limit}))
    else:
        shown = f"{limit} occurrences per issue per minute" if limit else "no limit"
        print(f"Flood limit for {project.name!r} ({project.id}): {shown}")
    return 0


def add_parser(project: Any, common: argparse.ArgumentParser) -> None:
    """Registers `project limit` under the `project` subcommands."""
    limit = project.add_parser("limit", parents=[common], help="show or set a project's per-issue flood limit")
    limit.add_argument("project", help="project id or name")
    limit.add_argument(
        "per_minute", type=int, nargs="?", metavar="PER_MINUTE", help="occurrences per issue per minute; 0 = none"
    )
    limit.set_defaults(run=project_limit)
