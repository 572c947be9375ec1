"""The application factory: wires settings, config, storage, integrations and handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from bot.booking import Booker
from bot.config import Config
from bot.connection_health import ConnectionHealth
from bot.escalation import Escalator
from bot.processing import RequestProcessor
from bot.services import Integrations, build_integrations
from bot.settings import Settings
from storage.crypto import TokenCipher
from storage.db import Database
from storage.models import utcnow
from storage.repositories import (
    BookingRepository,
    ConnectionRepository,
    EscalationRepository,
    OutboxRepository,
    RequestRepository,
)

log = logging.getLogger("frontdesk")


@dataclass
class Components:
    """Everything a handler may need, built once per process."""

    settings: Settings
    config: Config
    db: Database
    requests: RequestRepository
    escalations: EscalationRepository
    bookings: BookingRepository
    outbox: OutboxRepository
    connections: ConnectionRepository
    integrations: Integrations
    processor: RequestProcessor


def build_components(
    settings: Settings,
    config: Config,
    *,
    db: Database | None = None,
    integrations: Integrations | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Components:
    db = db or Database(settings.database_url)
    requests = RequestRepository(db)
    escalations = EscalationRepository(db)
    bookings = BookingRepository(db)
    outbox = OutboxRepository(db)
    key = settings.frontdesk_encryption_key
    connections = ConnectionRepository(db, TokenCipher(key.get_secret_value()) if key else None)
    integrations = integrations or build_integrations(settings, config, outbox, bookings)
    health = ConnectionHealth(settings, config, connections, integrations.chat)
    booker = Booker(config, integrations, bookings, clock, health)
    escalator = Escalator(config, integrations.chat, escalations)
    processor = RequestProcessor(config, requests, booker, escalator, clock=clock)
    return Components(
        settings,
        config,
        db,
        requests,
        escalations,
        bookings,
        outbox,
        connections,
        integrations,
        processor,
    )


def create_app(components: Components, *, recover_on_start: bool = True) -> FastAPI:
    from handlers import errors, health, sandbox, webhooks
    from handlers.access_log import AccessLogMiddleware

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        modes = components.integrations.modes()
        log.info(
            "frontdesk starting",
            extra={
                "database": components.db.dialect,
                "services": modes,
                "sandbox": sorted(k for k, v in modes.items() if v == "sandbox"),
            },
        )
        if recover_on_start:
            recovered = await run_in_threadpool(components.processor.recover)
            if recovered:
                log.warning("finished requests left over by a crash", extra={"count": recovered})
        yield
        log.info("frontdesk stopping")

    app = FastAPI(
        title="Frontdesk",
        version="0.1.0",
        summary="Human-in-the-loop appointment scheduling",
        lifespan=lifespan,
    )
    app.state.components = components
    app.add_middleware(AccessLogMiddleware)
    errors.register(app)
    for module in (health, webhooks, sandbox):
        app.include_router(module.router)
    return app
