"""Grouping v1: fingerprint, frames, normalized message; environment; performance samples."""

from __future__ import annotations

import hashlib
import time

import pytest

from lodge import grouping
from lodge.grouping import ALGORITHM_VERSION, compute, normalize_message
from lodge.occurrence import Occurrence, ServerInfo
from tests.unit.lodge.occurrences import error, make

APP_FRAMES = [("/srv/app/main.py", "<module>"), ("/srv/app/orders.py", "create"), ("/srv/app/db.py", "save")]


def group_of(occurrence: Occurrence) -> str:
    result = compute(occurrence)
    assert result is not None
    return result.group_id


# ---- client fingerprint --------------------------------------------------------------------------


def test_short_client_fingerprint_is_used_as_is() -> None:
    result = compute(make(message="a", fingerprint="custom-fp"))
    assert result is not None
    assert result.fingerprint == "custom-fp"
    assert result.reason == "client fingerprint"
    assert group_of(make(message="something else", fingerprint="custom-fp")) == result.group_id


def test_fingerprint_of_exactly_40_characters_is_kept() -> None:
    fp = "f" * 40
    result = compute(make(message="a", fingerprint=fp))
    assert result is not None and result.fingerprint == fp


def test_long_client_fingerprint_is_hashed_with_sha1() -> None:
    fp = "x" * 41
    result = compute(make(message="a", fingerprint=fp))
    assert result is not None
    assert result.fingerprint == hashlib.sha1(fp.encode(), usedforsecurity=False).hexdigest()


def test_fingerprint_beats_frames() -> None:
    a = error(frames=APP_FRAMES, fingerprint="same")
    b = error("OtherError", frames=[("/x.py", "y")], fingerprint="same")
    assert group_of(a) == group_of(b)


# ---- frames ---------------------------------------------------------------------------------------


def test_line_numbers_do_not_split_a_group() -> None:
    a = error(frames=APP_FRAMES)
    b = error(frames=APP_FRAMES)
    for frame in b.exceptions[0].frames:
        frame.lineno = (frame.lineno or 0) + 40
    assert group_of(a) == group_of(b)


def test_the_message_does_not_matter_when_there_are_frames() -> None:
    assert group_of(error(message="id 1", frames=APP_FRAMES)) == group_of(error(message="id 2", frames=APP_FRAMES))


def test_a_different_method_is_a_different_group() -> None:
    changed = [*APP_FRAMES[:2], ("/srv/app/db.py", "update")]
    assert group_of(error(frames=APP_FRAMES)) != group_of(error(frames=changed))


def test_a_different_filename_or_class_is_a_different_group() -> None:
    changed = [*APP_FRAMES[:2], ("/srv/app/cache.py", "save")]
    assert group_of(error(frames=APP_FRAMES)) != group_of(error(frames=changed))
    assert group_of(error(frames=APP_FRAMES)) != group_of(error("KeyError", frames=APP_FRAMES))


def test_frame_class_name_is_part_of_the_key() -> None:
    a, b = error(frames=APP_FRAMES), error(frames=APP_FRAMES)
    b.exceptions[0].frames[-1].class_name = "Repo"
    assert group_of(a) != group_of(b)


def test_reason_names_the_frames() -> None:
    result = compute(error(frames=APP_FRAMES))
    assert result is not None
    assert result.reason == "exception class ZeroDivisionError and the filename and method of its 3 frame(s)"
    assert result.version == ALGORITHM_VERSION == 1


@pytest.mark.parametrize("root", ["/srv/releases/a", "/srv/releases/a/"])
def test_server_root_is_stripped(root: str) -> None:
    def deployed_at(base: str, server_root: str) -> Occurrence:
        frames = [(f"{base}/app/models/user.rb", "save"), (f"{base}/app/controllers/users.rb", "create")]
        return error("NoMethodError", frames=frames, server=ServerInfo(root=server_root))

    first = deployed_at("/srv/releases/a", root)
    second = deployed_at("/opt/other/place", "/opt/other/place")
    assert group_of(first) == group_of(second)
    # Without the root the two deploys would differ: the stripping is what merges them.
    first.server = second.server = None
    assert group_of(first) != group_of(second)


def test_root_must_match_a_whole_directory() -> None:
    a = error(frames=[("/srv/app/x.py", "f")], server=ServerInfo(root="/srv/ap"))
    b = error(frames=[("/srv/app/x.py", "f")])
    assert group_of(a) == group_of(b)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("/srv/releases/20240101120000/app.rb", "/srv/releases/20240305093012/app.rb"),  # Capistrano
        ("/srv/releases/2024-01-01/app.rb", "/srv/releases/2024-03-05/app.rb"),
        ("/srv/build-3f2a9c1/app.rb", "/srv/build-9be01d4/app.rb"),  # short sha
        (
            "/deploy/0123456789abcdef0123456789abcdef01234567/app.rb",
            "/deploy/fedcba9876543210fedcba9876543210fedcba98/app.rb",
        ),
    ],
)
def test_dates_and_shas_in_paths_are_stripped(left: str, right: str) -> None:
    assert group_of(error(frames=[(left, "run")])) == group_of(error(frames=[(right, "run")]))


def test_plain_words_in_paths_are_not_taken_for_shas() -> None:
    # "defaced"/"effaced" are 7 hex letters, but they are names, not data.
    assert group_of(error(frames=[("/srv/defaced.py", "f")])) != group_of(error(frames=[("/srv/effaced.py", "f")]))


def test_long_integers_in_method_names_are_stripped() -> None:
    a = error(frames=[("app/views/x.erb", "_app_views_x_erb__1234567_7000")])
    b = error(frames=[("app/views/x.erb", "_app_views_x_erb__9876543_7020")])
    assert group_of(a) == group_of(b)
    # one-digit differences are real names (handler1 vs handler2)
    assert group_of(error(frames=[("a.py", "handler1")])) != group_of(error(frames=[("a.py", "handler2")]))


# ---- no frames: normalized message ----------------------------------------------------------------


def test_message_ids_do_not_split_a_group() -> None:
    assert group_of(make(message="User 123 not found")) == group_of(make(message="User 456 not found"))
    assert group_of(make(message="User 123 not found")) != group_of(make(message="Order 123 not found"))


def test_exception_without_frames_groups_on_class_and_normalized_message() -> None:
    a = error("RecordNotFound", "Couldn't find User with 'id'=123")
    b = error("RecordNotFound", "Couldn't find User with 'id'=456")
    assert group_of(a) == group_of(b)
    assert group_of(a) != group_of(error("OtherError", "Couldn't find User with 'id'=123"))
    result = compute(a)
    assert result is not None
    assert result.reason == "exception class RecordNotFound and normalized message (no frames)"


def test_http_status_codes_are_kept() -> None:
    assert group_of(make(message="HTTP 404")) != group_of(make(message="HTTP 500"))
    assert group_of(error("HTTPError", "Request failed with status code 404")) != group_of(
        error("HTTPError", "Request failed with status code 503")
    )


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("User 123 not found", "User <int> not found"),
        ("user 7 not found", "user 7 not found"),
        ("job 3f2504e0-4f89-11d3-9a0c-0305e82c3301 failed", "job <uuid> failed"),
        ("job 3F2504E04F8911D39A0C0305E82C3301 failed", "job <uuid> failed"),
        ("bad pointer 0xDEADBEEF", "bad pointer <hex>"),
        ("object deadbeef12 gone", "object <hex> gone"),
        ("connect to 10.0.0.12:5432 refused", "connect to <ip> refused"),
        ("connect to 192.168.1.1 refused", "connect to <ip> refused"),
        ("peer fe80:0:0:0:202:b3ff:fe1e:8329 reset", "peer <ip> reset"),
        ("peer 2001:db8::1 reset", "peer <ip> reset"),
        ("listen on ::1 failed", "listen on <ip> failed"),
        ("mail to alice.smith+x@example.co.uk bounced", "mail to <email> bounced"),
        ("GET https://example.com/users/5?x=1 timed out", "GET <url> timed out"),
        ("due 2024-01-15 passed", "due <date> passed"),
        ("at 2024-01-15T10:20:30.123Z", "at <date>"),
        ("at 10:20:30 today", "at <time> today"),
        ("took 1.234 seconds", "took <float> seconds"),
        ("HTTP 404", "HTTP 404"),
        ("status: 500", "status: 500"),
        ("errno 13 permission denied", "errno 13 permission denied"),
        ("  padded  ", "padded"),
        ("uninitialized constant Abc::Def", "uninitialized constant Abc::Def"),
        ("undefined method `name' for nil:NilClass", "undefined method `name' for nil:NilClass"),
    ],
)
def test_normalize_message(message: str, expected: str) -> None:
    assert normalize_message(message) == expected


# ---- scope and kinds ------------------------------------------------------------------------------


def test_environment_splits_groups() -> None:
    production = make(message="boom", environment="production")
    staging = make(message="boom", environment="staging")
    a, b = compute(production), compute(staging)
    assert a is not None and b is not None
    assert a.fingerprint == b.fingerprint
    assert a.group_id != b.group_id


def test_performance_samples_are_not_grouped() -> None:
    assert compute(make(kind="performance", action="HomeController#index", duration=12.5)) is None


def test_grouping_carries_title_reason_and_version() -> None:
    result = compute(make(message="User 5 not found\nmore"))
    assert result is not None
    assert result.title == "User 5 not found"
    assert result.reason == "normalized message"
    assert result.version == grouping.ALGORITHM_VERSION
    assert len(result.group_id) == 20


@pytest.mark.parametrize(
    "message",
    [
        "1" * 200_000,
        "1." * 100_000,
        "a." * 100_000,
        "deadbeef-" * 22_000,
        "a:" * 100_000,
        " 0a" * 70_000,
        "x@" * 100_000,
        "a@b." * 50_000,
        "a://" * 50_000,
    ],
)
def test_normalize_message_is_linear_on_adversarial_input(message: str) -> None:
    """A 200 KB message must not backtrack quadratically (this took minutes with unanchored runs)."""
    started = time.process_time()
    normalize_message(message)
    assert time.process_time() - started < 1.0
