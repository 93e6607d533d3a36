"""lodge.console.data: the console's storage seam - view models, trends, isolation, triage."""

from __future__ import annotations

import time

import pytest

from lodge.console import data
from lodge.ingest import ingest
from lodge.models.occurrences import OccurrenceSummary
from lodge.occurrence import ExceptionInfo, Frame, Occurrence
from lodge.storage import Store
from tests.conftest import Project


def _occurrence(project: Project, client_id: str, **fields: object) -> Occurrence:
    now = time.time()
    values: dict[str, object] = {
        "project_id": project.id,
        "protocol": "rollbar",
        "client_id": client_id,
        "received_at": now,
        "exceptions": [
            ExceptionInfo(
                type="ValueError",
                message="bad",
                frames=[
                    Frame(filename="/usr/lib/python3/site-packages/lib.py", lineno=1, method="lib"),
                    Frame(filename="/srv/app/views.py", lineno=9, method="view", code="raise ValueError"),
                ],
            )
        ],
        "extra": {"mystery_key": {"x": 1}},
        **fields,
    }
    return Occurrence(**values)  # type: ignore[arg-type]


def _listed(record_id: str, received_at: float, issue_id: str, occurred_at: float) -> OccurrenceSummary:
    return OccurrenceSummary(
        id=record_id, record_id=record_id, position=0, received_ms=int(received_at * 1000), kind="error",
        level="error", environment=None, issue_id=issue_id, title=None, exception_class=None, action=None,
        path=None, duration=None, status=None, occurred_at=occurred_at, client_id=None, protocol=None,
    )  # fmt: skip


def _viewer(project: Project, store: Store) -> data.Viewer:
    viewer = data.sign_in(project.credentials["personal"], store)
    assert viewer is not None
    return viewer


def test_trend_buckets_count_each_issue_in_its_hour() -> None:
    end = 100 * data.HOUR
    records = [
        _listed("r1", end - 10, "a", end - 10),
        _listed("r2", end - 2 * data.HOUR + 5, "a", end - 2 * data.HOUR + 5),
        _listed("r3", end - 10, "b", end - 10),
        _listed("r3", end - 10, "a", 1.0),
    ]
    trends = data._trends(records, {"a"}, end, 24, data.HOUR, capped=False)
    assert trends["a"].counts[-1] == 2  # one in time, one whose client clock was far off (placed on arrival)
    assert trends["a"].counts[-2] == 1 and trends["a"].total == 3
    assert set(trends) == {"a"}


def test_library_frames_are_folded_and_the_trace_reads_newest_first(project: Project, store: Store) -> None:
    ingest(store, project.id, [_occurrence(project, "c1")], time.time())
    viewer = _viewer(project, store)
    (row,) = data.list_issues(viewer, store=store).rows
    detail = data.get_issue(viewer, row.id, store=store)
    assert detail is not None and detail.last_occurrence
    occurrence = data.get_occurrence(viewer, detail.last_occurrence, store=store)
    assert occurrence is not None
    frames = occurrence.exceptions[0].frames
    assert [(f.method, f.in_app) for f in frames] == [("view", True), ("lib", False)]
    assert occurrence.unknown_keys == {"mystery_key": {"x": 1}}
    assert occurrence.protocol == "rollbar"


def test_a_resolved_issue_that_comes_back_is_active_and_regressed(project: Project, store: Store) -> None:
    ingest(store, project.id, [_occurrence(project, "c1", code_version="1.0.0")], time.time())
    viewer = _viewer(project, store)
    (row,) = data.list_issues(viewer, store=store).rows
    resolved = data.triage(viewer, row.id, "resolve", store=store)
    assert resolved is not None and resolved.status == "resolved" and not resolved.regressed
    ingest(store, project.id, [_occurrence(project, "c2", code_version="1.0.1")], time.time())
    assert data.list_issues(viewer, status="resolved", store=store).rows == []
    (again,) = data.list_issues(viewer, store=store).rows
    assert again.status == "active" and again.regressed and again.count == 2
    detail = data.get_issue(viewer, row.id, store=store)
    assert detail is not None and detail.issue.regression is not None
    assert detail.issue.regression.code_version == "1.0.1"
    assert [(h.previous, h.status) for h in detail.history][:2] == [("resolved", "active"), ("active", "resolved")]
    assert detail.history[1].by == "console:" + _label(project, store)
    resolved = data.triage(viewer, row.id, "resolve", store=store)
    assert resolved is not None and not resolved.regressed


def _label(project: Project, store: Store) -> str:
    credential = store.credential(_viewer(project, store).token_hash)
    assert credential is not None
    return credential.label


@pytest.mark.parametrize(
    ("version", "expected"),
    [("1.4.2", "1.4.3"), ("v7", "v8"), ("41", "42"), ("2.0", "2.1"), ("abc123f", None), (None, None), ("", None)],
)
def test_next_version_counts_on_from_numbered_versions(version: str | None, expected: str | None) -> None:
    assert data.next_version(version) == expected


def test_resolve_in_next_version_uses_the_latest_code_version_or_the_typed_one(project: Project, store: Store) -> None:
    ingest(store, project.id, [_occurrence(project, "c1", code_version="1.9.0")], time.time())
    viewer = _viewer(project, store)
    (row,) = data.list_issues(viewer, store=store).rows
    resolved = data.triage(viewer, row.id, "resolve_next", store=store)
    assert resolved is not None and resolved.status == "resolved"
    detail = data.get_issue(viewer, row.id, store=store)
    assert detail is not None and detail.resolved_in_version == "1.9.1"
    ingest(store, project.id, [_occurrence(project, "c2", code_version="1.9.0")], time.time())
    (still,) = data.list_issues(viewer, status="resolved", store=store).rows
    assert not still.regressed
    data.triage(viewer, row.id, "reopen", store=store)
    data.triage(viewer, row.id, "resolve_next", version="2.0.0", store=store)
    detail = data.get_issue(viewer, row.id, store=store)
    assert detail is not None and detail.resolved_in_version == "2.0.0"
    ingest(store, project.id, [_occurrence(project, "c3", code_version="2.0.1")], time.time())
    (back,) = data.list_issues(viewer, store=store).rows
    assert back.status == "active" and back.regressed


def test_resolve_in_next_version_without_a_numbered_version_asks_for_one(project: Project, store: Store) -> None:
    ingest(store, project.id, [_occurrence(project, "c1", code_version="abc123f")], time.time())
    viewer = _viewer(project, store)
    (row,) = data.list_issues(viewer, store=store).rows
    with pytest.raises(data.TriageError):
        data.triage(viewer, row.id, "resolve_next", store=store)
    with pytest.raises(data.TriageError):
        data.triage(viewer, row.id, "resolve_next", version="x" * 41, store=store)
    assert data.list_issues(viewer, store=store).rows[0].status == "active"


def test_mute_for_n_more_occurrences_then_the_next_reopens_it(project: Project, store: Store) -> None:
    ingest(store, project.id, [_occurrence(project, "c0")], time.time())
    viewer = _viewer(project, store)
    (row,) = data.list_issues(viewer, store=store).rows
    muted = data.triage(viewer, row.id, "mute", mute_occurrences=3, store=store)
    assert muted is not None and muted.status == "muted"
    for i in range(3):
        ingest(store, project.id, [_occurrence(project, f"c{i + 1}")], time.time())
    (still,) = data.list_issues(viewer, status="muted", store=store).rows
    assert still.count == 4
    detail = data.get_issue(viewer, row.id, store=store)
    assert detail is not None and detail.muted_until_total == 4
    ingest(store, project.id, [_occurrence(project, "c4")], time.time())
    assert data.list_issues(viewer, status="muted", store=store).rows == []
    (back,) = data.list_issues(viewer, store=store).rows
    assert back.status == "active" and not back.regressed


def test_mute_forever_and_for_a_time(project: Project, store: Store) -> None:
    ingest(store, project.id, [_occurrence(project, "c0")], time.time())
    viewer = _viewer(project, store)
    (row,) = data.list_issues(viewer, store=store).rows
    data.triage(viewer, row.id, "mute", store=store)
    detail = data.get_issue(viewer, row.id, store=store)
    assert detail is not None and detail.issue.status == "muted"
    assert detail.muted_until is None and detail.muted_until_total is None
    before = time.time()
    data.triage(viewer, row.id, "mute", mute_seconds=3600, store=store)
    detail = data.get_issue(viewer, row.id, store=store)
    assert detail is not None and detail.muted_until is not None
    assert before + 3600 <= detail.muted_until <= time.time() + 3600
    with pytest.raises(data.TriageError):
        data.triage(viewer, row.id, "mute", mute_seconds=5, store=store)
    with pytest.raises(data.TriageError):
        data.triage(viewer, row.id, "mute", mute_occurrences=0, store=store)


def test_archive_and_reopen(project: Project, store: Store) -> None:
    ingest(store, project.id, [_occurrence(project, "c0")], time.time())
    viewer = _viewer(project, store)
    (row,) = data.list_issues(viewer, store=store).rows
    archived = data.triage(viewer, row.id, "archive", store=store)
    assert archived is not None and archived.status == "archived"
    page = data.list_issues(viewer, status="archived", store=store)
    assert [r.id for r in page.rows] == [row.id] and page.counts_by_status["active"] == 0
    reopened = data.triage(viewer, row.id, "reopen", store=store)
    assert reopened is not None and reopened.status == "active"


def test_unknown_actions_and_other_projects_issues(project: Project, store: Store) -> None:
    viewer = _viewer(project, store)
    with pytest.raises(data.TriageError):
        data.triage(viewer, "anything", "delete", store=store)
    assert data.triage(viewer, "anything", "mute", store=store) is None
    assert data.triage(viewer, "anything", "resolve_next", store=store) is None


def test_issue_occurrences_page_through_the_time_index(project: Project, store: Store) -> None:
    base = time.time() - 100
    for i in range(5):
        ingest(store, project.id, [_occurrence(project, f"c{i}", received_at=base + i)], base + i)
    viewer = _viewer(project, store)
    (row,) = data.list_issues(viewer, store=store).rows
    first, before = data.issue_occurrences(viewer, row.id, limit=2, store=store)
    assert len(first) == 3 and before is not None
    rest, end = data.issue_occurrences(viewer, row.id, before_ms=before, limit=2, store=store)
    assert end is None
    refs = [o.ref for o in first] + [o.ref for o in rest]
    assert len(refs) == 5 and len(set(refs)) == 5


def test_only_personal_tokens_sign_in_and_only_their_project(
    project: Project, other_project: Project, store: Store
) -> None:
    assert data.sign_in(project.credentials["rollbar_read"], store) is None
    assert data.sign_in("nope", store) is None
    ingest(store, other_project.id, [_occurrence(other_project, "x")], time.time())
    viewer = _viewer(project, store)
    assert data.list_issues(viewer, store=store).rows == []
    (theirs,) = store.issues(other_project.id)
    assert theirs.last_occurrence_id is not None
    assert data.get_issue(viewer, theirs.id, store=store) is None
    assert data.get_occurrence(viewer, theirs.last_occurrence_id, store=store) is None
    assert data.triage(viewer, theirs.id, "resolve", store=store) is None
    assert not data.revoke_credential(viewer, store.credentials(other_project.id)[0].token_hash, store=store)


def test_levels_match_the_occurrence_model() -> None:
    from lodge.occurrence import LEVELS

    assert data.LEVELS == LEVELS
