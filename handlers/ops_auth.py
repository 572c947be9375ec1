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
from typing import Protocol

from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

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


class OpsSettings(Protocol):
    """What the ops-page guard reads of the settings."""

    @property
    def frontdesk_admin_token(self) -> SecretStr | None: ...

    @property
    def frontdesk_metrics_token(self) -> SecretStr | None: ...

    @property
    def slack_configured(self) -> bool: ...

    @property
    def google_configured(self) -> bool: ...

    @property
    def microsoft_configured(self) -> bool: ...

    @property
    def postmark_configured(self) -> bool: ...

    @property
    def twilio_configured(self) -> bool: ...

    @property
    def hubspot_configured(self) -> bool: ...

    @property
    def salesforce_configured(self) -> bool: ...


def full_sandbox(settings: OpsSettings) -> bool:
    """No service has credentials: everything that would leave the machine is recorded."""
    return not (
        settings.slack_configured
        or settings.google_configured
        or settings.microsoft_configured
        or settings.postmark_configured
        or settings.twilio_configured
        or settings.hubspot_configured
        or settings.salesforce_configured
    )


def _matches(given: bytes, token: SecretStr | None) -> bool:
    if token is None or not token.get_secret_value():
        return False
    return hmac.compare_digest(given, token.get_secret_value().encode())


def bearer_of(authorization: bytes | None) -> bytes | None:
    """The bearer credentials of an Authorization header; b"" for another scheme, None
    without the header."""
    if authorization is None:
        return None
    scheme, _, credentials = authorization.partition(b" ")
    return credentials.strip() if scheme.lower() == b"bearer" else b""


def refusal(settings: OpsSettings, path: str, bearer: bytes | None) -> tuple[int, str, str] | None:
    """(status, error, message) when `path` is an ops page that `bearer` does not open."""
    if path not in OPS_PATHS or full_sandbox(settings):
        return None
    if bearer is None:
        missing = NO_TOKEN_MESSAGE if settings.frontdesk_admin_token else NOT_CONFIGURED_MESSAGE
        return 401, "unauthorized", missing
    allowed = _matches(bearer, settings.frontdesk_admin_token) or (
        path == METRICS_PATH and _matches(bearer, settings.frontdesk_metrics_token)
    )
    return None if allowed else (403, "forbidden", WRONG_TOKEN_MESSAGE)


def refusal_response(status: int, error: str, message: str) -> tuple[bytes, list[tuple[str, str]]]:
    """The JSON body and headers of a refusal (the worker's metrics server sends it too)."""
    body = json.dumps({"error": error, "message": message}).encode()
    headers = [
        ("content-type", "application/json"),
        ("content-length", str(len(body))),
        ("cache-control", "no-store"),
    ]
    if status == 401:
        headers.append(("www-authenticate", 'Bearer realm="frontdesk-ops"'))
    return body, headers


class OpsAuthMiddleware:
    """Refuses the ops pages before any handler runs (also FastAPI's own /docs routes)."""

    def __init__(self, app: ASGIApp, settings: OpsSettings) -> None:
        self.app = app
        self.settings = settings
        self.open = full_sandbox(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.open or scope["path"] not in OPS_PATHS:
            await self.app(scope, receive, send)
            return
        authorization = dict(scope.get("headers", ())).get(b"authorization")
        refused = refusal(self.settings, scope["path"], bearer_of(authorization))
        if refused is None:
            await self.app(scope, receive, send)
            return
        status, error, message = refused
        body, headers = refusal_response(status, error, message)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(name.encode(), value.encode()) for name, value in headers],
            }
        )
        await send({"type": "http.response.body", "body": body})
