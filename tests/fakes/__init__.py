"""Fake third-party APIs (Slack, Google, Graph, Postmark): real HTTP servers on 127.0.0.1."""

from __future__ import annotations

from http.server import ThreadingHTTPServer


class FakeHTTPServer(ThreadingHTTPServer):
    """A threading server whose listen backlog takes a burst of clients: the default of 5
    makes the sixth concurrent connection wait a second for a SYN retry.
    """

    request_queue_size = 128
    daemon_threads = True
