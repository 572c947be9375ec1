"""Reminders: stored with the booking, claimed by one dispatcher before they are sent.

The claim is an UPDATE of the due rows to SENDING with a lease; on PostgreSQL the rows are
picked with FOR UPDATE SKIP LOCKED, so two replicas ticking at once take disjoint rows
instead of queueing; on SQLite, BEGIN IMMEDIATE serializes the claims. A claim whose lease
ran out (its process died mid-send) is claimed again, marked to ask the provider first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import bindparam, case, func, insert, select, update
from sqlalchemy.engine import Connection

from storage.db import Database
from storage.models import (
    Booking,
    BookingRequest,
    Reminder,
    ReminderStatus,
    StoredReminder,
    utcnow,
)
from storage.repositories._sql import table

REMINDERS = table(Reminder)
BOOKINGS = table(Booking)
REQUESTS = table(BookingRequest)
_OPEN = (ReminderStatus.PENDING, ReminderStatus.SENDING)
# Built once: a booking's confirmation plans its reminders on the intake hot path.
_PLANNED = select(
    REMINDERS.c.id, REMINDERS.c.channel, REMINDERS.c.status, REMINDERS.c.meeting_start
).where(REMINDERS.c.booking_id == bindparam("b_booking"))
_PLAN_INSERT = insert(REMINDERS)


class ReminderPlan(Protocol):
    """A reminder a booking should get (`bot.domain.reminders.ReminderPlan`);
    `skip_reason` records one that is not useful.
    """

    @property
    def channel(self) -> str: ...

    @property
    def due_at(self) -> datetime: ...

    @property
    def skip_reason(self) -> str | None: ...


@dataclass(frozen=True)
class DueReminder:
    """A claimed reminder with what sending it needs from its booking and request."""

    reminder: StoredReminder
    lease_until: datetime
    booking_status: str
    start: datetime
    end: datetime
    rep_email: str
    video_url: str | None
    client_name: str
    client_email: str
    client_phone: str | None
    client_timezone: str
    # The booking's version (raised by each move): a reminder for a time the booking left
    # and came back to is a new message, not a duplicate of the first one.
    booking_version: int = 1


_DETAILS = (
    select(
        REMINDERS,
        BOOKINGS.c.status.label("b_status"),
        BOOKINGS.c.start.label("b_start"),
        BOOKINGS.c.end.label("b_end"),
        BOOKINGS.c.rep_email.label("b_rep"),
        BOOKINGS.c.video_url.label("b_video"),
        BOOKINGS.c.version.label("b_version"),
        REQUESTS.c.name.label("c_name"),
        REQUESTS.c.email.label("c_email"),
        REQUESTS.c.phone.label("c_phone"),
        REQUESTS.c.timezone.label("c_zone"),
    )
    .join(BOOKINGS, BOOKINGS.c.id == REMINDERS.c.booking_id)
    .join(REQUESTS, REQUESTS.c.id == BOOKINGS.c.request_id)
    .where(REMINDERS.c.id.in_(bindparam("r_ids", expanding=True)))
    .order_by(REMINDERS.c.due_at)
)
_REMINDER_COLUMNS = [column.name for column in REMINDERS.columns]


def _due(row: Any) -> DueReminder:
    mapping = row._mapping
    reminder = StoredReminder(**{name: mapping[name] for name in _REMINDER_COLUMNS})
    assert reminder.lease_until is not None
    return DueReminder(
        reminder=reminder,
        lease_until=reminder.lease_until,
        booking_status=mapping["b_status"],
        start=mapping["b_start"],
        end=mapping["b_end"],
        rep_email=mapping["b_rep"],
        video_url=mapping["b_video"],
        client_name=mapping["c_name"],
        client_email=mapping["c_email"],
        client_phone=mapping["c_phone"],
        client_timezone=mapping["c_zone"],
        booking_version=mapping["b_version"],
    )


def plan_in(
    conn: Connection,
    *,
    booking_id: int,
    request_id: str,
    meeting_start: datetime,
    plan: Sequence[ReminderPlan],
    now: datetime,
    first: bool = False,
) -> None:
    """Make the booking's reminders match `plan` (inside the caller's transaction).

    New channels get a row; rows planned for another start (the booking moved) start over
    with the new due time, sent ones included, since they named the old time; a reminder
    refused for good (FAILED) stays refused. Channels no longer planned are cancelled.
    `first=True`: the booking is being confirmed for the first time, so it has no rows
    yet to look up (a statement saved on the intake path).
    """
    existing = (
        {}
        if first
        else {row.channel: row for row in conn.execute(_PLANNED, {"b_booking": booking_id}).all()}
    )
    new_rows: list[dict[str, Any]] = []
    for planned in plan:
        status = ReminderStatus.SKIPPED if planned.skip_reason else ReminderStatus.PENDING
        values: dict[str, Any] = {
            "status": status,
            "due_at": planned.due_at,
            "meeting_start": meeting_start,
            "lease_until": None,
            "check_before_send": False,
            "error_code": planned.skip_reason,
            "error_detail": None,
            "updated_at": now,
        }
        row = existing.pop(planned.channel, None)
        if row is None:
            new_rows.append(
                {
                    "booking_id": booking_id,
                    "request_id": request_id,
                    "channel": planned.channel,
                    "attempts": 0,
                    "created_at": now,
                    **values,
                }
            )
            continue
        same_start = row.meeting_start == meeting_start
        if row.status == ReminderStatus.FAILED or (
            same_start and row.status != ReminderStatus.CANCELLED
        ):
            continue
        conn.execute(
            update(REMINDERS)
            .where(REMINDERS.c.id == row.id)
            .values(attempts=0, provider_id=None, provider_status=None, sent_at=None, **values)
        )
    if new_rows:  # one statement for all of them, compiled once
        conn.execute(_PLAN_INSERT, new_rows)
    for row in existing.values():
        if row.status in _OPEN:
            conn.execute(
                update(REMINDERS)
                .where(REMINDERS.c.id == row.id)
                .values(status=ReminderStatus.CANCELLED, error_code="not_planned", updated_at=now)
            )


def meeting_stamp(instant: datetime) -> str:
    """A meeting time as it appears in keys and callback URLs: 20261201T210000Z."""
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


class ReminderRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ planning

    def replan(
        self,
        booking_id: int,
        request_id: str,
        meeting_start: datetime,
        plan: Sequence[ReminderPlan],
    ) -> None:
        """The booking moved (or its reminders changed): see `plan_in`."""
        with self.db.transaction() as conn:
            plan_in(
                conn,
                booking_id=booking_id,
                request_id=request_id,
                meeting_start=meeting_start,
                plan=plan,
                now=utcnow(),
            )

    def cancel_for_booking(self, booking_id: int, reason: str = "booking_cancelled") -> int:
        """The booking was cancelled: its open reminders never go out."""
        with self.db.transaction() as conn:
            return conn.execute(
                update(REMINDERS)
                .where(REMINDERS.c.booking_id == booking_id, REMINDERS.c.status.in_(_OPEN))
                .values(status=ReminderStatus.CANCELLED, error_code=reason, updated_at=utcnow())
            ).rowcount

    # ------------------------------------------------------------------ dispatching

    def claim_due(self, now: datetime, lease: timedelta, *, limit: int) -> list[DueReminder]:
        """Claim up to `limit` reminders due at `now` (oldest first), and those whose
        claim's lease ran out, for `lease`. Each comes back to one caller only.

        `now` is business time (what is due); leases are real time (whether a process is
        still at it), so a test's clock or a skewed one never expires a live claim.
        """
        real_now = utcnow()
        lease_until = real_now + lease
        due = (
            select(REMINDERS.c.id)
            .where(REMINDERS.c.status == ReminderStatus.PENDING, REMINDERS.c.due_at <= now)
            .order_by(REMINDERS.c.due_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        abandoned = (
            select(REMINDERS.c.id)
            .where(
                REMINDERS.c.status == ReminderStatus.SENDING, REMINDERS.c.lease_until <= real_now
            )
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claimed: list[int] = []
        with self.db.transaction() as conn:
            for picked in (abandoned, due):
                if len(claimed) >= limit:
                    break
                claimed += (
                    conn.execute(
                        update(REMINDERS)
                        .where(
                            REMINDERS.c.id.in_(picked.limit(limit - len(claimed)).scalar_subquery())
                        )
                        .values(
                            # A claim that expired mid-send may have been sent: ask first.
                            check_before_send=case(
                                (REMINDERS.c.status == ReminderStatus.SENDING, True),
                                else_=REMINDERS.c.check_before_send,
                            ),
                            status=ReminderStatus.SENDING,
                            lease_until=lease_until,
                            attempts=REMINDERS.c.attempts + 1,
                            updated_at=now,
                        )
                        .returning(REMINDERS.c.id)
                    )
                    .scalars()
                    .all()
                )
            if not claimed:
                return []
            rows = conn.execute(_DETAILS, {"r_ids": claimed}).all()
        return [_due(row) for row in rows]

    def _settle(self, due: DueReminder, *, reported_ok: bool = False, **values: Any) -> bool:
        """Update a claimed row, if the claim is still ours (same lease): False when the
        lease ran out and another dispatcher took the reminder over. `reported_ok` also
        accepts a row the provider's delivery report reached before the send's answer.
        """
        values.setdefault("updated_at", utcnow())
        statuses = [ReminderStatus.SENDING]
        if reported_ok:
            statuses += [ReminderStatus.DELIVERED, ReminderStatus.FAILED]
        with self.db.transaction() as conn:
            return (
                conn.execute(
                    update(REMINDERS)
                    .where(
                        REMINDERS.c.id == due.reminder.id,
                        REMINDERS.c.status.in_(statuses),
                        REMINDERS.c.lease_until == due.lease_until,
                    )
                    .values(lease_until=None, **values)
                ).rowcount
                == 1
            )

    def renew(self, due: DueReminder, lease: timedelta) -> DueReminder | None:
        """Extend the claim on one reminder just before it is sent, so the lease covers
        that send rather than the whole batch; None when the claim was lost meanwhile
        (another dispatcher took it over after the batch's lease ran out).
        """
        lease_until = utcnow() + lease
        with self.db.transaction() as conn:
            renewed = conn.execute(
                update(REMINDERS)
                .where(
                    REMINDERS.c.id == due.reminder.id,
                    REMINDERS.c.status == ReminderStatus.SENDING,
                    REMINDERS.c.lease_until == due.lease_until,
                )
                .values(lease_until=lease_until)
            ).rowcount
        return replace(due, lease_until=lease_until) if renewed == 1 else None

    def release(self, claimed: Sequence[DueReminder]) -> int:
        """Hand claimed reminders back untouched (a shutdown): due again at once, and the
        attempt they were claimed for is not counted.
        """
        released = 0
        with self.db.transaction() as conn:
            for due in claimed:
                released += conn.execute(
                    update(REMINDERS)
                    .where(
                        REMINDERS.c.id == due.reminder.id,
                        REMINDERS.c.status == ReminderStatus.SENDING,
                        REMINDERS.c.lease_until == due.lease_until,
                    )
                    .values(
                        status=ReminderStatus.PENDING,
                        lease_until=None,
                        attempts=REMINDERS.c.attempts - 1,
                    )
                ).rowcount
        return released

    def mark_sent(self, due: DueReminder, provider_id: str, at: datetime) -> bool:
        """The provider accepted it. A delivery report that came first keeps its status."""
        return self._settle(
            due,
            reported_ok=True,
            status=case(
                (REMINDERS.c.status == ReminderStatus.SENDING, ReminderStatus.SENT),
                else_=REMINDERS.c.status,
            ),
            provider_id=provider_id,
            sent_at=at,
            check_before_send=False,
            error_code=None,
            error_detail=None,
        )

    def mark_done(
        self, due: DueReminder, status: ReminderStatus, code: str, detail: str | None = None
    ) -> bool:
        """Finished without a send: FAILED (refused for good), SKIPPED or CANCELLED."""
        return self._settle(
            due, status=status, error_code=code, error_detail=(detail or "")[:1000] or None
        )

    def retry_later(
        self, due: DueReminder, at: datetime, code: str, detail: str, *, check_first: bool
    ) -> bool:
        return self._settle(
            due,
            status=ReminderStatus.PENDING,
            due_at=at,
            error_code=code,
            error_detail=detail[:1000],
            check_before_send=check_first or due.reminder.check_before_send,
        )

    # ------------------------------------------------------------------ delivery reports

    def record_delivery(
        self,
        *,
        reminder_id: int | None,
        meeting: str | None,
        provider_id: str,
        provider_status: str,
        error_code: str | None,
        delivered: bool,
        failed: bool,
        at: datetime,
    ) -> StoredReminder | None:
        """A delivery report from the provider. Found by the reminder id the callback URL
        carries (it may arrive before the send's answer is stored), else by provider id.
        A late "sent" never overwrites "delivered" or a failure.

        The URL also names the meeting time the text was about (`meeting`, a
        `meeting_stamp`): a report about a text sent before the meeting moved is not
        about this reminder any more.
        """
        match = (
            REMINDERS.c.id == reminder_id
            if reminder_id is not None
            else REMINDERS.c.provider_id == provider_id
        )
        with self.db.transaction() as conn:
            row = conn.execute(select(REMINDERS).where(match)).first()
            # Without a provider id stored yet, the report raced the send's own answer, or
            # came for a send whose answer was lost (the row waits for its retry).
            ours = row is not None and (
                row.provider_id == provider_id
                or (
                    row.provider_id is None
                    and row.status in _OPEN
                    and meeting == meeting_stamp(row.meeting_start)
                )
            )
            if row is None or not ours:
                return None
            values: dict[str, Any] = {"provider_status": provider_status, "updated_at": at}
            if row.provider_id is None:
                values["provider_id"] = provider_id
            final = row.status in (ReminderStatus.DELIVERED, ReminderStatus.FAILED)
            if row.sent_at is None and (delivered or failed):
                values["sent_at"] = at  # it left us, whatever became of our answer
            if delivered and not final:
                values.update(status=ReminderStatus.DELIVERED, delivered_at=at)
            elif failed and row.status != ReminderStatus.FAILED:
                values.update(
                    status=ReminderStatus.FAILED,
                    error_code=f"delivery:{error_code or provider_status}",
                    error_detail=f"the provider reported the message {provider_status}",
                )
            elif final:
                values = {"updated_at": at}
            conn.execute(update(REMINDERS).where(REMINDERS.c.id == row.id).values(**values))
            updated = conn.execute(select(REMINDERS).where(REMINDERS.c.id == row.id)).one()
        return StoredReminder(**updated._mapping)

    # ------------------------------------------------------------------ reading

    def for_request(self, request_id: str) -> list[StoredReminder]:
        with self.db.connection() as conn:
            rows = conn.execute(
                select(REMINDERS)
                .where(REMINDERS.c.request_id == request_id)
                .order_by(REMINDERS.c.channel)
            ).all()
        return [StoredReminder(**row._mapping) for row in rows]

    def get(self, reminder_id: int) -> StoredReminder | None:
        with self.db.connection() as conn:
            row = conn.execute(select(REMINDERS).where(REMINDERS.c.id == reminder_id)).first()
        return None if row is None else StoredReminder(**row._mapping)

    def counts_by_status(self) -> dict[str, int]:
        with self.db.connection() as conn:
            rows = conn.execute(
                select(REMINDERS.c.status, func.count()).group_by(REMINDERS.c.status)
            ).all()
        return {status: int(count) for status, count in rows}
