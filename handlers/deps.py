"""What the HTTP handlers use of the running app, and the FastAPI dependency that hands it
to them. A protocol, not the wiring's own class, so handlers depend on nothing above them:
`bot.components.Components` is what `bot/app.py` puts behind it.
"""

from __future__ import annotations

from typing import Annotated, Protocol, cast

from fastapi import Depends, Request
from pydantic import SecretStr

from bot.domain.config import Config
from bot.services.booking_changes import BookingChanges
from bot.services.booking_page import BookingPageService
from bot.services.processing import RequestProcessor
from bot.services.rate_limits import ClientRateLimits
from bot.services.sms_feedback import SmsFeedback
from integrations.bundle import Integrations
from integrations.credentials import GoogleSettings
from storage.db import Database
from storage.repositories import (
    BookingRepository,
    ConnectionRepository,
    EscalationRepository,
    OutboxRepository,
    RequestRepository,
)


class HttpSettings(GoogleSettings, Protocol):
    """The settings the HTTP handlers read."""

    @property
    def frontdesk_webhook_secret(self) -> SecretStr | None: ...

    @property
    def frontdesk_max_body_bytes(self) -> int: ...

    @property
    def frontdesk_signature_tolerance_seconds(self) -> int: ...

    @property
    def twilio_auth_token(self) -> SecretStr | None: ...

    @property
    def twilio_configured(self) -> bool: ...

    @property
    def slack_signing_secret(self) -> SecretStr | None: ...

    @property
    def frontdesk_duplicate_wait_seconds(self) -> float: ...


class AppParts(Protocol):
    """The parts of the running app the HTTP handlers call."""

    @property
    def settings(self) -> HttpSettings: ...

    @property
    def config(self) -> Config: ...

    @property
    def db(self) -> Database: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def connections(self) -> ConnectionRepository: ...

    @property
    def processor(self) -> RequestProcessor: ...

    @property
    def sms_feedback(self) -> SmsFeedback: ...

    @property
    def booking_page(self) -> BookingPageService: ...

    @property
    def rate_limits(self) -> ClientRateLimits: ...

    @property
    def integrations(self) -> Integrations: ...

    @property
    def requests(self) -> RequestRepository: ...

    @property
    def escalations(self) -> EscalationRepository: ...

    @property
    def bookings(self) -> BookingRepository: ...

    @property
    def booking_changes(self) -> BookingChanges: ...


def app_parts(request: Request) -> AppParts:
    return cast(AppParts, request.app.state.components)


async def _parts_dependency(request: Request) -> AppParts:
    # async: FastAPI runs a plain `def` dependency in the threadpool, a thread hop per
    # request for reading one attribute.
    return app_parts(request)


Parts = Annotated[AppParts, Depends(_parts_dependency)]
