"""Who may read the ops pages: /sandbox, /sandbox.json, /metrics, /docs, /openapi.json, /redoc.

They hold outbox rows, counts and the API's shape. In full sandbox mode nothing real is
behind them and they are open, so a newcomer can watch requests route (SPEC §8). Once any
service has credentials they need `Authorization: Bearer $FRONTDESK_ADMIN_TOKEN`; a
separate `FRONTDESK_METRICS_TOKEN` opens /metrics alone, for a Prometheus scraper. With no
admin token configured they stay closed (SPEC §9).
"""

from __future__ import annotations

import hmac
import json

from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.settings import Settings

_DOCS_PATHS = ("/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc")
OPS_PATHS = frozenset(("/sandbox", "/sandbox.json", "/metrics", *_DOCS_PATHS))
METRICS_PATH = "/metrics"

NO_TOKEN_MESSAGE = (
    "this page needs Authorization: Bearer <FRONTDESK_ADMIN_TOKEN> while any service is real"
)
NOT_CONFIGURED_MESSAGE = (
    "this page is closed: some services are real and FRONTDESK_ADMIN_TOKEN is not set"
)
WRONG_TOKEN_MESSAGE = "the bearer token does not open this page"


def full_sandbox(settings: Settings) -> bool:
    """No service has credentials: everything that would leave the machine is recorded."""
    return not (
        settings.slack_configured
        or settings.google_configured
        or settings.microsoft_configured
        or settings.postmark_configured
        or settings.twilio_configured
    )


def _matches(given: bytes, token: SecretStr | None) -> bool:
    if token is None or not token.get_secret_value():
        return False
    return hmac.compare_digest(given, token.get_secret_value().encode())


def _bearer(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, credentials = value.partition(b" ")
            return credentials.strip() if scheme.lower() == b"bearer" else b""
    return None


class OpsAuthMiddleware:
    """Refuses the ops pages before any handler runs (also FastAPI's own /docs routes)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.open = full_sandbox(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.open or scope["path"] not in OPS_PATHS:
            await self.app(scope, receive, send)
            return
        given = _bearer(scope)
        if given is None:
            await _refuse(send, 401, "unauthorized", self._missing_message())
            return
        allowed = _matches(given, self.settings.frontdesk_admin_token) or (
            scope["path"] == METRICS_PATH and _matches(given, self.settings.frontdesk_metrics_token)
        )
        if not allowed:
            await _refuse(send, 403, "forbidden", WRONG_TOKEN_MESSAGE)
            return
        await self.app(scope, receive, send)

    def _missing_message(self) -> str:
        return NO_TOKEN_MESSAGE if self.settings.frontdesk_admin_token else NOT_CONFIGURED_MESSAGE


async def _refuse(send: Send, status: int, error: str, message: str) -> None:
    body = json.dumps({"error": error, "message": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="frontdesk-ops"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
