"""The parts of a running Frontdesk, built once per process from the settings and the
config: storage, the integrations (real or sandboxed), and the services over them. The HTTP
app (`bot/app.py`), the scheduler and the CLI all start from here.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.domain.config import Config
from bot.domain.manage_links import ManageLinks
from bot.providers import build_integrations
from bot.reports.dashboard import Dashboard
from bot.services.availability import AvailabilityService
from bot.services.availability_lookup import AvailabilityLookup
from bot.services.booking import Booker
from bot.services.booking_changes import BookingChanges
from bot.services.connection_health import ConnectionHealth
from bot.services.digest import WeeklyDigest
from bot.services.escalation import Escalator
from bot.services.outcomes import OutcomePrompter
from bot.services.processing import RequestProcessor
from bot.services.reminder_dispatch import ReminderDispatcher, TwilioCallbacks
from bot.services.sla import SlaPinger
from bot.services.sms_feedback import SmsFeedback
from bot.services.triage import Triage
from bot.settings import Settings
from integrations.bundle import Integrations
from storage.crypto import TokenCipher
from storage.db import Database
from storage.kpi_queries import KpiQueries
from storage.repositories import (
    BookingChangeRepository,
    BookingRepository,
    ConnectionRepository,
    EscalationRepository,
    InteractionRepository,
    OptOutRepository,
    OutboxRepository,
    ReminderRepository,
    RequestRepository,
)
from storage.types import utcnow

log = logging.getLogger("frontdesk")


@dataclass
class Components:
    """Everything the handlers and the scheduler need, built once per process."""

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
    availability: AvailabilityService
    availability_lookup: AvailabilityLookup
    dashboard: Dashboard
    dispatcher: ReminderDispatcher
    sla: SlaPinger
    outcomes: OutcomePrompter
    sms_feedback: SmsFeedback
    digest: WeeklyDigest
    clock: Callable[[], datetime]
    booking_changes: BookingChanges


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
    availability = AvailabilityService(config, integrations, health=health, clock=clock)
    links = ManageLinks(manage_secret(settings), settings.frontdesk_public_url)
    booker = Booker(config, integrations, bookings, clock, health, availability, links)
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
        links=links,
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
        availability=availability,
        availability_lookup=AvailabilityLookup(config, availability, chat, clock=clock),
        dashboard=Dashboard(config, KpiQueries(db), connections, settings=settings, clock=clock),
        dispatcher=dispatcher,
        sla=SlaPinger(config, escalations, chat, outbox, clock),
        outcomes=OutcomePrompter(config, bookings, requests, chat, outbox, clock),
        sms_feedback=SmsFeedback(reminders, requests, opt_outs, dispatcher),
        digest=WeeklyDigest(config, KpiQueries(db), chat, outbox, clock),
        clock=clock,
        booking_changes=BookingChanges(
            config,
            integrations,
            bookings,
            BookingChangeRepository(db),
            requests,
            escalations,
            escalator,
            availability,
            links,
            clock,
        ),
    )


def manage_secret(settings: Settings) -> str:
    """What the client's manage links are signed with (a key derived from it): the webhook
    secret, which every replica shares. Without one, a secret of this process alone — its
    links then stop working at a restart, so the log says so.
    """
    for secret in (settings.frontdesk_webhook_secret, settings.frontdesk_encryption_key):
        if secret is not None and secret.get_secret_value():
            return secret.get_secret_value()
    log.warning("FRONTDESK_WEBHOOK_SECRET is not set: manage links last only until a restart")
    return secrets.token_hex(32)
