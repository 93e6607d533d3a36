"""Key repair and label clipping: the rules every model of client data passes."""

from __future__ import annotations

from lodge.normalize.limits import LABEL_LIMIT, clip_label, cut_depth, text_key
from lodge.occurrence import ExceptionInfo, Frame, Occurrence


def test_a_lone_surrogate_key_becomes_the_replacement_character() -> None:
    assert text_key("a\ud800b") == "a\ufffdb"
    assert text_key("\udfff") == "\ufffd"
    ("a\ufffdb").encode("utf-8")


def test_valid_keys_are_kept_as_they_are() -> None:
    assert text_key("plain") == "plain"
    assert text_key("käse ✓") == "käse ✓"
    assert text_key(7) == "7"


def test_keys_are_repaired_at_every_depth() -> None:
    cut = cut_depth({"\ud800": {"x": [{"\udbff": 1}]}})
    assert cut == {"\ufffd": {"x": [{"\ufffd": 1}]}}


def test_model_extras_with_a_surrogate_key_are_accepted_and_serializable() -> None:
    frame = Frame(**{"filename": "a.py", "\ud800": 1, "locals": {"v": {"\ud800": "x"}}})
    assert frame.model_dump(mode="json") == {
        "filename": "a.py",
        "lineno": None,
        "colno": None,
        "method": None,
        "class_name": None,
        "code": None,
        "context_pre": None,
        "context_post": None,
        "locals": {"v": {"\ufffd": "x"}},
        "\ufffd": 1,
    }


def test_labels_are_clipped_and_other_texts_kept() -> None:
    huge = "E" * 450_000
    assert clip_label(huge) == "E" * LABEL_LIMIT
    occurrence = Occurrence(
        project_id="p",
        protocol="rollbar",
        client_id=huge,
        received_at=1.0,
        environment=huge,
        platform=huge,
        framework=huge,
        context=huge,
        message=huge,
        exceptions=[ExceptionInfo(type=huge, message=huge)],
    )
    for label in (occurrence.client_id, occurrence.environment, occurrence.platform, occurrence.framework):
        assert label == "E" * LABEL_LIMIT
    assert occurrence.context == "E" * LABEL_LIMIT
    assert occurrence.exception_class == "E" * LABEL_LIMIT
    assert occurrence.message == huge  # detail, not a label: kept (offloaded to S3 when large)
    assert occurrence.exceptions[0].message == huge
