"""Settings from the environment: defaults, overrides, and the per-process cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lodge import config

VARIABLES = (
    "TABLE_NAME",
    "BUCKET_NAME",
    "RETENTION_DAYS",
    "OFFLOAD_THRESHOLD",
    "MAX_BODY_BYTES",
    "TOKEN_CACHE_SECONDS",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    config.settings.cache_clear()
    yield monkeypatch
    config.settings.cache_clear()


def test_defaults(clean_env: pytest.MonkeyPatch) -> None:
    settings = config.settings()
    assert settings == config.Settings(
        table_name="lodge",
        bucket_name="lodge-payloads",
        retention_days=90,
        offload_threshold=4096,
        max_body_bytes=1024 * 1024,
        token_cache_seconds=60.0,
    )
    assert settings.retention_seconds == 90 * 86400


def test_environment_overrides(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("TABLE_NAME", "t")
    clean_env.setenv("BUCKET_NAME", "b")
    clean_env.setenv("RETENTION_DAYS", "30")
    clean_env.setenv("OFFLOAD_THRESHOLD", "2048")
    clean_env.setenv("MAX_BODY_BYTES", "512")
    clean_env.setenv("TOKEN_CACHE_SECONDS", "5")
    settings = config.settings()
    assert (settings.table_name, settings.bucket_name) == ("t", "b")
    assert (settings.retention_days, settings.retention_seconds) == (30, 30 * 86400)
    assert (settings.offload_threshold, settings.max_body_bytes, settings.token_cache_seconds) == (2048, 512, 5.0)


def test_empty_values_mean_the_default(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("RETENTION_DAYS", "")
    assert config.settings().retention_days == 90


def test_settings_are_read_once_per_process(clean_env: pytest.MonkeyPatch) -> None:
    first = config.settings()
    clean_env.setenv("TABLE_NAME", "changed")
    assert config.settings() is first
    config.settings.cache_clear()
    assert config.settings().table_name == "changed"


def test_settings_are_immutable(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(AttributeError):
        config.settings().table_name = "x"  # type: ignore[misc]
