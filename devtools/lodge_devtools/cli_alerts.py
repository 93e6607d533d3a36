"""`lodge alert add|list|test|remove` and `lodge alert dlq list|redrive` (docs/alerts.md).

Registered on cli.py's parser by `register`. Queue URLs and the email topic come from the target:
the local runner's state file, a deployed stack's outputs, or the names the runner uses locally.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lodge.storage import Store
    from lodge_devtools.target import Target

OUTPUTS = {
    "AlertQueue": "AlertQueueUrl",
    "AlertDeadLetterQueue": "AlertDeadLetterQueueUrl",
    "AlertTopic": "AlertTopicArn",
}


def alert_refs(args: argparse.Namespace, target: Target) -> dict[str, str]:
    """Logical id -> queue URL / topic ARN for this target."""
    from lodge_devtools.target import resource_refs

    queues = ("AlertQueue", "AlertDeadLetterQueue")
    return resource_refs(args, target, OUTPUTS, queues, required=queues)


def _target(args: argparse.Namespace) -> Target:
    from lodge_devtools.cli import resolve_target

    return resolve_target(args)


def alert_add(store: Store, args: argparse.Namespace) -> int:
    from lodge.alerts import rules
    from lodge_devtools.cli import CliError, find_project

    project = find_project(store, args.project)
    destination = args.destination
    try:
        rule = rules.new_rule(
            project.id,
            destination,
            name=args.name or "",
            url=args.address if destination != "email" else None,
            email=args.address if destination == "email" else None,
            kinds=args.kinds.split(",") if args.kinds else None,
            environments=args.env or None,
            min_level=args.min_level,
            cap=args.cap,
            secret=args.secret,
        )
    except rules.RuleError as error:
        raise CliError(str(error), 2) from error
    sns, topic = None, None
    if destination == "email":
        target = _target(args)
        topic = alert_refs(args, target).get("AlertTopic")
        if not topic:
            raise CliError("this target has no alert topic (AlertTopicArn)")
        sns = target.client("sns")
    try:
        rules.add_rule(store, rule, sns, topic)
    except rules.RuleError as error:
        raise CliError(str(error)) from error
    if args.json:
        print(json.dumps({"id": rule.id, "destination": destination, "secret": rule.secret}, indent=2))
        return 0
    print(f"Added alert destination {rule.id} for project {project.id}:")
    print("  " + rules.describe(rule))
    if rule.secret:
        print(f"  signing secret (verify the Lodge-Signature header with it): {rule.secret}")
    if destination == "email":
        print(f"  SNS mailed a confirmation link to {rule.email}; alerts arrive once it is confirmed.")
    return 0


def alert_list(store: Store, args: argparse.Namespace) -> int:
    from lodge.alerts import rules
    from lodge_devtools.cli import find_project

    project = find_project(store, args.project)
    found = store.alert_rules(project.id)
    if args.json:
        rows = [
            {
                "id": r.id,
                "destination": r.destination,
                "url": r.url,
                "email": r.email,
                "kinds": sorted(r.kinds),
                "environments": sorted(r.environments),
                "min_level": r.min_level,
                "cap": r.cap,
            }
            for r in found
        ]
        print(json.dumps(rows, indent=2))
        return 0
    if not found:
        print(f"No alert destinations for project {project.id}.")
    for rule in found:
        print(rules.describe(rule))
    return 0


def _rule(store: Store, args: argparse.Namespace) -> Any:
    from lodge_devtools.cli import CliError, find_project

    project = find_project(store, args.project)
    rule = store.alert_rule(project.id, args.rule)
    if rule is None:
        raise CliError(f"no alert destination {args.rule!r} in project {project.id}")
    return rule


def alert_remove(store: Store, args: argparse.Namespace) -> int:

    rule = _rule(store, args)
    store.delete_alert_rule(rule.project_id, rule.id)
    print(f"Removed alert destination {rule.id}.")
    return 0


def alert_test(store: Store, args: argparse.Namespace) -> int:
    from lodge.alerts import deliver
    from lodge.alerts.transport import DeliveryError
    from lodge_devtools.cli import CliError

    rule = _rule(store, args)
    target = _target(args)
    topic = alert_refs(args, target).get("AlertTopic") if rule.destination == "email" else None
    ctx = deliver.Context(store=store, sns=target.client("sns") if topic else None, topic_arn=topic)
    try:
        deliver.send_test(ctx, rule)
    except DeliveryError as error:
        raise CliError(f"test alert to {rule.id} failed: {error}") from error
    print(f"Sent a test alert to {rule.destination} destination {rule.id}.")
    return 0


def _dlq(args: argparse.Namespace) -> tuple[Any, str, str]:
    target = _target(args)
    refs = alert_refs(args, target)
    return target.client("sqs"), refs["AlertDeadLetterQueue"], refs["AlertQueue"]


def dlq_list(store: Store, args: argparse.Namespace) -> int:
    sqs, dlq, _ = _dlq(args)
    seen: dict[str, dict[str, Any]] = {}
    # Peek: a short visibility timeout so the messages are back for redrive at once.
    for _ in range(10):
        messages = sqs.receive_message(
            QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=1, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            break
        for message in messages:
            seen.setdefault(message["MessageId"], message)
    rows = []
    for message in seen.values():
        try:
            body = json.loads(message["Body"])
        except ValueError:
            body = {}
        rows.append(
            {
                "message_id": message["MessageId"],
                "alert": body.get("id", body.get("type", "?")),
                "kind": body.get("kind", body.get("type", "?")),
                "project": body.get("project_id", "?"),
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print("The alert dead-letter queue is empty.")
    for row in rows:
        print(f"{row['message_id']}  {row['kind']:<10} alert {row['alert']}  project {row['project']}")
    return 0


def dlq_redrive(store: Store, args: argparse.Namespace) -> int:
    """Move every dead-lettered alert back onto the alert queue (fresh receive count)."""
    sqs, dlq, queue = _dlq(args)
    moved = 0
    while True:
        messages = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages", [])
        if not messages:
            break
        entries = [{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(messages)]
        response = sqs.send_message_batch(QueueUrl=queue, Entries=entries)
        ok = {e["Id"] for e in response.get("Successful", [])}
        done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages) if str(i) in ok]
        if done:
            sqs.delete_message_batch(QueueUrl=dlq, Entries=done)
        moved += len(done)
        if len(done) < len(messages):
            break
    print(f"Redrove {moved} alert(s) to the alert queue.")
    return 0


def register(groups: Any, common: argparse.ArgumentParser) -> None:
    """Add `alert ...` to the `lodge` parser's subcommand group."""
    alert = groups.add_parser("alert", help="alert destinations and the alert dead-letter queue").add_subparsers(
        dest="command", required=True
    )
    add = alert.add_parser("add", parents=[common], help="send a project's alerts to a destination")
    add.add_argument("project", help="project id or name")
    add.add_argument("destination", choices=["slack", "webhook", "email"])
    add.add_argument("address", help="webhook URL (slack, webhook) or email address")
    add.add_argument("--kinds", help="comma-separated: new_issue,regression,threshold,deploy (default all)")
    add.add_argument("--env", action="append", help="only this environment (repeatable; default all)")
    add.add_argument("--min-level", default="debug", help="debug|info|warning|error|critical (default debug)")
    add.add_argument("--cap", type=int, default=30, help="alerts per hour before folding into a summary")
    add.add_argument("--name", help="a label")
    add.add_argument("--secret", help="signing secret of a webhook (default: a new random one)")
    add.set_defaults(run=alert_add)
    listing = alert.add_parser("list", parents=[common], help="a project's alert destinations")
    listing.add_argument("project")
    listing.set_defaults(run=alert_list)
    for name, run, text in (
        ("test", alert_test, "send a sample alert to a destination now"),
        ("remove", alert_remove, "remove a destination"),
    ):
        sub = alert.add_parser(name, parents=[common], help=text)
        sub.add_argument("project")
        sub.add_argument("rule", help="destination id, as `alert list` shows")
        sub.set_defaults(run=run)
    dlq = alert.add_parser("dlq", help="alerts that failed every retry").add_subparsers(dest="dlq", required=True)
    dlq.add_parser("list", parents=[common], help="list dead-lettered alerts").set_defaults(run=dlq_list)
    dlq.add_parser("redrive", parents=[common], help="move them back onto the alert queue").set_defaults(
        run=dlq_redrive
    )
