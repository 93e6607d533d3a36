"""Alert rules, one item per destination in the project's partition (records.py has the names)."""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from lodge.alerts import records as R
from lodge.alerts.model import ALERT_KINDS, DEFAULT_CAP, DESTINATION_KINDS, LEVELS, Rule
from lodge.dynamo import from_item, to_attr, to_item


class RuleError(ValueError):
    """A rule that cannot work (bad URL, unknown kind or level)."""


def check_url(url: str) -> str:
    """Only absolute http(s) URLs with a host: no file:, no schemeless paths."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RuleError(f"destination URL must be http:// or https:// with a host, got {url!r}")
    return url


def new_rule(
    project_id: str,
    destination: str,
    *,
    name: str = "",
    url: str | None = None,
    email: str | None = None,
    kinds: list[str] | None = None,
    environments: list[str] | None = None,
    min_level: str = "debug",
    cap: int = DEFAULT_CAP,
    secret: str | None = None,
) -> Rule:
    if destination not in DESTINATION_KINDS:
        raise RuleError(f"destination must be one of {', '.join(DESTINATION_KINDS)}")
    chosen = set(kinds or ALERT_KINDS)
    if not chosen <= set(ALERT_KINDS):
        raise RuleError(f"alert kinds are {', '.join(ALERT_KINDS)}")
    if min_level not in LEVELS:
        raise RuleError(f"levels are {', '.join(LEVELS)}")
    if cap < 1:
        raise RuleError("the hourly cap must be at least 1")
    if destination in ("slack", "webhook"):
        if not url:
            raise RuleError(f"a {destination} destination needs a URL")
        check_url(url)
    if destination == "email" and (not email or "@" not in email):
        raise RuleError("an email destination needs an address")
    if destination == "webhook" and not secret:
        secret = "whsec_" + secrets.token_urlsafe(32)
    return Rule(
        id=secrets.token_hex(8),
        project_id=project_id,
        name=name or destination,
        destination=destination,
        kinds=frozenset(chosen),
        environments=frozenset(environments or ()),
        min_level=min_level,
        url=url,
        secret=secret if destination == "webhook" else None,
        email=email if destination == "email" else None,
        cap=cap,
        created=round(time.time(), 3),
    )


def _key(project_id: str, rule_id: str) -> dict[str, Any]:
    return to_item({"pk": f"PRJ#{project_id}", "sk": R.RULE_PREFIX + rule_id})


def _to_item(rule: Rule) -> dict[str, Any]:
    return to_item(
        {
            "pk": f"PRJ#{rule.project_id}",
            "sk": R.RULE_PREFIX + rule.id,
            R.RULE_NAME: rule.name,
            R.RULE_DESTINATION: rule.destination,
            R.RULE_KINDS: set(rule.kinds),
            R.RULE_ENVIRONMENTS: set(rule.environments) or None,
            R.RULE_MIN_LEVEL: rule.min_level,
            R.RULE_URL: rule.url,
            R.RULE_SECRET: rule.secret,
            R.RULE_EMAIL: rule.email,
            R.RULE_CAP: rule.cap,
            R.RULE_CREATED: rule.created,
        }
    )


def _from_item(item: dict[str, Any]) -> Rule:
    data = from_item(item)
    return Rule(
        id=data["sk"][len(R.RULE_PREFIX) :],
        project_id=data["pk"][4:],
        name=data.get(R.RULE_NAME, ""),
        destination=data[R.RULE_DESTINATION],
        kinds=frozenset(data.get(R.RULE_KINDS, ALERT_KINDS)),
        environments=frozenset(data.get(R.RULE_ENVIRONMENTS, ())),
        min_level=data.get(R.RULE_MIN_LEVEL, "debug"),
        url=data.get(R.RULE_URL),
        secret=data.get(R.RULE_SECRET),
        email=data.get(R.RULE_EMAIL),
        cap=int(data.get(R.RULE_CAP, DEFAULT_CAP)),
        created=float(data.get(R.RULE_CREATED, 0)),
    )


def put_rule(ddb: Any, table: str, rule: Rule) -> None:
    ddb.put_item(TableName=table, Item=_to_item(rule))


def list_rules(ddb: Any, table: str, project_id: str) -> list[Rule]:
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": to_attr(f"PRJ#{project_id}"), ":prefix": to_attr(R.RULE_PREFIX)},
    }
    rules: list[Rule] = []
    while True:
        response = ddb.query(**request)
        rules.extend(_from_item(raw) for raw in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return sorted(rules, key=lambda r: r.created)
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def get_rule(ddb: Any, table: str, project_id: str, rule_id: str) -> Rule | None:
    response = ddb.get_item(TableName=table, Key=_key(project_id, rule_id))
    return _from_item(response["Item"]) if "Item" in response else None


def delete_rule(ddb: Any, table: str, project_id: str, rule_id: str) -> bool:
    response = ddb.delete_item(TableName=table, Key=_key(project_id, rule_id), ReturnValues="ALL_OLD")
    return "Attributes" in response
