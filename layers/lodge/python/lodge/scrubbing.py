"""The scrubbing step of the ingest pipeline: each occurrence scrubbed once, before grouping, so the
stored detail, the issue title and the grouping key all see scrubbed text (docs/scrubbing.md).

It works on the `Occurrence` every adapter produces, so every protocol (and the next one) is scrubbed
by the same step. The project's policy is read from its settings item and cached per warm process
(lodge.project_settings, with the flood state: one read for both).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from lodge import project_settings, scrub

if TYPE_CHECKING:
    from lodge.occurrence import Occurrence
    from lodge.storage import Store

IDENTITY = frozenset({"project_id", "protocol", "client_id", "received_at", "timestamp", "kind", "level", "group_id"})
"""Fields Lodge itself derives or validated: never client secrets, and dedup/keys depend on them."""


def policy_for(
    store: Store, project_id: str, now: float | None = None, cache: project_settings.SettingsCache | None = None
) -> scrub.Policy:
    """The project's policy, read at most once per `project_settings.REFRESH_SECONDS` per warm process."""
    current = (cache or project_settings.CACHE).read(store, project_id, time.time() if now is None else now)
    return current.policy


def clear_cache() -> None:
    project_settings.CACHE.clear()


def _scrub_model(model: BaseModel, policy: scrub.Policy, skip: frozenset[str] = frozenset()) -> None:
    """Scrub a model in place: nested models recursively, every other value by `scrub.scrub_tree`
    under its own field name (so a field called `password` or `headers.Cookie` is filtered too)."""
    for name in type(model).model_fields:
        if name in skip:
            continue
        value = getattr(model, name)
        if value is None:
            continue
        if isinstance(value, BaseModel):
            _scrub_model(value, policy)
        elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
            for part in value:
                _scrub_model(part, policy)
        elif isinstance(value, dict) and policy.classify(name):
            # A sensitive field name (`session`): its values go, the dict and its keys stay, so the
            # field keeps the type its model declares.
            object.__setattr__(model, name, {key: scrub.FILTERED for key in value})
        else:
            object.__setattr__(model, name, scrub.scrub_tree({name: value}, policy)[name])
    extra: dict[str, Any] | None = model.__pydantic_extra__
    if extra:
        model.__pydantic_extra__ = scrub.scrub_tree(extra, policy)


def scrub_occurrence(occurrence: Occurrence, policy: scrub.Policy) -> None:
    """Replace every secret in an occurrence by "[Filtered]", in place (keys are kept)."""
    if policy.enabled:
        _scrub_model(occurrence, policy, IDENTITY)
