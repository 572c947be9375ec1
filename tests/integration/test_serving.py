"""`frontdesk serve`'s connection limits on a real uvicorn server (issue: hardening): a
request head that trickles in (slow loris) is cut off at its deadline, while a normal
request on the same server is answered.

No timing is asserted: the server's deadline is 0.3 s and the client waits up to 20 s for
the close it expects; a server without the deadline never closes, and the test fails.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from bot.app import create_app
from bot.components import build_components
from bot.serving import uvicorn_options
from tests.conftest import make_settings

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
CLIENT_PATIENCE = 20.0


@pytest.fixture
def server(migrated_db, example_config) -> Iterator[int]:
    settings = make_settings(migrated_db.url, frontdesk_header_timeout_seconds=0.3)
    app = create_app(build_components(settings, example_config, db=migrated_db))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, **uvicorn_options(settings), lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield port
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def _connect(port: int) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port))
    connection.settimeout(CLIENT_PATIENCE)
    return connection


def _read_all(connection: socket.socket) -> bytes:
    received = b""
    while chunk := connection.recv(4096):
        received += chunk
    return received


def _read_response(connection: socket.socket) -> bytes:
    """One response on a kept-alive connection: the head, then Content-Length bytes."""
    received = b""
    while b"\r\n\r\n" not in received:
        received += connection.recv(4096)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    while len(body) < length:
        body += connection.recv(4096)
    return head + b"\r\n\r\n" + body


@SQLITE_ONLY
def test_a_request_head_that_never_finishes_is_closed(server):
    with _connect(server) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: frontdesk\r\nX-Slow: ")
        assert _read_all(slow) == b""  # closed by the server, no answer


@SQLITE_ONLY
def test_a_silent_connection_is_closed(server):
    with _connect(server) as silent:
        assert _read_all(silent) == b""


@SQLITE_ONLY
def test_a_normal_request_is_answered_and_kept_alive(server):
    with _connect(server) as normal:
        normal.sendall(b"GET /healthz HTTP/1.1\r\nHost: frontdesk\r\n\r\n")
        assert _read_response(normal).startswith(b"HTTP/1.1 200")
        normal.sendall(b"GET /healthz HTTP/1.1\r\nHost: frontdesk\r\nConnection: close\r\n\r\n")
        assert _read_all(normal).startswith(b"HTTP/1.1 200")
