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


def test_regressed_means_seen_after_it_was_resolved(project: Project, store: Store) -> None:
    ingest(store, project.id, [_occurrence(project, "c1")], time.time())
    viewer = _viewer(project, store)
    (row,) = data.list_issues(viewer, store=store).rows
    resolved = data.triage(viewer, row.id, "resolve", store=store)
    assert resolved is not None and resolved.status == "resolved" and not resolved.regressed
    time.sleep(0.01)
    ingest(store, project.id, [_occurrence(project, "c2", received_at=time.time())], time.time())
    (again,) = data.list_issues(viewer, status="resolved", store=store).rows
    assert again.regressed and again.count == 2
    reopened = data.triage(viewer, row.id, "reopen", store=store)
    assert reopened is not None and reopened.status == "active" and not reopened.regressed


@pytest.mark.parametrize("action", data.PENDING_ACTIONS)
def test_pending_actions_are_not_available_yet(project: Project, store: Store, action: str) -> None:
    with pytest.raises(data.NotAvailableYet):
        data.triage(_viewer(project, store), "anything", action, store=store)


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
