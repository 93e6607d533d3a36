"""A small evaluator of the template's DynamoDB statements, for tests: moto and the local runner do
not enforce IAM, so this is how Lodge checks that each function's `dynamodb:LeadingKeys` /
`dynamodb:Attributes` / `dynamodb:ReturnValues` conditions admit what its code does and nothing else.

It implements only what template.yaml uses: Allow statements (no Deny, no NotAction), `StringLike`
wildcards (`*` any run of characters, `?` exactly one), the set operators `ForAllValues:StringLike`,
`ForAllValues:StringNotLike`, `ForAllValues:StringEquals`, and `StringEqualsIfExists`. Anything else
raises, so a new operator in the template cannot pass unevaluated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=256)
def _like(pattern: str) -> re.Pattern[str]:
    parts = ("." if ch == "?" else ".*" if ch == "*" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), re.DOTALL)


def string_like(value: str, pattern: str) -> bool:
    """IAM's StringLike: case-sensitive, the whole value, `*` and `?` wildcards."""
    return _like(pattern).fullmatch(value) is not None


@dataclass(frozen=True)
class Call:
    """One DynamoDB request as IAM sees it: the action, its partition key(s), and the optional keys."""

    action: str
    leading_keys: tuple[str, ...]
    attributes: tuple[str, ...] = ()
    return_values: str | None = None
    select: str | None = None

    def values(self, key: str) -> tuple[str, ...] | None:
        """The request's values of a condition key (None: the key is absent from the request)."""
        if key == "dynamodb:LeadingKeys":
            return self.leading_keys
        if key == "dynamodb:Attributes":
            return self.attributes or None
        if key == "dynamodb:ReturnValues":
            return (self.return_values,) if self.return_values else None
        if key == "dynamodb:Select":
            return (self.select,) if self.select else None
        raise ValueError(f"condition key {key} is not evaluated here")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_holds(operator: str, key: str, patterns: Sequence[str], call: Call) -> bool:
    values = call.values(key)
    if operator == "ForAllValues:StringLike":
        return all(any(string_like(v, p) for p in patterns) for v in values or ())
    if operator == "ForAllValues:StringNotLike":
        return not any(string_like(v, p) for v in values or () for p in patterns)
    if operator == "ForAllValues:StringEquals":
        return all(v in patterns for v in values or ())
    if operator == "StringEqualsIfExists":
        return values is None or all(v in patterns for v in values)
    if operator == "StringLike":
        return values is not None and any(string_like(v, p) for v in values for p in patterns)
    raise ValueError(f"condition operator {operator} is not evaluated here")


def statement_allows(statement: Mapping[str, Any], call: Call) -> bool:
    if statement.get("Effect") != "Allow":
        raise ValueError("only Allow statements are evaluated here")
    actions = {str(a).lower() for a in _as_list(statement["Action"])}
    if call.action.lower() not in actions:
        return False
    for operator, conditions in (statement.get("Condition") or {}).items():
        for key, patterns in conditions.items():
            if not _condition_holds(operator, key, [str(p) for p in _as_list(patterns)], call):
                return False
    return True


def allows(statements: Iterable[Mapping[str, Any]], call: Call) -> bool:
    """Whether any of a function's Allow statements admits the call (resources are checked elsewhere)."""
    return any(statement_allows(s, call) for s in statements)


_KEY_OPERATIONS = {"GetItem", "PutItem", "UpdateItem", "DeleteItem"}


def call_of(operation: str, params: Mapping[str, Any]) -> Call:
    """How IAM sees a DynamoDB request made with these (botocore, low-level) parameters.

    `dynamodb:Attributes` is approximated from above: an item's attribute names for PutItem, the key's
    plus every expression attribute name for UpdateItem (so a condition that admits this admits IAM's)."""
    values = params.get("ExpressionAttributeValues") or {}
    names = params.get("ExpressionAttributeNames") or {}
    attributes: tuple[str, ...] = ()
    if operation in _KEY_OPERATIONS:
        key = params.get("Item") if operation == "PutItem" else params.get("Key")
        leading: tuple[str, ...] = (str((key or {}).get("pk", {}).get("S", "")),)
        if operation == "PutItem":
            attributes = tuple(sorted(params.get("Item") or {}))
        elif operation == "UpdateItem":
            attributes = tuple(sorted({*(params.get("Key") or {}), *names.values()}))
    elif operation == "Query":
        match = re.search(r"\bpk\s*=\s*(:\w+)", str(params.get("KeyConditionExpression", "")))
        leading = (str(values[match.group(1)]["S"]),) if match else ()
    elif operation == "BatchGetItem":  # every key of every table asked for
        tables = (params.get("RequestItems") or {}).values()
        leading = tuple(sorted({str(key.get("pk", {}).get("S", "")) for table in tables for key in table["Keys"]}))
    else:  # Scan, other batches, transactions: no function is granted them; report the action, no keys
        leading = ()
    return Call(
        action=f"dynamodb:{operation}",
        leading_keys=leading,
        attributes=attributes,
        return_values=params.get("ReturnValues"),
        select=params.get("Select"),
    )
