"""The one normalized occurrence model every protocol adapter produces.

Adapters map their wire format into `Occurrence`; grouping, storage and every query API read only
this model. Keys a client sent that have no field here are kept in `extra` (on the occurrence, a
frame, an exception, ...) so nothing a client reported is silently dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, NamedTuple

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from lodge.ids import occurrence_id_for
from lodge.normalize.limits import clip_label, cut_depth, text_key

if TYPE_CHECKING:
    from lodge.normalize.backtraces import ParsedLine

__all__ = ["occurrence_id_for"]  # re-exported: callers import it from here too

Level = Literal["critical", "error", "warning", "info", "debug"]
Protocol = Literal["rollbar", "appsignal", "crashlog", "sentry"]
Kind = Literal["error", "message", "performance"]

LEVELS: tuple[str, ...] = ("critical", "error", "warning", "info", "debug")
_LEVEL_ALIASES = {"warn": "warning", "fatal": "critical", "err": "error", "information": "info", "log": "debug"}


def normalize_level(value: Any, default: Level) -> Level:
    """Map a client's level string onto Lodge's five levels (Rollbar's set), else `default`."""
    if isinstance(value, str):
        lowered = value.strip().lower()
        lowered = _LEVEL_ALIASES.get(lowered, lowered)
        if lowered in LEVELS:
            return lowered  # type: ignore[return-value]
    return default


def _shallow_enough(data: Any) -> Any:
    """Cut client data nested deeper than normalize.limits.MAX_DEPTH under any field (extras
    included), and repair keys that are not valid text at every level (`text_key`): the one place
    every model of client data passes before pydantic sees its keys."""
    if isinstance(data, dict):
        return {text_key(key): cut_depth(value) for key, value in data.items()}
    return data


Label = Annotated[str, AfterValidator(clip_label)]
"""A short identifying text, clipped to normalize.limits.LABEL_LIMIT (it is copied into items)."""


class _Open(BaseModel):
    """Base for wire-derived parts: unknown keys are kept, not rejected."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    _limit_depth = model_validator(mode="before")(_shallow_enough)


class Frame(_Open):
    """One call of a backtrace. A frame the client sent as a text line (`from_line`) holds that
    line as its `filename` until normalization reads it (lodge.normalize.backtraces)."""

    filename: str | None = None
    lineno: int | None = None
    colno: int | None = None
    method: str | None = None
    class_name: str | None = None
    code: str | None = None
    context_pre: list[str] | None = None
    context_post: list[str] | None = None
    locals: dict[str, Any] | None = None

    # Private, so no client key can set it (frames keep a client's unknown keys as extras).
    _sent_line: str | None = PrivateAttr(default=None)

    @classmethod
    def from_line(cls, line: str) -> Frame:
        """A frame as one backtrace line of text (`file:line:in `method'`, `at f (file:1:2)`, ...),
        for normalization to read by the occurrence's language; until then the line is its file."""
        frame = cls(filename=line)
        frame._sent_line = line
        return frame

    @property
    def sent_line(self) -> str | None:
        """The backtrace line this frame was sent as, until normalization has read it."""
        return self._sent_line

    def read_line(self, parsed: ParsedLine | None) -> None:
        """Take normalization's reading of the sent line (None: not a backtrace line, kept whole)."""
        if parsed is not None:
            self.filename, self.lineno, self.method = parsed
        self._sent_line = None


class ExceptionInfo(_Open):
    """One link of an exception chain; `frames` are ordered oldest call first, most recent last."""

    type: Label
    message: str | None = None
    description: str | None = None
    frames: list[Frame] = Field(default_factory=list)


class RequestInfo(_Open):
    url: str | None = None
    method: str | None = None
    headers: dict[str, Any] | None = None
    query_string: str | None = None
    params: dict[str, Any] | None = None
    body: Any = None
    user_ip: str | None = None
    session: dict[str, Any] | None = None
    env: dict[str, Any] | None = None


class Person(_Open):
    id: str | None = None
    username: str | None = None
    email: str | None = None


class ServerInfo(_Open):
    host: str | None = None
    root: str | None = None
    branch: str | None = None
    code_version: str | None = None
    pid: int | None = None
    argv: list[str] | None = None


class Notifier(_Open):
    name: str | None = None
    version: str | None = None


class PerformanceEvent(_Open):
    """An instrumentation event inside a performance sample (AppSignal `events[]`)."""

    name: str | None = None
    duration: float | None = None
    time: float | None = None
    end: float | None = None
    payload: dict[str, Any] | None = None


Path = tuple[str | int, ...]
"""A place inside an occurrence: attribute names, dict keys and list indexes from the top
(`("events", 0, "time")`, `("extra", "event", "timestamp")`)."""


class SentTime(NamedTuple):
    """A time as the client sent it (a number, numeric text, ISO 8601, Ruby or HTTP date text), for
    normalization to read with the one parser and bounds (lodge.normalize.timestamps).

    `values` are the places the client may have put it, best first: the first that is a time goes
    to `into`. When the first is sent but is no time, it is kept verbatim at `keep_at` (in `extra`,
    where the mapping says that protocol keeps it); without `keep_at` it is dropped."""

    into: Path
    values: tuple[Any, ...]
    keep_at: Path | None = None


class Occurrence(BaseModel):
    """One report from one client: an error, a message or a performance sample."""

    model_config = ConfigDict(extra="forbid")

    _limit_depth = model_validator(mode="before")(_shallow_enough)

    project_id: str
    protocol: Protocol
    client_id: Label
    """The client's own id for this report (Rollbar uuid, AppSignal request_id, CrashLog location id),
    or one Lodge generated when the client sent none. De-duplication is keyed on it."""
    received_at: float
    """Unix seconds (ms precision) when Lodge accepted the request."""
    timestamp: float | None = None
    """Unix seconds the client says the event happened, if it said."""
    kind: Kind = "error"
    environment: Label = "production"
    level: Level = "error"
    title: str | None = None
    exceptions: list[ExceptionInfo] = Field(default_factory=list)
    """Exception chain, outermost (the one reported) first, then its causes."""
    message: str | None = None
    request: RequestInfo | None = None
    person: Person | None = None
    server: ServerInfo | None = None
    client: dict[str, Any] | None = None
    notifier: Notifier | None = None
    tags: dict[str, Any] | None = None
    custom: dict[str, Any] | None = None
    fingerprint: str | None = None
    code_version: Label | None = None
    platform: Label | None = None
    language: Label | None = None
    framework: Label | None = None
    context: Label | None = None
    hostname: Label | None = None
    # Performance fields (AppSignal transactions).
    action: Label | None = None
    path: Label | None = None
    duration: float | None = None
    """Milliseconds."""
    status: int | None = None
    queue_duration: float | None = None
    events: list[PerformanceEvent] | None = None
    extra: dict[str, Any] | None = None
    """Top-level client keys with no field above, kept verbatim."""
    group_id: str | None = None
    """Set by the ingest pipeline after grouping."""

    _sent_times: list[SentTime] = PrivateAttr(default_factory=list)

    def with_sent_times(self, *times: SentTime) -> Occurrence:
        """The mapping's times as sent, left for normalization to read (see `SentTime`)."""
        self._sent_times = [*self._sent_times, *times]
        return self

    def take_sent_times(self) -> list[SentTime]:
        """The times still to read, handed over once (normalization is idempotent)."""
        times, self._sent_times = self._sent_times, []
        return times

    @property
    def occurrence_id(self) -> str:
        """Lodge's id: derived from (protocol, client id), so a retry maps onto the same stored item."""
        return occurrence_id_for(self.protocol, self.client_id)

    @property
    def effective_time(self) -> float:
        return self.timestamp if self.timestamp is not None else self.received_at

    @property
    def exception_class(self) -> str | None:
        return self.exceptions[0].type if self.exceptions else None

    def default_title(self) -> str:
        """Rollbar-style title: `Class: message` for exceptions, the message text otherwise."""
        if self.title:
            return self.title[:255]
        if self.exceptions:
            head = self.exceptions[0]
            text = f"{head.type}: {head.message}" if head.message else head.type
        elif self.message:
            text = self.message
        elif self.action:
            text = self.action
        else:
            text = "(no message)"
        first_line = text.strip().splitlines()[0] if text.strip() else text
        return first_line[:255]

    def to_detail(self) -> dict[str, Any]:
        """The stored form: everything, minus what is empty."""
        return self.model_dump(mode="json", exclude_none=True)
