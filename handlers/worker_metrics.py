"""`frontdesk worker --metrics-port`: the worker's GET /metrics, behind the same tokens as
the HTTP app's ops pages (SPEC §9: open in full sandbox mode only; otherwise
FRONTDESK_ADMIN_TOKEN or FRONTDESK_METRICS_TOKEN).

prometheus_client's own `start_http_server` has no way to check a token, so its WSGI app is
served here, wrapped in the check, on a threading server in a daemon thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from handlers.ops_auth import METRICS_PATH, OpsSettings, bearer_of, refusal, refusal_response

_STATUS_TEXT = {401: "401 Unauthorized", 403: "403 Forbidden"}


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access line on stderr: the scrape is not worth one, and it is not JSON."""


def guarded(settings: OpsSettings, app: Callable[..., Iterable[bytes]]) -> Callable[..., Any]:
    """The WSGI app, refusing /metrics to a scraper without a token that opens it."""

    def guarded_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        header = environ.get("HTTP_AUTHORIZATION")
        bearer = bearer_of(header.encode("latin-1") if header is not None else None)
        # Every path of this server is the metrics page (prometheus_client ignores the path).
        refused = refusal(settings, METRICS_PATH, bearer)
        if refused is None:
            return app(environ, start_response)
        status, error, message = refused
        body, headers = refusal_response(status, error, message)
        start_response(_STATUS_TEXT[status], headers)
        return [body]

    return guarded_app


def serve_metrics(
    settings: OpsSettings, registry: CollectorRegistry, host: str, port: int
) -> WSGIServer:
    """Serve the registry on host:port in a daemon thread; the server is returned."""
    app = guarded(settings, make_wsgi_app(registry))
    server = make_server(host, port, app, _ThreadingServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True, name="metrics").start()
    return server
