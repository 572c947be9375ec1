"""Fake third-party APIs (Slack, Google, Graph, Postmark): real HTTP servers on 127.0.0.1
that record every call and can be scripted to fail. `FakeService` runs the server.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class FakeHTTPServer(ThreadingHTTPServer):
    """A threading server whose listen backlog takes a burst of clients: the default of 5
    makes the sixth concurrent connection wait a second for a SYN retry.
    """

    request_queue_size = 128
    daemon_threads = True


class FakeService:
    """Starts `handler` (given a `fake` attribute pointing back here) on a port of its own,
    in a daemon thread; a context manager that starts on enter and stops on exit.
    """

    handler: type[BaseHTTPRequestHandler]
    thread_name = "fake"

    def __init__(self) -> None:
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def make_server(self, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
        """The server to run; a subclass may wrap its socket (TLS)."""
        return FakeHTTPServer(("127.0.0.1", 0), handler)

    @property
    def root_url(self) -> str:
        """`http://127.0.0.1:PORT/` of the running server."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def start(self) -> Self:
        handler = type("Handler", (self.handler,), {"fake": self})
        self._server = self.make_server(handler)
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()
