"""Alerts, the summaries they carry, and rules: plain dataclasses with a JSON form (no pydantic:
the ingest functions import this on their hot path, and the queue message is this JSON)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, Literal, Self

AlertKind = Literal["new_issue", "regression", "threshold", "deploy"]
ALERT_KINDS: tuple[AlertKind, ...] = ("new_issue", "regression", "threshold", "deploy")
LEVELS = ("debug", "info", "warning", "error", "critical")
MESSAGE_VERSION = 1
TOP_FRAMES = 5


def level_rank(level: str | None) -> int:
    """Position in LEVELS; an unknown level ranks as error (the ingest default)."""
    return LEVELS.index(level) if level in LEVELS else LEVELS.index("error")


_COERCE: dict[str, Callable[..., Any]] = {"str": str, "float": float, "int": int}
_MISSING_LEVEL = "error"
"""What a summary without a level reads as (the ingest default)."""


class FromDict:
    """`from_dict` for the flat summary dataclasses below: each field from its key in a queue
    message, coerced to its annotated type (`str`, `float`, `int`, `list[str]`); a missing key
    takes the field's default, else ("level") the ingest default, else the type's empty value."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        values: dict[str, Any] = {}
        for spec in fields(cls):  # type: ignore[arg-type]  # every subclass is a dataclass
            if spec.type == "list[str]":
                values[spec.name] = [str(item) for item in data.get(spec.name, [])]
                continue
            coerce = _COERCE[str(spec.type)]
            if spec.name in data:
                raw = data[spec.name]
            elif spec.default is not MISSING:
                raw = spec.default
            else:
                raw = _MISSING_LEVEL if spec.name == "level" else coerce()
            values[spec.name] = coerce(raw)
        return cls(**values)


@dataclass
class OccurrenceSummary(FromDict):
    """The triggering occurrence, as much as a message shows."""

    id: str
    environment: str
    level: str
    title: str
    at: float
    frames: list[str] = field(default_factory=list)
    """Top frames, innermost first, as `file:line in method`."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        summary = super().from_dict(data)
        summary.frames = summary.frames[:TOP_FRAMES]
        return summary


@dataclass
class IssueSummary(FromDict):
    id: str
    title: str
    level: str
    environment: str
    count: int
    first_seen: float
    last_seen: float
    status: str = "active"


@dataclass
class DeploySummary(FromDict):
    id: str
    environment: str
    revision: str
    user: str
    comment: str
    at: float


@dataclass
class Alert:
    """One thing worth telling a project's destinations; `id` is the same for every redelivery."""

    id: str
    kind: AlertKind
    project_id: str
    at: float
    issue: IssueSummary | None = None
    occurrence: OccurrenceSummary | None = None
    threshold: int | None = None
    deploy: DeploySummary | None = None

    @property
    def environment(self) -> str:
        if self.occurrence is not None:
            return self.occurrence.environment
        if self.deploy is not None:
            return self.deploy.environment
        return self.issue.environment if self.issue else ""

    @property
    def level(self) -> str | None:
        """The triggering occurrence's level; deploys have none (level filters do not apply)."""
        if self.occurrence is not None:
            return self.occurrence.level
        return self.issue.level if self.issue else None

    def to_message(self) -> dict[str, Any]:
        body = {"v": MESSAGE_VERSION, "type": "alert", **asdict(self)}
        return {k: v for k, v in body.items() if v is not None}

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> Alert:
        kind = data["kind"]
        if kind not in ALERT_KINDS:
            raise ValueError(f"unknown alert kind {kind!r}")
        return cls(
            id=str(data["id"]),
            kind=kind,
            project_id=str(data["project_id"]),
            at=float(data.get("at", 0)),
            issue=IssueSummary.from_dict(data["issue"]) if data.get("issue") else None,
            occurrence=OccurrenceSummary.from_dict(data["occurrence"]) if data.get("occurrence") else None,
            threshold=int(data["threshold"]) if data.get("threshold") is not None else None,
            deploy=DeploySummary.from_dict(data["deploy"]) if data.get("deploy") else None,
        )


def alert_id(project_id: str, kind: str, subject: str, discriminator: str = "") -> str:
    """Deterministic: the same write (or its retry) always yields the same id."""
    text = "\x00".join((project_id, kind, subject, discriminator))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


DestinationKind = Literal["slack", "webhook", "email"]
DESTINATION_KINDS: tuple[DestinationKind, ...] = ("slack", "webhook", "email")
DEFAULT_CAP = 30


@dataclass
class Rule:
    """Which alerts of a project go to one destination."""

    id: str
    project_id: str
    name: str
    destination: DestinationKind
    kinds: frozenset[str] = frozenset(ALERT_KINDS)
    environments: frozenset[str] = frozenset()
    """Empty: every environment."""
    min_level: str = "debug"
    url: str | None = None
    secret: str | None = None
    """HMAC key of a signed webhook (stored as is: the receiver needs the same key)."""
    email: str | None = None
    cap: int = DEFAULT_CAP
    """Alerts per hour before the rest fold into one summary."""
    created: float = 0.0

    def matches(self, alert: Alert) -> bool:
        if alert.kind not in self.kinds:
            return False
        if self.environments and alert.environment not in self.environments:
            return False
        level = alert.level
        return level is None or level_rank(level) >= level_rank(self.min_level)
