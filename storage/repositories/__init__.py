"""Repositories: one per aggregate, each method one short transaction.

Handlers and services call these and never see a session.
"""

from storage.repositories.booking_changes import BookingChangeRepository
from storage.repositories.bookings import BookingRepository
from storage.repositories.connections import ConnectionRepository
from storage.repositories.escalations import EscalationRepository
from storage.repositories.interactions import InteractionRepository
from storage.repositories.opt_outs import OptOutRepository
from storage.repositories.outbox import OutboxRepository
from storage.repositories.reminders import ReminderPlan, ReminderRepository
from storage.repositories.requests import RequestRepository
from storage.repositories.tickets import TicketRepository

__all__ = [
    "BookingChangeRepository",
    "BookingRepository",
    "ConnectionRepository",
    "EscalationRepository",
    "InteractionRepository",
    "OptOutRepository",
    "OutboxRepository",
    "ReminderPlan",
    "ReminderRepository",
    "RequestRepository",
    "TicketRepository",
]
