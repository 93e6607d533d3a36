"""CrashLog location ids and `/locate`: where a reported event can be seen.

Location ids are random uuid4s (122 bits) and the occurrence's client id, so the stored record is
`occurrence_id_for("crashlog", location_id)` in the project's partition: ingest stays one record
write plus one group update. A location id alone does not name its project, so `/locate` needs a
credential (a CrashLog-signed GET, or `?token=` with a read scope) and looks only in that project.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from lodge import auth
from lodge.http import Request
from lodge.ids import occurrence_id_for
from lodge.protocols.crashlog.auth import unauthorized, verify

if TYPE_CHECKING:
    from lodge.storage import Store

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def new_location_id() -> str:
    return str(uuid.uuid4())


def is_location_id(value: str) -> bool:
    return bool(_UUID.match(value))


def location_record_id(location_id: str) -> str:
    """The record holding a location id's occurrence (`lodge.ids` keeps pydantic out of /locate)."""
    return occurrence_id_for("crashlog", location_id)


def sample_path(project_id: str, location_id: str) -> str:
    """Where an occurrence can be seen: the AppSignal-style sample detail of the query API."""
    return f"/api/{project_id}/samples/{location_record_id(location_id)}.json"


def location_stored(store: Store, project_id: str, location_id: str) -> bool:
    """Whether the event with this location id is stored in the project (a key-only lookup)."""
    from lodge.queries import occurrences

    return occurrences.is_stored(store, project_id, location_record_id(location_id))


def locate_project(store: Store, request: Request) -> str:
    """The project a `/locate` caller may look in: from a CrashLog-signed request, or from
    `?token=` when that token can read (personal, rollbar_read)."""
    if request.header("authorization"):
        return verify(store, request).project_id
    token = request.query.get("token", "")
    info = auth.lookup(store, token) if token else None
    if info is None or not info.allows(auth.READ):
        raise unauthorized()
    return info.project_id
