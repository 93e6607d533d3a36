"""Alert rules and delivery state (docs/alerts.md): every key and attribute name the alert items use.

| item              | pk                      | sk                   | attributes                              |
|-------------------|-------------------------|----------------------|-----------------------------------------|
| rule              | PRJ#<project>           | ALR#<rule id>        | name, dk, kinds, envs, minlvl, url, ... |
| delivery claim    | ALD#<rule id>           | <alert id>           | st state, lease, fold decision, tries, ttl |
| destination-hour  | ALC#<rule id>           | <window start>       | n sent, f folded, smp sample, ss, ttl   |
| regression gate   | ALT#<rule id>           | REG#<issue id>       | at last alert time, ttl                 |

Claims make delivery at most once per (alert, destination): a conditional update decides who sends.
Every method takes and returns plain values or `lodge.alerts.model.Rule`; AWS failures are StorageError.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from lodge.dynamo import from_item, to_attr, to_item
from lodge.storage.errors import failing_as
from lodge.storage.keys import project_pk
from lodge.storage.table import Table

if TYPE_CHECKING:
    from lodge.alerts.model import Rule

RULE = "ALR#"
CLAIM_PK = "ALD#"
WINDOW_PK = "ALC#"
GATE_PK = "ALT#"
REGRESSION_GATE_SK = "REG#"

STATE_SENDING = "sending"
STATE_SENT = "sent"
STATE_FAILED = "failed"
STATE_SUPPRESSED = "suppressed"
STATE_FOLDED = "folded"


class Claim(NamedTuple):
    """A held (alert, destination) claim; `decision` is the cap decision of an earlier try, if any."""

    decision: str | None
    attempts: int


class FoldedWindow(NamedTuple):
    """A closed destination-hour with folded alerts: how many, and the first few lines."""

    folded: int
    sample: list[str]


def _rule_item(rule: Rule) -> dict[str, Any]:
    return {
        "pk": project_pk(rule.project_id),
        "sk": RULE + rule.id,
        "name": rule.name,
        "dk": rule.destination,
        "kinds": set(rule.kinds),
        "envs": set(rule.environments) or None,
        "minlvl": rule.min_level,
        "url": rule.url,
        "secret": rule.secret,
        "email": rule.email,
        "cap": rule.cap,
        "created": rule.created,
    }


def to_rule(item: dict[str, Any]) -> Rule:
    from lodge.alerts.model import ALERT_KINDS, DEFAULT_CAP, Rule

    return Rule(
        id=item["sk"][len(RULE) :],
        project_id=item["pk"][len(project_pk("")) :],
        name=item.get("name", ""),
        destination=item["dk"],
        kinds=frozenset(item.get("kinds", ALERT_KINDS)),
        environments=frozenset(item.get("envs", ())),
        min_level=item.get("minlvl", "debug"),
        url=item.get("url"),
        secret=item.get("secret"),
        email=item.get("email"),
        cap=int(item.get("cap", DEFAULT_CAP)),
        created=float(item.get("created", 0)),
    )


class Alerts(Table):
    # ---- rules ---------------------------------------------------------------------------------

    def put_alert_rule(self, rule: Rule) -> None:
        with failing_as("could not store the alert rule"):
            self.ddb.put_item(TableName=self.table, Item=to_item(_rule_item(rule)))

    def alert_rules(self, project_id: str) -> list[Rule]:
        """A project's rules, oldest first."""
        with failing_as("could not read alert rules"):
            rules = [to_rule(item) for item in self._query_prefix(project_pk(project_id), RULE)]
        return sorted(rules, key=lambda r: r.created)

    def alert_rule(self, project_id: str, rule_id: str) -> Rule | None:
        with failing_as("could not read the alert rule"):
            response = self.ddb.get_item(
                TableName=self.table, Key=to_item({"pk": project_pk(project_id), "sk": RULE + rule_id})
            )
        return to_rule(from_item(response["Item"])) if "Item" in response else None

    def delete_alert_rule(self, project_id: str, rule_id: str) -> bool:
        with failing_as("could not remove the alert rule"):
            response = self.ddb.delete_item(
                TableName=self.table,
                Key=to_item({"pk": project_pk(project_id), "sk": RULE + rule_id}),
                ReturnValues="ALL_OLD",
            )
        return "Attributes" in response

    # ---- delivery state ----------------------------------------------------------------------------

    def _conditional_update(self, **request: Any) -> dict[str, Any] | None:
        """An UpdateItem whose condition may fail: None then."""
        with failing_as("could not update alert delivery state"):
            try:
                response: dict[str, Any] = self.ddb.update_item(TableName=self.table, **request)
            except self.ddb.exceptions.ConditionalCheckFailedException:
                return None
        return response

    def _update(self, key: dict[str, Any], values: dict[str, Any]) -> None:
        names = {f"#a{i}": k for i, k in enumerate(values)}
        with failing_as("could not update alert delivery state"):
            self.ddb.update_item(
                TableName=self.table,
                Key=to_item(key),
                UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(values))),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={f":v{i}": to_attr(v) for i, v in enumerate(values.values())},
            )

    def claim_alert(self, rule_id: str, alert_id: str, now: float, lease: float) -> Claim | None:
        """Take the (alert, destination) claim for `lease` seconds; None when it was sent already
        or someone else holds it."""
        response = self._conditional_update(
            Key=to_item({"pk": CLAIM_PK + rule_id, "sk": alert_id}),
            UpdateExpression="SET #st = :sending, #lease = :lease ADD #tries :one",
            ConditionExpression="attribute_not_exists(#st) OR #st = :failed OR (#st = :sending AND #lease < :now)",
            ExpressionAttributeNames={"#st": "st", "#lease": "lease", "#tries": "tries"},
            ExpressionAttributeValues={
                ":sending": to_attr(STATE_SENDING),
                ":failed": to_attr(STATE_FAILED),
                ":lease": to_attr(now + lease),
                ":now": to_attr(now),
                ":one": to_attr(1),
            },
            ReturnValues="ALL_NEW",
        )
        if response is None:
            return None
        item = from_item(response["Attributes"])
        return Claim(item.get("fold"), int(item.get("tries", 1)))

    def finish_alert_claim(
        self, rule_id: str, alert_id: str, state: str, decision: str | None = None, expires: int | None = None
    ) -> None:
        """Record how a claim ended (and the cap decision); `expires` None keeps it forever."""
        values: dict[str, Any] = {"st": state}
        if decision is not None:
            values["fold"] = decision
        if expires:
            values["ttl"] = expires
        self._update({"pk": CLAIM_PK + rule_id, "sk": alert_id}, values)

    def pass_regression_gate(self, rule_id: str, issue_id: str, now: float, gap: float) -> bool:
        """True at most once per `gap` seconds per (destination, issue)."""
        return (
            self._conditional_update(
                Key=to_item({"pk": GATE_PK + rule_id, "sk": REGRESSION_GATE_SK + issue_id}),
                UpdateExpression="SET #at = :now, #ttl = :ttl",
                ConditionExpression="attribute_not_exists(#at) OR #at <= :gap",
                ExpressionAttributeNames={"#at": "at", "#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":now": to_attr(now),
                    ":gap": to_attr(now - gap),
                    ":ttl": to_attr(int(now + 2 * gap)),
                },
            )
            is not None
        )

    def take_alert_slot(self, rule_id: str, window: int, cap: int, expires: int) -> bool:
        """Count one alert into the destination's window; False once `cap` were counted."""
        return (
            self._conditional_update(
                Key=to_item({"pk": WINDOW_PK + rule_id, "sk": str(window)}),
                UpdateExpression="ADD #n :one SET #ttl = :ttl",
                ConditionExpression="attribute_not_exists(#n) OR #n < :cap",
                ExpressionAttributeNames={"#n": "n", "#ttl": "ttl"},
                ExpressionAttributeValues={":one": to_attr(1), ":cap": to_attr(cap), ":ttl": to_attr(expires)},
            )
            is not None
        )

    def fold_alert(self, rule_id: str, window: int, line: str, sample_size: int) -> int:
        """Count an alert into the window's summary, keeping only the first `sample_size` lines (the
        item stays small however big the storm); returns how many were folded before this one."""
        key = to_item({"pk": WINDOW_PK + rule_id, "sk": str(window)})
        with failing_as("could not update alert delivery state"):
            response = self.ddb.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="ADD #f :one",
                ExpressionAttributeNames={"#f": "f"},
                ExpressionAttributeValues={":one": to_attr(1)},
                ReturnValues="UPDATED_OLD",
            )
            folded_before = int(from_item(response.get("Attributes", {})).get("f", 0))
            if folded_before < sample_size:
                self.ddb.update_item(
                    TableName=self.table,
                    Key=key,
                    UpdateExpression="SET #smp = list_append(if_not_exists(#smp, :empty), :line)",
                    ExpressionAttributeNames={"#smp": "smp"},
                    ExpressionAttributeValues={":empty": to_attr([]), ":line": to_attr([line])},
                )
        return folded_before

    def claim_summary(self, rule_id: str, window: int) -> FoldedWindow | None:
        """Take the window's summary for sending; None when it has nothing folded or was sent."""
        response = self._conditional_update(
            Key=to_item({"pk": WINDOW_PK + rule_id, "sk": str(window)}),
            UpdateExpression="SET #ss = :sending",
            ConditionExpression="attribute_exists(#f) AND (attribute_not_exists(#ss) OR #ss = :failed)",
            ExpressionAttributeNames={"#ss": "ss", "#f": "f"},
            ExpressionAttributeValues={":sending": to_attr(STATE_SENDING), ":failed": to_attr(STATE_FAILED)},
            ReturnValues="ALL_NEW",
        )
        if response is None:
            return None
        item = from_item(response["Attributes"])
        return FoldedWindow(int(item["f"]), [str(line) for line in item.get("smp", [])])

    def finish_summary(self, rule_id: str, window: int, state: str) -> None:
        self._update({"pk": WINDOW_PK + rule_id, "sk": str(window)}, {"ss": state})
