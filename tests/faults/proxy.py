"""A loopback HTTP fault proxy between botocore and a moto server: stall a call, or lose its reply.

    with FaultProxy(upstream_port) as proxy:
        proxy.add(Fault("stall", match=dynamodb_call("PutItem")))               # never answered
        proxy.add(Fault("drop_reply", match=dynamodb_call("UpdateItem"), times=1))  # done, reply lost
        os.environ["AWS_ENDPOINT_URL"] = proxy.url

The proxy understands just enough HTTP/1.1 to cut a kept-alive connection into requests (a head,
then a Content-Length body or a chunked one) so a fault applies to one matched request, not to a
whole connection. Each request is checked against the faults in the order they were added; the
first that matches and has uses left decides:

- "stall": the request is not forwarded and the connection stays silent until the proxy closes
  (the client's read timeout fires; upstream never sees it);
- "drop_reply": the request is forwarded and its reply read in full (the write happened), then
  the client's connection is closed without a byte of it (the client sees a reset connection).

Every request seen is recorded (`seen`, with the fault applied, if any), so a test can count the
client's attempts. Reusable for any AWS call: `match` is any predicate on the raw request.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Match = Callable[["Request"], bool]


@dataclass(frozen=True)
class Request:
    head: bytes
    body: bytes

    @property
    def request_line(self) -> str:
        return self.head.split(b"\r\n", 1)[0].decode("latin-1")

    def header(self, name: str) -> str:
        wanted = name.lower().encode()
        for line in self.head.split(b"\r\n")[1:]:
            key, _, value = line.partition(b":")
            if key.strip().lower() == wanted:
                return value.strip().decode("latin-1")
        return ""


def dynamodb_call(operation: str, body_contains: bytes = b"") -> Match:
    """A DynamoDB JSON-protocol call by operation (`X-Amz-Target: DynamoDB_20120810.<op>`)."""

    def match(request: Request) -> bool:
        return request.header("x-amz-target").endswith("." + operation) and body_contains in request.body

    return match


@dataclass
class Fault:
    action: str
    """"stall" or "drop_reply"."""
    match: Match
    times: int | None = None
    """How many matching requests it applies to (None: every one)."""
    applied: int = 0

    def claims(self, request: Request) -> bool:
        return (self.times is None or self.applied < self.times) and self.match(request)


@dataclass
class Seen:
    request: Request
    fault: str | None


@dataclass
class FaultProxy:
    upstream_port: int
    upstream_host: str = "127.0.0.1"
    faults: list[Fault] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    _server: socket.socket | None = None
    _closing: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sockets: list[socket.socket] = field(default_factory=list)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def requests(self, match: Match) -> list[Seen]:
        with self._lock:
            return [seen for seen in self.seen if match(seen.request)]

    def __enter__(self) -> FaultProxy:
        server = socket.create_server(("127.0.0.1", 0), backlog=64)
        server.settimeout(0.2)
        self._server = server
        threading.Thread(target=self._accept, daemon=True, name="fault-proxy").start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        with self._lock:
            sockets = [*self._sockets, *([self._server] if self._server else [])]
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.close()

    # ---- internals -------------------------------------------------------------------------------

    def _track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
        return sock

    def _accept(self) -> None:
        assert self._server is not None
        while not self._closing.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(self._track(client),), daemon=True).start()

    def _decide(self, request: Request) -> str | None:
        with self._lock:
            for fault in self.faults:
                if fault.claims(request):
                    fault.applied += 1
                    self.seen.append(Seen(request, fault.action))
                    return fault.action
            self.seen.append(Seen(request, None))
        return None

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        reader = _Reader(client)
        try:
            while not self._closing.is_set():
                request = reader.request()
                if request is None:
                    return
                action = self._decide(request)
                if action == "stall":
                    self._closing.wait()
                    return
                if upstream is None:
                    upstream = self._track(socket.create_connection((self.upstream_host, self.upstream_port)))
                    upstream_reader = _Reader(upstream)
                upstream.sendall(request.head + request.body)
                reply = upstream_reader.response(request)
                if reply is None:
                    return
                if action == "drop_reply":
                    return  # the write happened upstream; the client only sees its connection close
                client.sendall(reply)
        except OSError:
            return
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.close()


class _Reader:
    """Reads whole HTTP/1.1 messages from a socket (Content-Length or chunked bodies)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buffer += data
        return bool(data)

    def _until(self, marker: bytes) -> bytes | None:
        while marker not in self.buffer:
            if not self._fill():
                return None
        index = self.buffer.index(marker) + len(marker)
        taken, self.buffer = self.buffer[:index], self.buffer[index:]
        return taken

    def _exactly(self, size: int) -> bytes | None:
        while len(self.buffer) < size:
            if not self._fill():
                return None
        taken, self.buffer = self.buffer[:size], self.buffer[size:]
        return taken

    def _body(self, head: bytes) -> bytes | None:
        message = Request(head, b"")
        if "chunked" in message.header("transfer-encoding").lower():
            chunks = b""
            while True:
                size_line = self._until(b"\r\n")
                if size_line is None:
                    return None
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                chunk = self._exactly(size + 2)
                if chunk is None:
                    return None
                chunks += size_line + chunk
                if size == 0:
                    return chunks
        length = message.header("content-length")
        return self._exactly(int(length)) if length else b""

    def request(self) -> Request | None:
        head = self._until(b"\r\n\r\n")
        if head is None:
            return None
        body = self._body(head)
        return None if body is None else Request(head, body)

    def response(self, request: Request) -> bytes | None:
        head = self._until(b"\r\n\r\n")
        if head is None:
            return None
        if request.request_line.startswith("HEAD ") or head.split(b" ", 2)[1] in (b"204", b"304"):
            return head
        body = self._body(head)
        return None if body is None else head + body


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def moto_server() -> Any:
    """A moto server on a free loopback port: (host, port)."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield "127.0.0.1", port
    finally:
        server.stop()
