"""Issues (stored as groups): counted into with one UpdateItem per issue per request.

The stored attributes and what they mean (the read model `lodge.models.issues.Issue` names them):
env environment, fp fingerprint, title, lvl level (of the first occurrence), llvl last level,
st status, stt status changed at, fs/fo first seen / first occurrence id, ls/lo last seen / last
occurrence id, cnt total occurrences, algo grouping version, why grouping reason, k kind,
x exception class, plat platform, fw framework, pr protocol.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from lodge.dynamo import from_item, to_attr, to_item
from lodge.storage.errors import failing_as
from lodge.storage.keys import ISSUE, issue_sk, project_pk
from lodge.storage.table import Table

if TYPE_CHECKING:
    from lodge.grouping import Grouping
    from lodge.models.issues import Issue
    from lodge.occurrence import Occurrence


@dataclass
class GroupDelta:
    """What one request adds to one issue: its occurrences' count, first and last."""

    grouping: Grouping
    first: Occurrence
    last: Occurrence
    first_ref: str
    last_ref: str
    count: int


class DigestMark(NamedTuple):
    """Where in the table's stream a count comes from: the record partition (`keys.record_bucket`)
    and the newest stream sequence number among the records counted. Stream records of one
    partition key arrive in order, so an issue keeps the newest mark per record partition (at
    most RECORD_SHARDS short attributes) and a count whose mark is not newer is skipped: a retried
    or bisected batch never counts twice."""

    bucket: str
    sequence: str

    @property
    def attribute(self) -> str:
        return MARK_PREFIX + self.bucket


MARK_PREFIX = "q"


@dataclass(frozen=True)
class IssueCount:
    """What one count did to an issue; alerts decide from it (new issue, 10^n, regression)."""

    issue_id: str
    created: bool
    old_count: int
    new_count: int
    applied: bool = True
    """False: these records were already counted (a retried batch); nothing changed."""
    first_occurrence_id: str | None = None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def to_issue(project_id: str, item: dict[str, Any]) -> Issue:
    from lodge.models.issues import Issue

    algo = item.get("algo")
    return Issue(
        id=item["id"],
        project_id=project_id,
        environment=item.get("env"),
        fingerprint=item.get("fp"),
        title=item.get("title"),
        kind=item.get("k"),
        level=item.get("lvl"),
        last_level=item.get("llvl"),
        status=item.get("st") or "active",
        status_changed_at=_number(item.get("stt")),
        total_occurrences=int(item.get("cnt", 0)),
        first_seen=_number(item.get("fs")),
        first_occurrence_id=item.get("fo"),
        last_seen=_number(item.get("ls")),
        last_occurrence_id=item.get("lo"),
        grouping_version=int(algo) if isinstance(algo, (int, float)) else None,
        grouping_reason=item.get("why"),
        exception_class=item.get("x"),
        platform=item.get("plat"),
        framework=item.get("fw"),
        protocol=item.get("pr"),
    )


class Issues(Table):
    def bump_group(self, project_id: str, delta: GroupDelta) -> bool:
        """Count occurrences into their issue with one UpdateItem; True when it created the issue."""
        return self.count_into(project_id, delta).created

    def count_into(self, project_id: str, delta: GroupDelta, marks: Sequence[DigestMark] = ()) -> IssueCount:
        """Count occurrences into their issue with one UpdateItem (the digest does, with a mark)."""
        grouping = delta.grouping
        first, last = delta.first, delta.last
        values = {
            ":env": first.environment,
            ":fp": grouping.fingerprint,
            ":title": grouping.title,
            ":lvl": first.level,
            ":active": "active",
            ":fs": round(first.effective_time, 3),
            ":fo": delta.first_ref,
            ":algo": grouping.version,
            ":why": grouping.reason,
            ":kind": first.kind,
            ":ls": round(last.effective_time, 3),
            ":lo": delta.last_ref,
            ":llvl": last.level,
            ":n": delta.count,
        }
        optional = {
            ":exc": first.exception_class,
            ":plat": first.platform,
            ":fw": first.framework,
            ":proto": first.protocol,
        }
        names = {
            "#env": "env",
            "#fp": "fp",
            "#title": "title",
            "#lvl": "lvl",
            "#st": "st",
            "#fs": "fs",
            "#fo": "fo",
            "#algo": "algo",
            "#why": "why",
            "#kind": "k",
            "#ls": "ls",
            "#lo": "lo",
            "#llvl": "llvl",
            "#cnt": "cnt",
        }
        sets = [
            "#env = if_not_exists(#env, :env)",
            "#fp = if_not_exists(#fp, :fp)",
            "#title = if_not_exists(#title, :title)",
            "#lvl = if_not_exists(#lvl, :lvl)",
            "#st = if_not_exists(#st, :active)",
            "#fs = if_not_exists(#fs, :fs)",
            "#fo = if_not_exists(#fo, :fo)",
            "#algo = if_not_exists(#algo, :algo)",
            "#why = if_not_exists(#why, :why)",
            "#kind = if_not_exists(#kind, :kind)",
            "#ls = :ls",
            "#lo = :lo",
            "#llvl = :llvl",
        ]
        short = {":exc": "x", ":plat": "plat", ":fw": "fw", ":proto": "pr"}
        for placeholder, value in optional.items():
            if value is not None:
                attr_name = "#" + short[placeholder]
                names[attr_name] = short[placeholder]
                values[placeholder] = value
                sets.append(f"{attr_name} = if_not_exists({attr_name}, {placeholder})")
        condition: dict[str, str] = {}
        clauses = []
        for i, mark in enumerate(marks):  # the digest's idempotency: count each stream record once
            names[f"#q{i}"], values[f":q{i}"], values[f":ql{i}"] = mark.attribute, mark.sequence, len(mark.sequence)
            sets.append(f"#q{i} = :q{i}")
            # Sequence numbers are decimal strings of varying length: compare lengths, then text.
            clauses.append(
                f"(attribute_not_exists(#q{i}) OR size(#q{i}) < :ql{i} OR (size(#q{i}) = :ql{i} AND #q{i} < :q{i}))"
            )
        if clauses:
            condition["ConditionExpression"] = " AND ".join(clauses)
            condition["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        with failing_as("could not update issue counters"):
            try:
                response = self.ddb.update_item(
                    TableName=self.table,
                    Key=to_item({"pk": project_pk(project_id), "sk": issue_sk(grouping.group_id)}),
                    UpdateExpression="SET " + ", ".join(sets) + " ADD #cnt :n",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues={k: to_attr(v) for k, v in values.items()},
                    ReturnValues="ALL_OLD",
                    **condition,
                )
            except self.ddb.exceptions.ConditionalCheckFailedException as skipped:
                current = from_item(skipped.response.get("Item", {}))
                count = int(current.get("cnt", 0))
                return IssueCount(grouping.group_id, False, count, count, False, current.get("fo"))
        old = from_item(response.get("Attributes", {}))
        old_count = int(old.get("cnt", 0))
        first_ref = old.get("fo", delta.first_ref)
        return IssueCount(grouping.group_id, "cnt" not in old, old_count, old_count + delta.count, True, first_ref)

    def bump_groups(self, project_id: str, deltas: Sequence[GroupDelta]) -> list[str]:
        """Apply every delta (in parallel when several); returns the ids of issues it created."""
        if len(deltas) <= 1:
            created = [self.bump_group(project_id, d) for d in deltas]
        else:
            with ThreadPoolExecutor(max_workers=min(8, len(deltas))) as pool:
                created = list(pool.map(lambda d: self.bump_group(project_id, d), deltas))
        return [d.grouping.group_id for d, new in zip(deltas, created, strict=True) if new]

    # ---- the stored items (storage tests, migrations) ------------------------------------------

    def get_group(self, project_id: str, group_id: str) -> dict[str, Any] | None:
        with failing_as("could not read the issue"):
            response = self.ddb.get_item(
                TableName=self.table, Key=to_item({"pk": project_pk(project_id), "sk": issue_sk(group_id)})
            )
        if "Item" not in response:
            return None
        item = from_item(response["Item"])
        item["id"] = group_id
        return item

    def list_groups(self, project_id: str) -> list[dict[str, Any]]:
        """Every issue item of a project (a Query over its partition)."""
        groups = []
        with failing_as("could not read issues"):
            for item in self._query_prefix(project_pk(project_id), ISSUE):
                item["id"] = item["sk"][len(ISSUE) :]
                groups.append(item)
        return groups

    def set_group_status(self, project_id: str, group_id: str, status: str) -> dict[str, Any] | None:
        with failing_as("could not change the issue"):
            try:
                response = self.ddb.update_item(
                    TableName=self.table,
                    Key=to_item({"pk": project_pk(project_id), "sk": issue_sk(group_id)}),
                    UpdateExpression="SET #st = :st, #chg = :now",
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeNames={"#st": "st", "#chg": "stt"},
                    ExpressionAttributeValues={":st": to_attr(status), ":now": to_attr(round(time.time(), 3))},
                    ReturnValues="ALL_NEW",
                )
            except self.ddb.exceptions.ConditionalCheckFailedException:
                return None
        item = from_item(response["Attributes"])
        item["id"] = group_id
        return item

    # ---- the read model ---------------------------------------------------------------------------

    def issue(self, project_id: str, issue_id: str) -> Issue | None:
        item = self.get_group(project_id, issue_id)
        return to_issue(project_id, item) if item else None

    def issues(self, project_id: str) -> list[Issue]:
        return [to_issue(project_id, item) for item in self.list_groups(project_id)]

    def set_issue_status(self, project_id: str, issue_id: str, status: str) -> Issue | None:
        item = self.set_group_status(project_id, issue_id, status)
        return to_issue(project_id, item) if item else None
