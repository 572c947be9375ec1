"""The parts of a running Frontdesk, built once per process from the settings and the
config: storage, the integrations (real or sandboxed), and the services over them. The HTTP
app (`bot/app.py`), the scheduler and the CLI all start from here.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from bot.domain.config import Config
from bot.domain.form_token import FormTokens, derive_key
from bot.domain.manage_links import ManageLinks
from bot.providers import build_integrations
from bot.reports.dashboard import Dashboard
from bot.services.availability import AvailabilityService
from bot.services.availability_lookup import AvailabilityLookup
from bot.services.booking import Booker
from bot.services.booking_changes import BookingChanges
from bot.services.booking_page import BookingPageService
from bot.services.connection_health import ConnectionHealth
from bot.services.digest import WeeklyDigest
from bot.services.escalation import Escalator
from bot.services.outcomes import OutcomePrompter
from bot.services.processing import RequestProcessor
from bot.services.rate_limits import ClientRateLimits
from bot.services.reminder_dispatch import ReminderDispatcher, TwilioCallbacks
from bot.services.sla import SlaPinger
from bot.services.sms_feedback import SmsFeedback
from bot.services.tickets import TicketService
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
    TicketRepository,
)
from storage.types import utcnow

log = logging.getLogger("frontdesk")

# Threads that redraw escalation messages after claims (bot/services/redraws.py). A
# chat.update is mostly waiting on Slack (a round trip to its API), so the threads are
# more than the CPU would need: with 4, the updates fell seconds behind a burst of 50
# clients clicking (bench/slack_ack.py) on a busy machine; with 8 they kept up.
REDRAW_WORKERS = 8


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
    booking_page: BookingPageService
    rate_limits: ClientRateLimits
    booking_changes: BookingChanges
    tickets: TicketService | None = None  # CRM tickets (SPEC §12); None without [crm]


def build_components(
    settings: Settings,
    config: Config,
    *,
    db: Database | None = None,
    integrations: Integrations | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> Components:
    db = db or Database(settings.database_url, pool=settings.db_pool())
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
    availability = AvailabilityService(
        config, integrations, health=health, clock=clock, bookings=bookings
    )
    secret = _shared_secret(settings)
    links = ManageLinks(secret, settings.frontdesk_public_url)
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
    triage = Triage(
        config,
        requests,
        escalations,
        bookings,
        booker,
        chat,
        clock=clock,
        # On AWS Lambda no thread may outlive the response: the redraw happens before it.
        redraw_executor=None
        if settings.on_lambda
        else ThreadPoolExecutor(REDRAW_WORKERS, thread_name_prefix="slack-redraw"),
    )
    tickets = None
    if integrations.tickets is not None:
        tickets = TicketService(
            config,
            integrations.tickets,
            TicketRepository(db),
            outbox,
            requests,
            escalations,
            clock=clock,
            redraw=triage.redraw_request,
        )
        escalator.ticket_hook = tickets.escalated
        escalator.ticket_line = triage.ticket_line = tickets.line
        triage.ticket_closed = tickets.closed
    booking_page = BookingPageService(
        config,
        availability,
        processor,
        requests,
        bookings,
        FormTokens(derive_key(secret)),
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
        triage=triage,
        availability=availability,
        availability_lookup=AvailabilityLookup(config, availability, chat, clock=clock),
        dashboard=Dashboard(config, KpiQueries(db), connections, settings=settings, clock=clock),
        dispatcher=dispatcher,
        sla=SlaPinger(config, escalations, chat, outbox, clock),
        outcomes=OutcomePrompter(config, bookings, requests, chat, outbox, clock),
        sms_feedback=SmsFeedback(reminders, requests, opt_outs, dispatcher),
        digest=WeeklyDigest(config, KpiQueries(db), chat, outbox, clock),
        clock=clock,
        booking_page=booking_page,
        rate_limits=ClientRateLimits(settings.frontdesk_rate_limit_storage),
        tickets=tickets,
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


def _shared_secret(settings: Settings) -> str:
    """What the booking page's form tokens and the clients' manage links are signed with
    (a key derived from it for each): the webhook secret, which every replica shares, else
    the encryption key. Without either, a secret of this process alone: its forms and links
    then work only on it and only until a restart, so the log says so.
    """
    for secret in (settings.frontdesk_webhook_secret, settings.frontdesk_encryption_key):
        if secret is not None and secret.get_secret_value():
            return secret.get_secret_value()
    log.warning(
        "FRONTDESK_WEBHOOK_SECRET is not set: booking page forms and manage links are signed "
        "per process and last only until a restart"
    )
    return secrets.token_hex(32)
