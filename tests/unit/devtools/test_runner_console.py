"""The runner's console and socket (issue 14, and issue 15's burst of new connections)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from lodge_devtools import runner
from lodge_devtools.sam_app import App


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        ("/api/1/item/", "/api/1/item/"),
        ("/api/1/item/?access_token=abc123", "/api/1/item/?access_token=***"),
        ("/api/x/samples.json?token=t0k&limit=5", "/api/x/samples.json?token=***&limit=5"),
        ("/1/log_entries?api_key=k&name=web&hostname=h", "/1/log_entries?api_key=***&name=web&hostname=h"),
        ("/api/1/envelope/?sentry_key=pub&sentry_version=7", "/api/1/envelope/?sentry_key=***&sentry_version=7"),
        ("/x?push_api_key=a&Secret=b&password=c&sig=d&e=", "/x?push_api_key=***&Secret=***&password=***&sig=d&e="),
        ("/x?api%5Fkey=k", "/x?api%5Fkey=***"),
    ],
)
def test_access_log_masks_credentials_in_query_strings(target: str, logged: str) -> None:
    assert runner.mask_credentials(target) == logged


@pytest.fixture
def idle_server() -> Iterator[runner.LodgeServer]:
    """A bound and listening runner socket whose accept loop has not started (a busy moment)."""
    server = runner.LodgeServer(("127.0.0.1", 0), App(functions={}, routes=[], cors=None, root=runner.LAYER_DIR), {})
    try:
        yield server
    finally:
        server.server_close()


def test_a_burst_of_new_connections_is_queued_not_dropped(idle_server: runner.LodgeServer) -> None:
    """socketserver's default backlog of 5 drops (or resets) the 7th simultaneous new connection."""
    port = idle_server.server_address[1]
    clients = []
    try:
        for n in range(64):
            client = socket.socket()
            client.settimeout(1.0)
            try:
                client.connect(("127.0.0.1", port))
            except OSError as error:
                pytest.fail(f"connection {n + 1} of a burst of 64 failed: {error!r}")
            clients.append(client)
    finally:
        for client in clients:
            client.close()
    assert idle_server.request_queue_size >= 64
