"""Alerts, the summaries they carry, and rules: plain dataclasses with a JSON form (no pydantic:
the ingest functions import this on their hot path, and the queue message is this JSON)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

AlertKind = Literal["new_issue", "regression", "threshold", "deploy"]
ALERT_KINDS: tuple[AlertKind, ...] = ("new_issue", "regression", "threshold", "deploy")
LEVELS = ("debug", "info", "warning", "error", "critical")
MESSAGE_VERSION = 1
TOP_FRAMES = 5


def level_rank(level: str | None) -> int:
    """Position in LEVELS; an unknown level ranks as error (the ingest default)."""
    return LEVELS.index(level) if level in LEVELS else LEVELS.index("error")


@dataclass
class OccurrenceSummary:
    """The triggering occurrence, as much as a message shows."""

    id: str
    environment: str
    level: str
    title: str
    at: float
    frames: list[str] = field(default_factory=list)
    """Top frames, innermost first, as `file:line in method`."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OccurrenceSummary:
        return cls(
            id=str(data.get("id", "")),
            environment=str(data.get("environment", "")),
            level=str(data.get("level", "error")),
            title=str(data.get("title", "")),
            at=float(data.get("at", 0)),
            frames=[str(f) for f in data.get("frames", [])][:TOP_FRAMES],
        )


@dataclass
class IssueSummary:
    id: str
    title: str
    level: str
    environment: str
    count: int
    first_seen: float
    last_seen: float
    status: str = "active"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IssueSummary:
        return cls(
            id=str(data.get("id", "")),
            title=str(data.get("title", "")),
            level=str(data.get("level", "error")),
            environment=str(data.get("environment", "")),
            count=int(data.get("count", 0)),
            first_seen=float(data.get("first_seen", 0)),
            last_seen=float(data.get("last_seen", 0)),
            status=str(data.get("status", "active")),
        )


@dataclass
class DeploySummary:
    id: str
    environment: str
    revision: str
    user: str
    comment: str
    at: float

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeploySummary:
        return cls(
            id=str(data.get("id", "")),
            environment=str(data.get("environment", "")),
            revision=str(data.get("revision", "")),
            user=str(data.get("user", "")),
            comment=str(data.get("comment", "")),
            at=float(data.get("at", 0)),
        )


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
