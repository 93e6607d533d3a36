"""Issues (stored as groups): counted into by the digest, one UpdateItem per issue per batch.

The stored attributes and what they mean (the read model `lodge.models.issues.Issue` names them):
env environment, fp fingerprint, title, lvl level (of the first occurrence), llvl last level,
st status, stt status changed at, fs/fo first seen / first occurrence id, ls/lo last seen / last
occurrence id, cnt total occurrences, algo grouping version, why grouping reason, k kind,
x exception class, plat platform, fw framework, pr protocol.
Triage (lodge.triage decides, this module stores): stb/stp status changed by / previous status,
sh status history (the newest HISTORY_LIMIT changes), riv resolved-in version, rsv the code version
last seen when it was resolved, mu muted until (Unix time), mn muted while cnt <= mn, rg regression
{at, o occurrence, v code version}, cv code version of the last occurrence, ctr the per-project counter.
The digest's stream marks: q<xx> the newest stream sequence number counted from record partition xx.
Listings (issue 16): ils the minute of `ls`, the sort key of the sparse index ISSUE_INDEX (keys.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from lodge import triage
from lodge.dynamo import from_item, to_attr, to_item
from lodge.storage.errors import StorageError, failing_as
from lodge.storage.keys import (
    ISSUE,
    ISSUE_COUNTER_SK,
    ISSUE_INDEX,
    counter_sk,
    issue_sk,
    listed_minute,
    project_pk,
)
from lodge.storage.table import Table

if TYPE_CHECKING:
    from lodge.grouping import Grouping
    from lodge.models.issues import Issue, IssueChange, Regression, StatusChange
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
    or bisected batch never counts twice (nor decides its alerts or its reopening twice)."""

    bucket: str
    sequence: str

    @property
    def attribute(self) -> str:
        return MARK_PREFIX + self.bucket


MARK_PREFIX = "q"


@dataclass(frozen=True)
class IssueCount:
    """What one count did to an issue; alerts decide from it (new issue, 10^n, regression). The
    digest makes every count (lodge.digest)."""

    issue_id: str
    created: bool
    old_count: int
    new_count: int
    issue: Issue | None = None
    """The issue as the count left it (ReturnValues ALL_NEW): the title, level and first seen an alert shows."""
    regressed: bool = False
    """This count reopened a resolved issue (triage): a regression alert is due."""
    applied: bool = True
    """False: these records were already counted (a retried batch); nothing changed, nothing is due."""

    @property
    def first_occurrence_id(self) -> str | None:
        return self.issue.first_occurrence_id if self.issue is not None else None


COUNT_ATTR = "cnt"
"""An issue's count of stored occurrences (the digest's `ADD`)."""
LISTED_ATTR = "ils"
"""The issue's last-seen minute: the sort key of ISSUE_INDEX (written with `ls`, by the same update)."""
INDEX_PAGE_ENTRIES = 2000
"""Entries per Query of ISSUE_INDEX: ~2000 x ≤ 250 B stays under DynamoDB's 1 MB page, so a call is
one read in moto (which does not cut at 1 MB) as in AWS."""
INDEXED_FIELDS = {
    "status": "st",
    "environment": "env",
    "level": "lvl",
    "last_level": "llvl",
    "kind": "k",
    "framework": "fw",
    "first_seen": "fs",
    "title": "title",
}
"""The Issue fields ISSUE_INDEX projects (template.yaml), by their stored attribute."""
COUNTER_ISSUE_ATTR = "g"
"""On a counter item (keys.counter_sk): the id of the issue that holds the number."""


class ListedIssue(NamedTuple):
    """An index entry: the issue's last-seen minute and its small, rarely changing attributes
    (status, environment, levels, kind, framework, first seen, title; no count, no exact last seen)."""

    minute: int
    issue: Issue


class IssueScan(NamedTuple):
    listed: list[ListedIssue]
    complete: bool
    """False: the read stopped at its cap; older issues exist that are not in `listed`."""


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
        counter=int(item["ctr"]) if isinstance(item.get("ctr"), (int, float)) else None,
        resolved_in_version=item.get("riv"),
        muted_until=_number(item.get("mu")),
        muted_until_total=int(item["mn"]) if isinstance(item.get("mn"), (int, float)) else None,
        status_changed_by=item.get("stb"),
        previous_status=item.get("stp"),
        regression=_regression(item.get("rg")),
        history=tuple(_change(entry) for entry in item.get("sh") or () if isinstance(entry, dict)),
        last_code_version=item.get("cv"),
        **_flood_fields(item),
    )


def stored_issue(issue: Issue) -> dict[str, Any]:
    """The stored item of an issue as the digest leaves it (the inverse of `to_issue` for what a
    listing reads: labels, status, first/last seen, count, counter, and the index key `ils`). For
    seeding (bench.issue_listings) and migrations; the digest itself writes by `counter_update`."""
    fields = {
        "pk": project_pk(issue.project_id),
        "sk": issue_sk(issue.id),
        "env": issue.environment,
        "fp": issue.fingerprint,
        "title": issue.title,
        "k": issue.kind,
        "lvl": issue.level,
        "llvl": issue.last_level,
        "st": issue.status,
        "stt": issue.status_changed_at,
        "fs": issue.first_seen,
        "fo": issue.first_occurrence_id,
        "ls": issue.last_seen,
        "lo": issue.last_occurrence_id,
        "cnt": issue.stored_occurrences,
        "algo": issue.grouping_version,
        "why": issue.grouping_reason,
        "x": issue.exception_class,
        "plat": issue.platform,
        "fw": issue.framework,
        "pr": issue.protocol,
        "ctr": issue.counter,
        LISTED_ATTR: listed_minute(issue.last_seen) if issue.last_seen is not None else None,
    }
    return {name: value for name, value in fields.items() if value is not None}


def counter_item(project_id: str, counter: int, issue_id: str) -> dict[str, Any]:
    """The item that names the issue holding an item counter (Issues.issue_by_counter)."""
    return {"pk": project_pk(project_id), "sk": counter_sk(counter), COUNTER_ISSUE_ATTR: issue_id}


def upgraded_items(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """A stored (low-level) item as the listing index needs it, plus what it implies: an issue item
    written before the index gains `ils`, a numbered one its counter item. For restoring old
    snapshots (lodge_devtools.persistence); `Issues.reindex_issues` does the same to a live table."""
    sk = raw.get("sk", {}).get("S", "")
    if not sk.startswith(ISSUE):
        return [raw]
    item = from_item(raw)
    upgraded = dict(raw)
    if LISTED_ATTR not in item and isinstance(item.get("ls"), (int, float)):
        upgraded[LISTED_ATTR] = to_attr(listed_minute(float(item["ls"])))
    extra = []
    if isinstance(item.get("ctr"), (int, float)):
        project_id = str(item["pk"])[len(project_pk("")) :]
        extra.append(to_item(counter_item(project_id, int(item["ctr"]), sk[len(ISSUE) :])))
    return [upgraded, *extra]


def _flood_fields(item: dict[str, Any]) -> dict[str, Any]:
    """Floods (lodge.storage.floods): `cnt` counts stored occurrences, `dr` those not stored."""
    dropped = item.get("dr")
    dropped = int(dropped) if isinstance(dropped, (int, float)) and dropped > 0 else 0
    window = (item.get("fwm"), item.get("fwc"))
    fields: dict[str, Any] = {"dropped_occurrences": dropped, "total_occurrences": int(item.get("cnt", 0)) + dropped}
    if all(isinstance(v, (int, float)) for v in window):
        fields["rate_window"] = (int(window[0]), int(window[1]))  # type: ignore[arg-type]
    return fields


def _regression(raw: Any) -> Regression | None:
    from lodge.models.issues import Regression

    if not isinstance(raw, dict):
        return None
    return Regression(at=_number(raw.get("at")) or 0.0, occurrence_id=raw.get("o"), code_version=raw.get("v"))


def _change(raw: dict[str, Any]) -> StatusChange:
    from lodge.models.issues import StatusChange

    return StatusChange(
        status=raw.get("st", ""),
        previous=raw.get("prev", ""),
        at=_number(raw.get("at")) or 0.0,
        by=raw.get("by", ""),
        resolved_in_version=raw.get("riv"),
        reason=raw.get("why"),
    )


def _history(item: dict[str, Any], entry: dict[str, Any]) -> list[dict[str, Any]]:
    kept = [e for e in item.get("sh") or () if isinstance(e, dict)]
    return [*kept, {k: v for k, v in entry.items() if v is not None}][-triage.HISTORY_LIMIT :]


def triage_state(item: dict[str, Any]) -> triage.TriageState:
    """The status fields of a stored issue item, as lodge.triage reads them."""
    return triage.TriageState(
        status=item.get("st") or triage.ACTIVE,
        total=int(item.get("cnt", 0)),
        resolved_in_version=item.get("riv"),
        resolved_seen_version=item.get("rsv"),
        muted_until=_number(item.get("mu")),
        muted_until_total=int(item["mn"]) if isinstance(item.get("mn"), (int, float)) else None,
    )


def reactivation(
    project_id: str, group_id: str, item: dict[str, Any], delta: GroupDelta, now: float
) -> dict[str, Any] | None:
    """The UpdateItem arguments that reopen an issue after `delta` was counted, or None (most calls).

    `item` is the issue as the counter update left it (ReturnValues=ALL_NEW): the decision needs no
    read of its own. The update is conditional on the status being unchanged since, so a concurrent
    triage request or a second ingest racing on the same transition wins once, never twice.
    """
    version = delta.last.code_version
    transition = triage.after_occurrence(triage_state(item), version, now)
    if transition is None:
        return None
    change = {
        "st": triage.ACTIVE,
        "prev": transition.previous,
        "at": round(now, 3),
        "by": "lodge",
        "why": transition.reason,
    }
    sets = ["#st = :active", "#stt = :now", "#stb = :by", "#stp = :prev", "#sh = :hist"]
    values: dict[str, Any] = {
        ":active": triage.ACTIVE,
        ":now": round(now, 3),
        ":by": "lodge",
        ":prev": transition.previous,
        ":hist": _history(item, change),
        ":old": transition.previous,
    }
    names = {"#st": "st", "#stt": "stt", "#stb": "stb", "#stp": "stp", "#sh": "sh"}
    if transition.regressed:
        sets.append("#rg = :rg")
        names["#rg"] = "rg"
        values[":rg"] = {
            k: v for k, v in {"at": round(now, 3), "o": delta.last_ref, "v": version}.items() if v is not None
        }
    condition = "#st = :old"
    if "stt" in item:
        condition += " AND #stt = :oldt"
        values[":oldt"] = item["stt"]
    return {
        "Key": to_item({"pk": project_pk(project_id), "sk": issue_sk(group_id)}),
        "UpdateExpression": "SET " + ", ".join(sets) + " REMOVE #mu, #mn",
        "ConditionExpression": condition,
        "ExpressionAttributeNames": {**names, "#mu": "mu", "#mn": "mn"},
        "ExpressionAttributeValues": {k: to_attr(v) for k, v in values.items()},
    }


def counter_update(project_id: str, delta: GroupDelta, marks: Sequence[DigestMark] = ()) -> dict[str, Any]:
    """The UpdateItem arguments that count `delta` into its issue (creating it when new).

    It returns the whole item (ALL_NEW: the response size costs no write units), so the status
    decision (`reactivation`) rides on this one write instead of a read or a conditional retry.
    With `marks` (the digest's stream positions) the count is conditional on them being newer than
    the issue's: a retried batch fails the condition and counts nothing twice.
    """
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
        ":ils": listed_minute(last.effective_time),
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
        "#ils": LISTED_ATTR,
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
        "#ils = :ils",
    ]
    short = {":exc": "x", ":plat": "plat", ":fw": "fw", ":proto": "pr"}
    for placeholder, value in optional.items():
        if value is not None:
            attr_name = "#" + short[placeholder]
            names[attr_name] = short[placeholder]
            values[placeholder] = value
            sets.append(f"{attr_name} = if_not_exists({attr_name}, {placeholder})")
    if last.code_version is not None:
        names["#cv"] = "cv"
        values[":cv"] = last.code_version
        sets.append("#cv = :cv")
    clauses = mark_clauses(marks, names, values, sets)
    condition: dict[str, str] = {}
    if clauses:
        condition["ConditionExpression"] = " AND ".join(clauses)
        condition["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return {
        "Key": to_item({"pk": project_pk(project_id), "sk": issue_sk(grouping.group_id)}),
        "UpdateExpression": "SET " + ", ".join(sets) + " ADD #cnt :n",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {k: to_attr(v) for k, v in values.items()},
        "ReturnValues": "ALL_NEW",
        **condition,
    }


def mark_clauses(
    marks: Sequence[DigestMark], names: dict[str, str], values: dict[str, Any], sets: list[str]
) -> list[str]:
    """The digest's idempotency on any item it counts into: SET every mark, on the condition that
    each is newer than the stored one (a retried or bisected batch counts nothing twice)."""
    clauses = []
    for i, mark in enumerate(marks):
        names[f"#q{i}"], values[f":q{i}"], values[f":ql{i}"] = mark.attribute, mark.sequence, len(mark.sequence)
        sets.append(f"#q{i} = :q{i}")
        # Sequence numbers are decimal strings of varying length: compare lengths, then text.
        clauses.append(
            f"(attribute_not_exists(#q{i}) OR size(#q{i}) < :ql{i} OR (size(#q{i}) = :ql{i} AND #q{i} < :q{i}))"
        )
    return clauses


def already_counted(item: dict[str, Any], marks: Sequence[DigestMark]) -> bool:
    """Whether a stored item's marks show that some of `marks` were counted into it already."""
    for mark in marks:
        stored = item.get(mark.attribute)
        if isinstance(stored, str) and (len(stored), stored) >= (len(mark.sequence), mark.sequence):
            return True
    return False


class Issues(Table):
    def bump_group(self, project_id: str, delta: GroupDelta, now: float | None = None) -> bool:
        """Count occurrences into their issue with one UpdateItem; True when it created the issue."""
        return self.count_into(project_id, delta, now).created

    def count_into(
        self, project_id: str, delta: GroupDelta, now: float | None = None, marks: Sequence[DigestMark] = ()
    ) -> IssueCount:
        """Count occurrences into their issue with one UpdateItem; says what the count did.

        A second write happens only on a status transition (a regression, or a mute that ended).
        With `marks` (the digest) a count already made is skipped: `applied` is then False and
        neither the reopening nor an alert is decided again.
        """
        group_id = delta.grouping.group_id
        with failing_as("could not update issue counters"):
            try:
                response = self.ddb.update_item(TableName=self.table, **counter_update(project_id, delta, marks))
            except self.ddb.exceptions.ConditionalCheckFailedException as skipped:
                current = from_item(skipped.response.get("Item", {}))
                count = int(current.get("cnt", 0))
                current["id"] = group_id
                return IssueCount(group_id, False, count, count, to_issue(project_id, current), applied=False)
        item = from_item(response.get("Attributes", {}))
        fixup = reactivation(project_id, group_id, item, delta, time.time() if now is None else now)
        regressed = False
        if fixup is not None:
            # A failed condition means someone else changed the status in between: theirs stands.
            with failing_as("could not reopen the issue"):
                try:
                    self.ddb.update_item(TableName=self.table, **fixup)
                    regressed = item.get("st") == triage.RESOLVED
                except self.ddb.exceptions.ConditionalCheckFailedException:
                    pass
        new_count = int(item.get("cnt", 0))
        old_count = new_count - delta.count  # ADD is atomic: the item had exactly this before
        item["id"] = group_id
        return IssueCount(group_id, old_count == 0, old_count, new_count, to_issue(project_id, item), regressed)

    def count_issues(
        self,
        project_id: str,
        deltas: Sequence[GroupDelta],
        marks: Sequence[Sequence[DigestMark]] | None = None,
    ) -> list[IssueCount]:
        """Apply every delta (in parallel when several); one IssueCount per delta, in order."""
        marks_of = list(marks) if marks is not None else [() for _ in deltas]
        if len(deltas) <= 1:
            return [self.count_into(project_id, d, marks=m) for d, m in zip(deltas, marks_of, strict=True)]
        with ThreadPoolExecutor(max_workers=min(8, len(deltas))) as pool:
            return list(
                pool.map(
                    lambda pair: self.count_into(project_id, pair[0], marks=pair[1]), zip(deltas, marks_of, strict=True)
                )
            )

    def bump_groups(self, project_id: str, deltas: Sequence[GroupDelta]) -> list[str]:
        """Apply every delta; returns the ids of issues it created."""
        return [count.issue_id for count in self.count_issues(project_id, deltas) if count.created]

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

    def scan_issues(
        self,
        project_id: str,
        max_calls: int,
        per_call: int = INDEX_PAGE_ENTRIES,
        fields: Sequence[str] | None = None,
    ) -> IssueScan:
        """The project's issues, newest last-seen minute first, from ISSUE_INDEX: at most `max_calls`
        Queries of `per_call` entries each, so a listing's read is bounded whatever the project holds.
        `fields` (Issue field names) narrows what is returned, which the function then parses: the
        read units are the same, the handler's time is not."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": ISSUE_INDEX,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": to_attr(project_pk(project_id))},
            "ScanIndexForward": False,
            "Limit": per_call,
        }
        if fields is not None:
            wanted = ["sk", LISTED_ATTR, *(INDEXED_FIELDS[f] for f in fields)]
            request["ProjectionExpression"] = ", ".join(f"#p{i}" for i in range(len(wanted)))
            request["ExpressionAttributeNames"] = {f"#p{i}": name for i, name in enumerate(wanted)}
        listed: list[ListedIssue] = []
        with failing_as("could not read issues"):
            for _call in range(max_calls):
                response = self.ddb.query(**request)
                for raw in response.get("Items", []):
                    item = from_item(raw)
                    item["id"] = item["sk"][len(ISSUE) :]
                    listed.append(ListedIssue(int(item.get(LISTED_ATTR, 0)), to_issue(project_id, item)))
                if "LastEvaluatedKey" not in response:
                    return IssueScan(listed, True)
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return IssueScan(listed, False)

    def issues_by_id(self, project_id: str, issue_ids: Sequence[str]) -> dict[str, Issue]:
        """Whole issues by id: one BatchGetItem per 100 ids (unprocessed keys retried); unknown ids are absent."""
        found: dict[str, Issue] = {}
        keys = [{"pk": project_pk(project_id), "sk": issue_sk(i)} for i in dict.fromkeys(issue_ids)]
        for item in self._batch_get(keys, "issues"):
            item["id"] = item["sk"][len(ISSUE) :]
            found[item["id"]] = to_issue(project_id, item)
        return found

    def issue_by_counter(self, project_id: str, counter: int) -> Issue | None:
        """The issue holding an item counter: the counter's own item names it (two GetItems, no walk)."""
        with failing_as("could not read the issue"):
            response = self.ddb.get_item(
                TableName=self.table, Key=to_item({"pk": project_pk(project_id), "sk": counter_sk(counter)})
            )
        issue_id = from_item(response.get("Item", {})).get(COUNTER_ISSUE_ATTR)
        issue = self.issue(project_id, issue_id) if isinstance(issue_id, str) else None
        # A counter item whose issue took another number (a concurrent reader won) is a gap.
        return issue if issue is not None and issue.counter == counter else None

    def reindex_issues(self, project_id: str) -> int:
        """Migration for issue items written before the listing index (issue 16): give each its `ils`
        and a numbered one its counter item. Walks the whole project once; returns the items changed."""
        changed = 0
        for item in self.list_groups(project_id):
            if LISTED_ATTR not in item and isinstance(item.get("ls"), (int, float)):
                with failing_as("could not index the issue"):
                    self.ddb.update_item(
                        TableName=self.table,
                        Key=to_item({"pk": project_pk(project_id), "sk": issue_sk(item["id"])}),
                        UpdateExpression="SET #ils = if_not_exists(#ils, :ils)",
                        ExpressionAttributeNames={"#ils": LISTED_ATTR},
                        ExpressionAttributeValues={":ils": to_attr(listed_minute(float(item["ls"])))},
                    )
                changed += 1
            if isinstance(item.get("ctr"), (int, float)):
                self._put_counter_item(project_id, int(item["ctr"]), item["id"])
        return changed

    def _put_counter_item(self, project_id: str, counter: int, issue_id: str) -> None:
        # An UpdateItem, not a put: the read functions may update items of the project, never put.
        item = counter_item(project_id, counter, issue_id)
        with failing_as("could not number the issues"):
            self.ddb.update_item(
                TableName=self.table,
                Key=to_item({"pk": item["pk"], "sk": item["sk"]}),
                UpdateExpression="SET #g = :g",
                ExpressionAttributeNames={"#g": COUNTER_ISSUE_ATTR},
                ExpressionAttributeValues={":g": to_attr(issue_id)},
            )

    def set_issue_status(self, project_id: str, issue_id: str, status: str) -> Issue | None:
        item = self.set_group_status(project_id, issue_id, status)
        return to_issue(project_id, item) if item else None

    def change_issue(
        self, project_id: str, issue_id: str, change: IssueChange, now: float | None = None
    ) -> Issue | None:
        """Apply a triage change (status, resolved-in version, mute, level, title); None: no such issue.

        Read, then write conditional on the status not having changed in between (an ingest that
        reopened it, another triage request), retried a few times: triage is rare, ingest is not.
        """
        for _attempt in range(4):
            item = self.get_group(project_id, issue_id)
            if item is None:
                return None
            arguments = _change_update(project_id, issue_id, item, change, time.time() if now is None else now)
            if arguments is None:
                return to_issue(project_id, item)
            with failing_as("could not change the issue"):
                try:
                    response = self.ddb.update_item(TableName=self.table, ReturnValues="ALL_NEW", **arguments)
                except self.ddb.exceptions.ConditionalCheckFailedException:
                    continue
            updated = from_item(response["Attributes"])
            updated["id"] = issue_id
            return to_issue(project_id, updated)
        raise StorageError("the issue kept changing; try again")

    def assign_counters(self, project_id: str, items: Sequence[Issue]) -> dict[str, int]:
        """Give issues without a counter the next numbers (in first-seen order); returns id -> counter.

        Counters are handed out when an issue is first read, not at ingest, so the ingest write
        stays one UpdateItem. Numbers come from one atomic ADD, so they are unique; a number lost to
        a concurrent reader leaves a gap, never a duplicate.
        """
        missing = sorted((i for i in items if i.counter is None), key=lambda i: (i.first_seen or 0.0, i.id))
        if not missing:
            return {}
        with failing_as("could not number the issues"):
            response = self.ddb.update_item(
                TableName=self.table,
                Key=to_item({"pk": project_pk(project_id), "sk": ISSUE_COUNTER_SK}),
                UpdateExpression="ADD #n :k",
                ExpressionAttributeNames={"#n": "n"},
                ExpressionAttributeValues={":k": to_attr(len(missing))},
                ReturnValues="UPDATED_NEW",
            )
        last = int(from_item(response["Attributes"])["n"])
        assigned: dict[str, int] = {}
        for number, issue in enumerate(missing, start=last - len(missing) + 1):
            # The counter's item first: a crash between the two writes leaves a gap, never a number
            # item_by_counter cannot find. Its issue is checked on read, so a lost race is a gap too.
            self._put_counter_item(project_id, number, issue.id)
            with failing_as("could not number the issues"):
                try:
                    response = self.ddb.update_item(
                        TableName=self.table,
                        Key=to_item({"pk": project_pk(project_id), "sk": issue_sk(issue.id)}),
                        UpdateExpression="SET #ctr = :ctr",
                        ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#ctr)",
                        ExpressionAttributeNames={"#ctr": "ctr"},
                        ExpressionAttributeValues={":ctr": to_attr(number)},
                    )
                    assigned[issue.id] = number
                except self.ddb.exceptions.ConditionalCheckFailedException:
                    refreshed = self.get_group(project_id, issue.id)
                    if refreshed and isinstance(refreshed.get("ctr"), (int, float)):
                        assigned[issue.id] = int(refreshed["ctr"])
        return assigned


def _change_update(
    project_id: str, issue_id: str, item: dict[str, Any], change: IssueChange, now: float
) -> dict[str, Any] | None:
    sets: list[str] = []
    removes: list[str] = []
    names: dict[str, str] = {}
    values: dict[str, Any] = {}

    def put(attr: str, value: Any) -> None:
        names["#" + attr] = attr
        if value is None:
            removes.append("#" + attr)
        else:
            values[":" + attr] = value
            sets.append(f"#{attr} = :{attr}")

    if change.title is not None:
        put("title", change.title)
    if change.level is not None:
        put("lvl", change.level)
        put("llvl", change.level)
    previous = item.get("st") or triage.ACTIVE
    if change.status is not None:
        status = change.status
        entry = {
            "st": status,
            "prev": previous,
            "at": round(now, 3),
            "by": change.by,
            "riv": change.resolved_in_version,
        }
        put("st", status)
        put("stt", round(now, 3))
        put("stb", change.by)
        put("stp", previous)
        put("sh", _history(item, entry))
        resolved = status == triage.RESOLVED
        put("riv", change.resolved_in_version if resolved else None)
        put("rsv", item.get("cv") if resolved and change.resolved_in_version else None)
        muted = status == triage.MUTED
        put("mu", round(change.muted_until, 3) if muted and change.muted_until is not None else None)
        total = int(item.get("cnt", 0))
        put("mn", total + change.mute_occurrences if muted and change.mute_occurrences is not None else None)
        if resolved:
            put("rg", None)
    names["#pk"] = "pk"
    condition = "attribute_exists(#pk)"
    if "stt" in item:
        names["#stt"] = "stt"
        values[":was"] = item["stt"]
        condition += " AND #stt = :was"
    else:
        names["#stt"] = "stt"
        condition += " AND attribute_not_exists(#stt)"
    if "st" in item:
        names["#st"] = "st"
        values[":wasst"] = item["st"]
        condition += " AND #st = :wasst"
    if not sets and not removes:
        return None
    expression = ("SET " + ", ".join(sets) if sets else "") + (" REMOVE " + ", ".join(removes) if removes else "")
    arguments: dict[str, Any] = {
        "Key": to_item({"pk": project_pk(project_id), "sk": issue_sk(issue_id)}),
        "UpdateExpression": expression.strip(),
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
    }
    if values:
        arguments["ExpressionAttributeValues"] = {k: to_attr(v) for k, v in values.items()}
    return arguments
