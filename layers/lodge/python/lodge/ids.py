"""Id derivations with no heavy imports, so light handlers (CrashLog /locate) need not load pydantic."""

from __future__ import annotations

import hashlib


def occurrence_id_for(protocol: str, client_id: str) -> str:
    """Deterministic, opaque, URL-safe id for a client's report within a project.

    Derived from (protocol, client id), so a client's retry maps onto the same stored record and a
    lookup by the client's own id (Rollbar uuid, CrashLog location id) needs no index.
    """
    digest = hashlib.sha256(f"{protocol}\x00{client_id}".encode("utf-8", "surrogatepass")).hexdigest()
    return digest[:24]
