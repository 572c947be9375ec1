"""The statuses and kinds stored in the tables (plain enums, no database imports)."""

from __future__ import annotations

from enum import StrEnum


class RequestStatus(StrEnum):
    RECEIVED = "received"
    PROCESSING = "processing"
    ESCALATED_VIP = "escalated_vip"
    ESCALATED_MANUAL_REVIEW = "escalated_manual_review"
    BOOKED_AUTO = "booked_auto"
    ESCALATED_ON_ERROR = "escalated_on_error"

    @property
    def is_final(self) -> bool:
        return self not in (RequestStatus.RECEIVED, RequestStatus.PROCESSING)


class Outcome(StrEnum):
    """How a person closed an escalation (Resolve modal), plus "booked" from the Book modal."""

    BOOKED = "booked"
    DECLINED = "declined"
    DUPLICATE = "duplicate"
    SPAM = "spam"
    HANDLED_ELSEWHERE = "handled_elsewhere"


class EscalationKind(StrEnum):
    VIP = "vip"
    MANUAL_REVIEW = "manual_review"
    ON_ERROR = "on_error"


class BookingStatus(StrEnum):
    RESERVED = "reserved"  # slot held while the calendar insert runs
    CONFIRMED = "confirmed"
    RELEASED = "released"  # the insert failed; the slot is free again
    CANCELLED = "cancelled"


class MeetingOutcome(StrEnum):
    """The host's answer to "Did it happen?" after the meeting (the no-show KPI's source)."""

    HELD = "held"
    NO_SHOW = "no_show"
    RESCHEDULED = "rescheduled"


class ReminderChannel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


class ReminderStatus(StrEnum):
    PENDING = "pending"  # waiting for due_at (also between retries)
    SENDING = "sending"  # claimed by one dispatcher until lease_until
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"  # the provider's status callback confirmed delivery
    FAILED = "failed"  # refused for good (unsubscribed, invalid number) or out of retries
    SKIPPED = "skipped"  # no longer useful (the meeting started, the client opted out)
    CANCELLED = "cancelled"  # the booking was cancelled

    @property
    def is_open(self) -> bool:
        return self in (ReminderStatus.PENDING, ReminderStatus.SENDING)


class OutboxStatus(StrEnum):
    SANDBOXED = "sandboxed"  # recorded instead of sent (sandbox mode)
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class TicketStatus(StrEnum):
    """Where a request's CRM ticket is (SPEC §12)."""

    PENDING = "pending"  # to be opened (also between retries)
    OPEN = "open"  # the CRM holds it
    FAILED = "failed"  # the CRM refused it for good, or retries ran out: a person must look
    CLOSED = "closed"  # closed in the CRM with the escalation's outcome


class ChangeKind(StrEnum):
    """What a client asked of a booking through the manage link (SPEC §11)."""

    CANCEL = "cancel"
    MOVE = "move"
    MOVE_REQUESTED = "move_requested"  # a VIP's booking: a person decides


class ChangeStatus(StrEnum):
    PENDING = "pending"  # under way (or interrupted: a retry picks it up)
    DONE = "done"
    ESCALATED = "escalated"  # a provider failed: a person was told, the booking is unchanged
    AWAITING_OWNER = "awaiting_owner"  # a VIP's move, sent to the account owner
    REFUSED = "refused"  # the new time was not free
