"""Storage gives back read models: issues, markers, projects, credentials and occurrence summaries,
by their model names; and a marker put never overwrites another marker."""

from __future__ import annotations

import itertools

import pytest

from lodge import grouping
from lodge.ingest import ingest
from lodge.models.credentials import Credential
from lodge.models.markers import Marker, MarkerChanges
from lodge.storage import StorageError, Store
from tests.unit.lodge.occurrences import error, make

T0 = 1_700_000_000.0


def test_issue_model_after_ingest(store: Store) -> None:
    first = error(message="boom", frames=[("a.py", "f")], timestamp=T0, level="warning", platform="linux")
    later = error(message="boom", frames=[("a.py", "f")], timestamp=T0 + 60, level="critical")
    ingest(store, "p1", [first], T0)
    ingest(store, "p1", [later], T0 + 60)
    computed = grouping.compute(first)
    assert computed is not None
    issue = store.issue("p1", computed.group_id)
    assert issue is not None
    assert (issue.id, issue.project_id, issue.environment) == (computed.group_id, "p1", "production")
    assert (issue.title, issue.level, issue.last_level) == ("ZeroDivisionError: boom", "warning", "critical")
    assert (issue.status, issue.status_changed_at, issue.total_occurrences) == ("active", None, 2)
    assert (issue.first_seen, issue.first_occurrence_id) == (T0, first.occurrence_id)
    assert (issue.last_seen, issue.last_occurrence_id) == (T0 + 60, later.occurrence_id)
    assert issue.grouping_version == grouping.ALGORITHM_VERSION and issue.grouping_reason
    assert (issue.exception_class, issue.platform, issue.protocol, issue.kind) == (
        "ZeroDivisionError",
        "linux",
        "rollbar",
        "error",
    )
    assert [i.id for i in store.issues("p1")] == [issue.id]
    resolved = store.set_issue_status("p1", issue.id, "resolved")
    assert resolved is not None and resolved.status == "resolved" and resolved.status_changed_at is not None
    assert store.issue("p2", issue.id) is None and store.set_issue_status("p2", issue.id, "muted") is None


def test_occurrence_summaries_name_their_issue(store: Store) -> None:
    failing = error(message="x", frames=[("a.py", "f")])
    sample = make(kind="performance", action="HomeController#index", duration=12.5, status=200)
    result = ingest(store, "p1", [failing, sample], T0)
    summaries = list(store.occurrence_summaries("p1"))
    assert [s.id for s in summaries] == result.refs
    assert summaries[0].issue_id == result.group_ids[0] and summaries[0].exception_class == "ZeroDivisionError"
    assert summaries[1].issue_id is None and summaries[1].is_performance and summaries[1].duration == 12.5
    assert summaries[1].received_at == T0
    assert store.occurrence_summary("p1", result.refs[1]) == summaries[1]
    assert store.occurrence_summary("p1", "nope!") is None
    assert store.record_exists("p1", result.record_id) and not store.record_exists("p2", result.record_id)


def test_markers_are_one_model(store: Store) -> None:
    deploy = store.add_marker("p1", Marker(kind="deploy", source="rollbar", revision="abc", created=T0))
    assert deploy.id is not None
    assert store.marker("p1", deploy.id) == deploy
    changed = store.change_marker("p1", deploy.id, MarkerChanges(status="failed", finished=T0 + 5))
    assert changed is not None and (changed.status, changed.finished, changed.revision) == ("failed", T0 + 5, "abc")
    assert store.change_marker("p1", 1, MarkerChanges(status="failed")) is None
    announce = store.add_marker("p1", Marker(kind="announce", source="crashlog", notifier={"name": "crashlog"}))
    assert [m.kind for m in store.markers("p1")] == ["announce", "deploy"]
    assert store.marker("p1", announce.id or 0) == announce and store.markers("p2") == []


def test_a_marker_id_drawn_twice_is_retried_not_overwritten(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two markers in one millisecond may draw the same id: the second must not replace the first."""
    ids = iter([7_000, 7_000, 7_001])
    monkeypatch.setattr("lodge.storage.markers.new_marker_id", lambda: next(ids))
    first = store.add_marker("p1", Marker(kind="deploy", revision="one"))
    second = store.add_marker("p1", Marker(kind="deploy", revision="two"))
    assert (first.id, second.id) == (7_000, 7_001)
    assert {m.revision for m in store.markers("p1")} == {"one", "two"}


def test_a_marker_id_that_keeps_colliding_is_a_storage_error(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lodge.storage.markers.new_marker_id", lambda: 42)
    store.add_marker("p1", Marker(kind="deploy", revision="kept"))
    with pytest.raises(StorageError):
        store.add_marker("p1", Marker(kind="deploy", revision="lost"))
    assert [m.revision for m in store.markers("p1")] == ["kept"]


def test_projects_and_credentials(store: Store) -> None:
    store.put_project("a1", "First")
    project = store.project("a1")
    assert project is not None and (project.id, project.name) == ("a1", "First") and project.created
    assert [p.id for p in store.projects()] == ["a1"] and store.project("zz") is None
    credential = Credential("h1", "a1", "crashlog", frozenset({"crashlog"}), "ci", 5, secret="s", rate_limit=10)
    store.add_credential(credential)
    assert store.credential("h1") == credential
    (listed,) = store.credentials("a1")
    assert listed.secret is None and listed.rate_limit == 10 and listed.token_hash == "h1"
    store.remove_credential("a1", "h1")
    assert store.credential("h1") is None and store.credentials("a1") == []


def test_aws_failures_become_storage_errors_and_bugs_do_not(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = itertools.count()

    def down(**_: object) -> None:
        next(calls)
        raise ConnectionError("endpoint down")

    monkeypatch.setattr(store.ddb, "query", down)
    with pytest.raises(StorageError):
        store.issues("p1")
    with pytest.raises(StorageError):
        list(store.occurrence_summaries("p1"))

    def bug(**_: object) -> None:
        raise KeyError("a bug, not an outage")

    monkeypatch.setattr(store.ddb, "query", bug)
    with pytest.raises(KeyError):
        store.markers("p1")
