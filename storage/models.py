"""SQLModel tables: requests, gate decisions (audit log), escalations, bookings, outbox,
and reps' calendar connections. All instants are stored in UTC; every party's IANA zone
is kept beside them.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Float, Index, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

# Re-exported: the statuses and the UTC column type live apart so that a read-only command
# (`frontdesk report`) can use them without importing SQLModel.
from storage.statuses import BookingStatus as BookingStatus
from storage.statuses import EscalationKind as EscalationKind
from storage.statuses import MeetingOutcome as MeetingOutcome
from storage.statuses import OutboxStatus as OutboxStatus
from storage.statuses import ReminderChannel as ReminderChannel
from storage.statuses import ReminderStatus as ReminderStatus
from storage.statuses import RequestStatus as RequestStatus
from storage.statuses import TicketStatus as TicketStatus
from storage.types import UTCDateTime as UTCDateTime
from storage.types import utcnow as utcnow

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str) -> str:
    """Time-ordered id: 48-bit milliseconds + 80 random bits, Crockford base32 (like a ULID)."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(secrets.token_bytes(10), "big")
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return f"{prefix}_{''.join(reversed(chars))}"


def _utc(*, required: bool = False, now: bool = False, index: bool = False) -> Any:
    """A UTC datetime column; `now` defaults it to the current instant."""
    column: Column[datetime] = Column(UTCDateTime(), nullable=not (required or now), index=index)
    if now:
        return Field(default_factory=utcnow, sa_column=column)
    return Field(sa_column=column) if required else Field(default=None, sa_column=column)


class StoredRequest(SQLModel):
    """One accepted form submission, stored before any external call.

    This plain model is what the pipeline passes around (cheap to build); the table below
    adds nothing but the mapping, so a row and a StoredRequest have the same fields.
    """

    id: str = Field(default_factory=lambda: new_id("req"), primary_key=True, max_length=40)
    idempotency_key: str = Field(max_length=300, unique=True)
    body_sha256: str = Field(max_length=64)
    status: str = Field(default=RequestStatus.RECEIVED, max_length=32, index=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320)
    phone: str | None = Field(default=None, max_length=20)
    sms_opt_in: bool = False
    company: str | None = Field(default=None, max_length=200)
    notes: str = Field(default="", max_length=5000)
    timezone: str = Field(max_length=64)
    requested_start: datetime | None = _utc()
    duration_minutes: int
    rep_email: str | None = Field(default=None, max_length=320)
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    response: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # Where a booking-page visitor came from (utm_source/medium/campaign), when known.
    utm: dict[str, str] | None = Field(default=None, sa_column=Column(JSON))
    attempts: int = 0
    received_at: datetime = _utc(now=True)
    lease_until: datetime | None = _utc()
    finished_at: datetime | None = _utc()


class BookingRequest(StoredRequest, table=True):
    __tablename__ = "booking_request"
    __table_args__ = (Index("ix_booking_request_status_received", "status", "received_at"),)


class Decision(SQLModel, table=True):
    """Audit log: the gate's routing and the final outcome of each request, with reasons."""

    __tablename__ = "decision"
    __table_args__ = (UniqueConstraint("request_id", "stage", name="uq_decision_request_stage"),)

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="booking_request.id", max_length=40, index=True)
    stage: str = Field(max_length=16)  # "gate" | "outcome"
    result: str = Field(max_length=32)  # a route for the gate, a status for the outcome
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    detail: str | None = Field(default=None, max_length=2000)
    rules_version: str = Field(max_length=16)
    decided_at: datetime = _utc(now=True)


class StoredEscalation(SQLModel):
    """An escalation as the services see it (the table below maps it)."""

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="booking_request.id", max_length=40, unique=True)
    kind: str = Field(max_length=16, index=True)
    priority: str = Field(default="normal", max_length=8)
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    detail: str | None = Field(default=None, max_length=2000)
    assignee: str | None = Field(default=None, max_length=64)
    channel: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    notify_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _utc(now=True)
    notified_at: datetime | None = _utc()
    claimed_by: str | None = Field(default=None, max_length=32)
    claimed_at: datetime | None = _utc()
    resolved_by: str | None = Field(default=None, max_length=32)
    resolved_at: datetime | None = _utc(index=True)
    outcome: str | None = Field(default=None, max_length=32)
    resolution_note: str | None = Field(default=None, max_length=2000)
    # SLA re-pings sent so far (at 1x, 2x and 4x sla_minutes), and when the last went out.
    sla_pings: int = 0
    sla_pinged_at: datetime | None = _utc()


class Escalation(StoredEscalation, table=True):
    __tablename__ = "escalation"


class StoredBooking(SQLModel):
    """A booking as the services see it (the table below maps it)."""

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="booking_request.id", max_length=40, unique=True)
    rep_email: str = Field(max_length=320)
    provider: str = Field(max_length=16)
    calendar_id: str = Field(max_length=320)
    status: str = Field(default=BookingStatus.RESERVED, max_length=16)
    start: datetime = _utc(required=True)
    end: datetime = _utc(required=True)
    client_timezone: str = Field(max_length=64)
    event_id: str | None = Field(default=None, max_length=1024)
    ical_uid: str | None = Field(default=None, max_length=1024)
    video_url: str | None = Field(default=None, max_length=2000)
    booked_by: str = Field(default="auto", max_length=32)  # "auto" or the Slack user who booked
    created_at: datetime = _utc(now=True)
    confirmed_at: datetime | None = _utc()
    confirmation_sent_at: datetime | None = _utc()
    # "Did it happen?": the DM to the host after the meeting, its nudge, and the answer.
    outcome_prompted_at: datetime | None = _utc()
    outcome_prompt_channel: str | None = Field(default=None, max_length=32)
    outcome_prompt_ts: str | None = Field(default=None, max_length=32)
    outcome_host: str | None = Field(default=None, max_length=32)
    outcome_nudged_at: datetime | None = _utc()
    outcome: str | None = Field(default=None, max_length=16)
    outcome_by: str | None = Field(default=None, max_length=32)
    outcome_at: datetime | None = _utc()
    # The client's manage link (SPEC §11): the version its token names, raised on every
    # move; a move in progress holds its new slot in `pending_*` until the calendar agrees.
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    pending_start: datetime | None = _utc()
    pending_end: datetime | None = _utc()
    pending_at: datetime | None = _utc()
    cancelled_at: datetime | None = _utc()
    cancelled_by: str | None = Field(default=None, max_length=32)  # "client" or a Slack user
    cancel_reason: str | None = Field(default=None, max_length=500)


class Booking(StoredBooking, table=True):
    __tablename__ = "booking"
    __table_args__ = (
        # A rep's holds overlapping a window: only the bookings ending after its start.
        Index("ix_booking_rep_end", "rep_email", "end"),
        Index("ix_booking_rep_pending_end", "rep_email", "pending_end"),
        Index("ix_booking_status_end_outcome", "status", "end", "booked_by", "outcome"),
        # The round-robin's "who was booked last", per rep, from the newest rows.
        Index("ix_booking_rep_created", "rep_email", "created_at"),
    )


class StoredBookingChange(SQLModel):
    """One cancel or move of a booking (the audit log of changes): one row per booking
    version, so a repeated request finds the first one's row and does nothing twice.
    """

    id: int | None = Field(default=None, primary_key=True)
    booking_id: int = Field(foreign_key="booking.id")
    request_id: str = Field(max_length=40, index=True)
    from_version: int
    kind: str = Field(max_length=16)  # cancel | move | move_requested (a VIP's, to a person)
    status: str = Field(max_length=16)  # pending | done | escalated | awaiting_owner
    actor: str = Field(max_length=32)  # "client" or the Slack user who acted
    reason: str | None = Field(default=None, max_length=500)
    old_start: datetime = _utc(required=True)
    new_start: datetime | None = _utc()
    new_end: datetime | None = _utc()
    error_code: str | None = Field(default=None, max_length=200)
    detail: str | None = Field(default=None, max_length=2000)
    created_at: datetime = _utc(now=True, index=True)
    finished_at: datetime | None = _utc()


class BookingChange(StoredBookingChange, table=True):
    __tablename__ = "booking_change"
    __table_args__ = (
        UniqueConstraint("booking_id", "from_version", name="uq_booking_change_version"),
    )


class StoredReminder(SQLModel):
    """A reminder to the client before a booked meeting, stored when the booking is
    confirmed so that restarts lose none; a row is claimed before it is sent, so one
    dispatcher of several sends it.
    """

    id: int | None = Field(default=None, primary_key=True)
    booking_id: int = Field(foreign_key="booking.id")
    request_id: str = Field(max_length=40, index=True)
    channel: str = Field(max_length=8)  # sms | email
    status: str = Field(default=ReminderStatus.PENDING, max_length=16)
    due_at: datetime = _utc(required=True)
    meeting_start: datetime = _utc(required=True)  # the start the due time was computed for
    attempts: int = 0
    lease_until: datetime | None = _utc()
    # A send that failed in a way that may hide an acceptance: ask the provider first.
    check_before_send: bool = False
    provider_id: str | None = Field(default=None, max_length=64, index=True)
    provider_status: str | None = Field(default=None, max_length=32)
    error_code: str | None = Field(default=None, max_length=100)
    error_detail: str | None = Field(default=None, max_length=1000)
    created_at: datetime = _utc(now=True)
    updated_at: datetime = _utc(now=True)
    sent_at: datetime | None = _utc()
    delivered_at: datetime | None = _utc()


class Reminder(StoredReminder, table=True):
    __tablename__ = "reminder"
    __table_args__ = (
        UniqueConstraint("booking_id", "channel", name="uq_reminder_booking_channel"),
        # The dispatch tick reads only what is due: its cost follows that, not the backlog.
        Index("ix_reminder_status_due", "status", "due_at"),
        Index("ix_reminder_status_lease", "status", "lease_until"),
    )


class SmsOptOut(SQLModel, table=True):
    """Phone numbers that said STOP (or that Twilio reports unsubscribed): no more SMS."""

    __tablename__ = "sms_opt_out"

    phone: str = Field(primary_key=True, max_length=20)
    source: str = Field(max_length=32)  # inbound:STOP, twilio:21610, …
    opted_out_at: datetime = _utc(now=True)


class OutboxMessage(SQLModel, table=True):
    """Every outgoing message or event, keyed so that a retry never sends it twice."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=300, unique=True)
    service: str = Field(max_length=16, index=True)  # slack | calendar | email | sms
    action: str = Field(max_length=64)
    request_id: str | None = Field(default=None, max_length=40, index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    status: str = Field(default=OutboxStatus.PENDING, max_length=16)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = _utc(now=True, index=True)
    sent_at: datetime | None = _utc()


class CalendarConnection(SQLModel, table=True):
    """A rep's link to their calendar provider; the refresh token is Fernet-encrypted."""

    __tablename__ = "calendar_connection"
    __table_args__ = (UniqueConstraint("rep_email", "provider", name="uq_connection_rep"),)

    id: int | None = Field(default=None, primary_key=True)
    rep_email: str = Field(max_length=320)
    provider: str = Field(max_length=16)
    status: str = Field(default="connected", max_length=16)  # connected | broken
    refresh_token_encrypted: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    scopes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    connected_at: datetime | None = _utc()
    broken_reason: str | None = Field(default=None, max_length=500)
    broken_at: datetime | None = _utc()
    alerted_at: datetime | None = _utc()
    updated_at: datetime = _utc(now=True)


class SlackInteraction(SQLModel, table=True):
    """Slack deliveries already taken on, by what identifies them (`event_id`, or an
    action's `action_ts` + user + request), so a Slack retry never acts twice.
    """

    __tablename__ = "slack_interaction"

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=300, unique=True)
    kind: str = Field(max_length=32)
    user_id: str | None = Field(default=None, max_length=32)
    received_at: datetime = _utc(now=True, index=True)


class StoredTicket(SQLModel):
    """A request's ticket in the CRM (SPEC §12), as the services see it: whether it is
    open yet, when to try again, and whether the CRM has heard how the escalation ended.
    """

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(foreign_key="booking_request.id", max_length=40, unique=True)
    provider: str = Field(max_length=16)  # hubspot | salesforce | sandbox
    kind: str = Field(max_length=16)  # the escalation kind that opened it
    status: str = Field(default=TicketStatus.PENDING, max_length=16)
    ticket_id: str | None = Field(default=None, max_length=64)
    url: str | None = Field(default=None, max_length=500)
    contact_id: str | None = Field(default=None, max_length=64)
    attempts: int = 0
    next_attempt_at: datetime | None = _utc()
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _utc(now=True)
    opened_at: datetime | None = _utc()
    # Set when the escalation is closed in Slack; the CRM is told after (closed_at).
    close_outcome: str | None = Field(default=None, max_length=500)
    closed_at: datetime | None = _utc()
    # The status the Slack message last showed, so a missed redraw is made up for.
    shown: str | None = Field(default=None, max_length=16)


class CrmTicket(StoredTicket, table=True):
    __tablename__ = "crm_ticket"
    __table_args__ = (Index("ix_crm_ticket_status_next", "status", "next_attempt_at"),)


class DealConversion(SQLModel, table=True):
    """Whether a request's client won a deal within `[crm] conversion_days` of asking, as
    the CRM said when last read (SPEC §12, revenue). `final` once the window has passed.
    """

    __tablename__ = "crm_conversion"

    request_id: str = Field(foreign_key="booking_request.id", max_length=40, primary_key=True)
    provider: str = Field(max_length=16)
    contact_id: str | None = Field(default=None, max_length=64)  # None: no such CRM contact
    won: bool = False
    amount: float | None = Field(default=None, sa_column=Column(Float))
    won_at: datetime | None = _utc()
    checked_at: datetime = _utc(required=True)
    final: bool = Field(default=False, index=True)


class OAuthStateUse(SQLModel, table=True):
    """OAuth `state` values already used at a callback: each state opens one consent only
    (OAuth 2.0 Security BCP), on whichever replica the callback lands."""

    __tablename__ = "oauth_state_use"

    nonce: str = Field(primary_key=True, max_length=64)
    used_at: datetime = _utc(now=True, index=True)
