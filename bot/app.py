"""The application factory: wires settings, config, storage, integrations and handlers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import FastAPI
from slack_bolt import App
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool

from bot.availability_lookup import AvailabilityLookup
from bot.booking import Booker
from bot.config import Config
from bot.connection_health import ConnectionHealth
from bot.dashboard import Dashboard
from bot.digest import WeeklyDigest
from bot.escalation import Escalator
from bot.metrics import build_registry
from bot.outcomes import OutcomePrompter
from bot.processing import RequestProcessor
from bot.reminder_dispatch import ReminderDispatcher, TwilioCallbacks
from bot.services import Integrations, build_integrations, mixed_mode_problems
from bot.settings import Settings
from bot.sla import SlaPinger
from bot.sms_feedback import SmsFeedback
from bot.triage import Triage
from storage.crypto import TokenCipher
from storage.db import Database
from storage.kpi_queries import KpiQueries
from storage.models import utcnow
from storage.repositories import (
    BookingRepository,
    ConnectionRepository,
    EscalationRepository,
    InteractionRepository,
    OptOutRepository,
    OutboxRepository,
    ReminderRepository,
    RequestRepository,
)

if TYPE_CHECKING:
    from bot.scheduler import Scheduler

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
    interactions: InteractionRepository
    reminders: ReminderRepository
    opt_outs: OptOutRepository
    integrations: Integrations
    escalator: Escalator
    health: ConnectionHealth
    processor: RequestProcessor
    triage: Triage
    availability: AvailabilityLookup
    dispatcher: ReminderDispatcher
    sla: SlaPinger
    outcomes: OutcomePrompter
    sms_feedback: SmsFeedback
    digest: WeeklyDigest
    clock: Callable[[], datetime]


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
    integrations = integrations or build_integrations(
        settings, config, outbox=outbox, bookings=bookings, connections=connections
    )
    health = ConnectionHealth(settings, config, connections, integrations.chat)
    booker = Booker(config, integrations, bookings, clock, health)
    escalator = Escalator(config, integrations.chat, escalations, clock)
    processor = RequestProcessor(config, requests, booker, escalator, clock=clock)
    chat = integrations.chat
    reminders = ReminderRepository(db)
    opt_outs = OptOutRepository(db)
    dispatcher = ReminderDispatcher(
        config,
        reminders,
        opt_outs,
        escalations,
        integrations.sms,
        integrations.email,
        chat,
        callbacks=TwilioCallbacks(settings.frontdesk_public_url),
        clock=clock,
    )
    return Components(
        settings=settings,
        config=config,
        db=db,
        requests=requests,
        escalations=escalations,
        bookings=bookings,
        outbox=outbox,
        connections=connections,
        interactions=InteractionRepository(db),
        reminders=reminders,
        opt_outs=opt_outs,
        integrations=integrations,
        escalator=escalator,
        health=health,
        processor=processor,
        triage=Triage(config, requests, escalations, bookings, booker, chat, clock=clock),
        availability=AvailabilityLookup(config, integrations, clock=clock),
        dispatcher=dispatcher,
        sla=SlaPinger(config, escalations, chat, outbox, clock),
        outcomes=OutcomePrompter(config, bookings, requests, chat, outbox, clock),
        sms_feedback=SmsFeedback(reminders, requests, opt_outs, dispatcher),
        digest=WeeklyDigest(config, KpiQueries(db), chat, outbox, clock),
        clock=clock,
    )


def build_slack_app(components: Components, client: WebClient | None = None) -> App:
    """The Bolt app on the same WebClient the rest of Frontdesk posts with."""
    from handlers.slack_app import SlackServices
    from handlers.slack_app import create_app as create_bolt_app

    services = SlackServices(
        config=components.config,
        triage=components.triage,
        availability=components.availability,
        chat=components.integrations.chat,
        interactions=components.interactions,
        connections=components.connections,
        outcomes=components.outcomes,
        dashboard=Dashboard(
            components.config,
            KpiQueries(components.db),
            components.connections,
            settings=components.settings,
            clock=components.clock,
        ),
    )
    return create_bolt_app(
        components.settings, services, client or components.integrations.slack_client
    )


def create_app(
    components: Components,
    *,
    recover_on_start: bool = True,
    slack_app: App | None = None,
    scheduler: Scheduler | None = None,
) -> FastAPI:
    """The HTTP app. With Slack credentials, /slack/events serves the Bolt app. A
    `scheduler` runs for as long as the app is served, and stops inside the server's own
    graceful shutdown (uvicorn handles SIGTERM; code after `uvicorn.run` may never run).
    """
    from handlers import (
        errors,
        health,
        metrics,
        oauth,
        sandbox,
        slack_events,
        sms_webhooks,
        webhooks,
    )
    from handlers.access_log import AccessLogMiddleware
    from handlers.limits import BodyLimitMiddleware
    from handlers.ops_auth import OpsAuthMiddleware

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
        for problem in mixed_mode_problems(components.config, components.integrations):
            log.warning("real and sandboxed services do not add up", extra={"problem": problem})
        if recover_on_start:
            recovered = await run_in_threadpool(components.processor.recover)
            if recovered:
                log.warning("finished requests left over by a crash", extra={"count": recovered})
        if scheduler is not None:
            scheduler.start()
        yield
        log.info("frontdesk stopping")
        if scheduler is not None:
            await run_in_threadpool(scheduler.shutdown)

    app = FastAPI(
        title="Frontdesk",
        version="0.1.0",
        summary="Human-in-the-loop appointment scheduling",
        lifespan=lifespan,
    )
    app.state.components = components
    if slack_app is None and components.settings.slack_configured:
        slack_app = build_slack_app(components)
    app.state.slack_app = slack_app
    # One registry for the app's life, as the worker's metrics server has; each scrape
    # still reads the database afresh through its collector.
    app.state.metrics_registry = build_registry(components.db)
    settings = components.settings
    app.add_middleware(
        BodyLimitMiddleware,
        default_limit=settings.frontdesk_max_body_bytes,
        limits={
            "/slack/events": slack_events.MAX_SLACK_BODY_BYTES,
            "/webhooks/twilio/status": sms_webhooks.MAX_TWILIO_BODY_BYTES,
            "/webhooks/twilio/inbound": sms_webhooks.MAX_TWILIO_BODY_BYTES,
        },
        timeout_seconds=settings.frontdesk_body_timeout_seconds,
    )
    app.add_middleware(OpsAuthMiddleware, settings=settings)
    app.add_middleware(AccessLogMiddleware)
    errors.register(app)
    for module in (health, metrics, webhooks, sandbox, oauth, slack_events, sms_webhooks):
        app.include_router(module.router)
    return app
