"""`lodge project scrub PROJECT [--extra-keys K,...] [--safe-keys K,...] [--off | --on]`: a project's
scrubbing policy (docs/scrubbing.md). Without options it prints the current policy. Warm functions
pick a change up within TOKEN_CACHE_SECONDS (the policy is cached like tokens)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from lodge.storage import Store


def _names(value: str | None) -> list[str] | None:
    return None if value is None else [part.strip() for part in value.split(",") if part.strip()]


def project_scrub(store: Store, args: argparse.Namespace) -> int:
    from lodge_devtools.cli import find_project

    project = find_project(store, args.project)
    current = store.scrub_config(project.id) or {"enabled": True, "extra_keys": [], "safe_keys": []}
    extra, safe = _names(args.extra_keys), _names(args.safe_keys)
    if extra is not None or safe is not None or args.enabled is not None:
        current = {
            "enabled": current["enabled"] if args.enabled is None else args.enabled,
            "extra_keys": current["extra_keys"] if extra is None else sorted(set(extra)),
            "safe_keys": current["safe_keys"] if safe is None else sorted(set(safe)),
        }
        store.put_scrub_config(
            project.id,
            enabled=current["enabled"],
            extra_keys=current["extra_keys"],
            safe_keys=current["safe_keys"],
        )
    if args.json:
        print(json.dumps({"project_id": project.id, "scrubbing": current}))
    else:
        state = "on" if current["enabled"] else "OFF"
        print(f"Scrubbing for {project.name!r} ({project.id}): {state}")
        print(f"  extra keys: {', '.join(current['extra_keys']) or '-'}")
        print(f"  safe keys:  {', '.join(current['safe_keys']) or '-'}")
    return 0


def add_parser(project: Any, common: argparse.ArgumentParser) -> None:
    """Registers `project scrub` under the `project` subcommands."""
    scrub = project.add_parser("scrub", parents=[common], help="show or set a project's scrubbing policy")
    scrub.add_argument("project", help="project id or name")
    scrub.add_argument("--extra-keys", metavar="K,...", help="more sensitive key names (replaces the list)")
    scrub.add_argument("--safe-keys", metavar="K,...", help="key names never filtered (replaces the list)")
    switch = scrub.add_mutually_exclusive_group()
    switch.add_argument("--off", dest="enabled", action="store_false", default=None, help="store client data as sent")
    switch.add_argument("--on", dest="enabled", action="store_true", help="scrub (the default)")
    scrub.set_defaults(run=project_scrub)
