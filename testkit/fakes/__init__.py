"""Fake third-party APIs (Slack, Google, Graph, Postmark): real HTTP servers on 127.0.0.1
that record every call and can be scripted to fail. `FakeService` runs the server.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Protocol, Self, TypeVar
from urllib.parse import parse_qsl


class FakeHTTPServer(ThreadingHTTPServer):
    """A threading server whose listen backlog takes a burst of clients: the default of 5
    makes the sixth concurrent connection wait a second for a SYN retry.
    """

    request_queue_size = 128
    daemon_threads = True


class _Countdown(Protocol):
    times: int


_T = TypeVar("_T", bound=_Countdown)


class Scripts(Generic[_T]):
    """Canned answers queued per route; each serves its next `times` calls, in order."""

    def __init__(self) -> None:
        self._queues: dict[str, list[_T]] = {}
        self._lock = threading.Lock()

    def add(self, route: str, scripted: _T) -> None:
        with self._lock:
            self._queues.setdefault(route, []).append(scripted)

    def pop(self, route: str) -> _T | None:
        """The answer for this call of `route`, or None to answer normally."""
        with self._lock:
            queue = self._queues.get(route)
            if not queue:
                return None
            scripted = queue[0]
            scripted.times -= 1
            if scripted.times <= 0:
                queue.pop(0)
            return scripted


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


def parse_body(content_type: str, raw: bytes) -> dict[str, Any]:
    """A request body as a dict: JSON, or a form post's fields."""
    if not raw:
        return {}
    if content_type.startswith("application/json"):
        return dict(json.loads(raw))
    return dict(parse_qsl(raw.decode(), keep_blank_values=True))


class FakeHandler(BaseHTTPRequestHandler):
    """What every fake's request handler shares: reading the body and headers, answering
    with a JSON (or other) body, and a quiet log (the recorded calls are the log).
    """

    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def do_PATCH(self) -> None:
        self.dispatch("PATCH")

    def do_DELETE(self) -> None:
        self.dispatch("DELETE")

    def dispatch(self, method: str) -> None:
        """Answer one request; a fake overrides this for the methods it serves."""
        self.send(405, '{"error": "method_not_allowed"}', {})

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def lower_headers(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers.items()}

    def send(self, status: int, body: str | bytes, headers: dict[str, str]) -> None:
        payload = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""
