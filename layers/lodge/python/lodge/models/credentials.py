"""Projects and the credentials (tokens) of a project."""

from __future__ import annotations

from typing import NamedTuple


class Project(NamedTuple):
    id: str
    name: str
    created: int | None = None


class Credential(NamedTuple):
    """A stored token: only its hash is kept (the CrashLog secret excepted, HMAC needs it)."""

    token_hash: str
    project_id: str
    kind: str
    scopes: frozenset[str] = frozenset()
    label: str = ""
    created: int | None = None
    secret: str | None = None
    rate_limit: int | None = None


class ProjectDeletion(NamedTuple):
    """What deleting a project removed."""

    tokens: int
    items: int
    """Every item of the project's partition (token references, issues, occurrences, markers, ...)."""
    objects: int
    """Offloaded occurrence detail in S3."""
