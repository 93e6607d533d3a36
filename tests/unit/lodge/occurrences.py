"""Occurrence builders shared by the layer's unit tests (not a fixture file: plain functions)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from lodge.occurrence import ExceptionInfo, Frame, Notifier, Occurrence, ServerInfo

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def make(**fields: Any) -> Occurrence:
    """An occurrence with a fresh client id and sensible defaults; keyword arguments override."""
    values: dict[str, Any] = {
        "project_id": "p1",
        "protocol": "rollbar",
        "client_id": str(uuid.uuid4()),
        "received_at": 1_700_000_000.0,
    }
    values.update(fields)
    return Occurrence(**values)


def error(
    exc_type: str = "ZeroDivisionError",
    message: str | None = "division by zero",
    frames: list[tuple[str, str]] | None = None,
    **fields: Any,
) -> Occurrence:
    """An error occurrence whose head exception has `frames` given as (filename, method) pairs."""
    frame_list = [Frame(filename=f, method=m, lineno=i + 1) for i, (f, m) in enumerate(frames or [])]
    return make(exceptions=[ExceptionInfo(type=exc_type, message=message, frames=frame_list)], **fields)


def pyrollbar_e1_payload() -> dict[str, Any]:
    """pyrollbar report_exc_info() with locals, as captured (docs/protocols/rollbar.md)."""
    payload: dict[str, Any] = json.loads((FIXTURES / "layer" / "pyrollbar_e1.json").read_text())
    return payload


def pyrollbar_e1(received_at: float = 1_795_324_864.25) -> Occurrence:
    """E1 mapped by hand onto the model (the Rollbar adapter is tested on its own)."""
    data = pyrollbar_e1_payload()["data"]
    trace = data["body"]["trace"]
    frames = [Frame(**frame) for frame in trace["frames"]]
    server = data["server"]
    return Occurrence(
        project_id="p1",
        protocol="rollbar",
        client_id=data["uuid"],
        received_at=received_at,
        timestamp=float(data["timestamp"]),
        environment=data["environment"],
        level=data["level"],
        language=data["language"],
        code_version=data["code_version"],
        notifier=Notifier(**data["notifier"]),
        server=ServerInfo(**server),
        exceptions=[
            ExceptionInfo(type=trace["exception"]["class"], message=trace["exception"]["message"], frames=frames)
        ],
    )
