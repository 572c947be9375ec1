"""Cancelling and moving bookings (SPEC §11), and the audit log of those changes.

A move holds its new slot in the booking's `pending_*` columns, under the same per-rep
lock and clash check as a new booking's hold (`BookingRepository.reserve`), so two moves
(or a move and a new booking) can never take one slot. The booking's time changes only
once the calendar has moved the event, in one transaction with its reminders and audit
row; a failure releases the hold and leaves the booking as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from storage.db import Database
from storage.models import (
    Booking,
    BookingChange,
    BookingStatus,
    StoredBooking,
    StoredBookingChange,
    utcnow,
)
from storage.repositories._sql import insert_ignore, table
from storage.repositories.bookings import overlapping_hold
from storage.repositories.reminders import REMINDERS, ReminderPlan, plan_in
from storage.statuses import ChangeKind, ChangeStatus, ReminderStatus

BOOKINGS = table(Booking)
CHANGES = table(BookingChange)
_HOLDING = (BookingStatus.RESERVED, BookingStatus.CONFIRMED)
_OPEN_REMINDERS = (ReminderStatus.PENDING, ReminderStatus.SENDING)
# A move's hold older than this was left by a process that died mid-move.
STALE_MOVE = timedelta(minutes=2)


@dataclass(frozen=True)
class MoveHold:
    """The outcome of holding a new slot for a move."""

    booking: StoredBooking | None  # the booking with its hold; None when refused
    refusal: str | None = None  # "taken" | "changed" | "in_progress"


def _booking(row: Any) -> StoredBooking:
    return StoredBooking(**row._mapping)


def _change(row: Any) -> StoredBookingChange:
    return StoredBookingChange(**row._mapping)


class BookingChangeRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ the audit rows

    def begin(
        self,
        booking: StoredBooking,
        *,
        kind: str,
        actor: str,
        reason: str | None = None,
        new_start: datetime | None = None,
        new_end: datetime | None = None,
    ) -> tuple[StoredBookingChange, StoredBookingChange | None]:
        """The change of this booking version, and the earlier attempt at it if any (whose
        row this request takes over, unless that one is done).
        """
        now = utcnow()
        values: dict[str, Any] = {
            "booking_id": booking.id,
            "request_id": booking.request_id,
            "from_version": booking.version,
            "kind": kind,
            "status": ChangeStatus.PENDING,
            "actor": actor,
            "reason": reason[:500] if reason else None,
            "old_start": booking.start,
            "new_start": new_start,
            "new_end": new_end,
            "created_at": now,
        }
        with self.db.transaction() as conn:
            new_id = insert_ignore(conn, BookingChange, values)
            if new_id is not None:
                return StoredBookingChange(id=new_id, **values), None
            row = conn.execute(
                select(CHANGES).where(
                    CHANGES.c.booking_id == booking.id,
                    CHANGES.c.from_version == booking.version,
                )
            ).one()
            if row.status == ChangeStatus.DONE:
                return _change(row), _change(row)
            retry = {key: values[key] for key in ("kind", "actor", "reason", "new_start")}
            retry.update(new_end=new_end, status=ChangeStatus.PENDING, error_code=None)
            conn.execute(update(CHANGES).where(CHANGES.c.id == row.id).values(**retry))
        return StoredBookingChange(**{**row._mapping, **retry}), _change(row)

    def settle(
        self,
        change_id: int,
        status: ChangeStatus,
        *,
        error_code: str | None = None,
        detail: str | None = None,
    ) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                update(CHANGES)
                .where(CHANGES.c.id == change_id, CHANGES.c.status != ChangeStatus.DONE)
                .values(
                    status=status,
                    error_code=error_code,
                    detail=detail[:2000] if detail else None,
                    finished_at=utcnow(),
                )
            )

    def for_booking(self, booking_id: int) -> list[StoredBookingChange]:
        with self.db.connection() as conn:
            rows = conn.execute(
                select(CHANGES).where(CHANGES.c.booking_id == booking_id).order_by(CHANGES.c.id)
            ).all()
        return [_change(row) for row in rows]

    # ------------------------------------------------------------------ moving

    def hold_move(
        self,
        booking_id: int,
        version: int,
        start: datetime,
        end: datetime,
        buffer: timedelta,
    ) -> MoveHold:
        """Hold [start, end) for this booking's move, or refuse: `taken` (another booking
        or move holds it), `changed` (the booking is no longer this confirmed version),
        `in_progress` (another move of it is under way).
        """
        now = utcnow()
        with self.db.transaction() as conn:
            row = conn.execute(select(BOOKINGS).where(BOOKINGS.c.id == booking_id)).first()
            if row is None:
                return MoveHold(None, "changed")
            self.db.lock(conn, f"rep:{row.rep_email}")
            row = conn.execute(select(BOOKINGS).where(BOOKINGS.c.id == booking_id)).one()
            if row.status != BookingStatus.CONFIRMED or row.version != version:
                return MoveHold(None, "changed")
            if row.pending_at is not None and now - row.pending_at < STALE_MOVE:
                if (row.pending_start, row.pending_end) != (start, end):
                    return MoveHold(None, "in_progress")
            elif _clash(conn, row.rep_email, booking_id, start - buffer, end + buffer):
                return MoveHold(None, "taken")
            values = {"pending_start": start, "pending_end": end, "pending_at": now}
            conn.execute(update(BOOKINGS).where(BOOKINGS.c.id == booking_id).values(**values))
        return MoveHold(StoredBooking(**{**row._mapping, **values}))

    def interrupted_moves(self, held_before: datetime, limit: int = 20) -> list[StoredBooking]:
        """Bookings whose move hold is older than `held_before`: the process moving them
        died (maybe after the calendar moved the event), and the move must be finished.
        """
        with self.db.connection() as conn:
            rows = conn.execute(
                select(BOOKINGS)
                .where(
                    BOOKINGS.c.pending_at.is_not(None),
                    BOOKINGS.c.pending_at < held_before,
                    BOOKINGS.c.status == BookingStatus.CONFIRMED,
                )
                .order_by(BOOKINGS.c.pending_at)
                .limit(limit)
            ).all()
        return [_booking(row) for row in rows]

    def interrupted_cancels(
        self, started_before: datetime, limit: int = 20
    ) -> list[StoredBookingChange]:
        """Cancels begun before `started_before` and never settled, of bookings still
        confirmed at that version: the process died, maybe after the calendar's delete.
        """
        with self.db.connection() as conn:
            rows = conn.execute(
                select(CHANGES)
                .join(BOOKINGS, BOOKINGS.c.id == CHANGES.c.booking_id)
                .where(
                    CHANGES.c.kind == ChangeKind.CANCEL,
                    CHANGES.c.status == ChangeStatus.PENDING,
                    CHANGES.c.created_at < started_before,
                    BOOKINGS.c.status == BookingStatus.CONFIRMED,
                    BOOKINGS.c.version == CHANGES.c.from_version,
                )
                .order_by(CHANGES.c.created_at)
                .limit(limit)
            ).all()
        return [_change(row) for row in rows]

    def release_move(self, booking_id: int, version: int) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                update(BOOKINGS)
                .where(BOOKINGS.c.id == booking_id, BOOKINGS.c.version == version)
                .values(pending_start=None, pending_end=None, pending_at=None)
            )

    def finish_move(
        self,
        booking: StoredBooking,
        change_id: int,
        start: datetime,
        end: datetime,
        reminders: Sequence[ReminderPlan],
    ) -> StoredBooking | None:
        """The calendar moved the event: the booking takes the new time and the next
        version, its reminders follow, its audit row is done — all or nothing. None when
        the booking is no longer that version (someone else finished first).
        """
        now = utcnow()
        values = {
            "start": start,
            "end": end,
            "version": booking.version + 1,
            "pending_start": None,
            "pending_end": None,
            "pending_at": None,
        }
        with self.db.transaction() as conn:
            if not _update_this_version(conn, booking, values):
                return None
            plan_in(
                conn,
                booking_id=booking.id or 0,
                request_id=booking.request_id,
                meeting_start=start,
                plan=reminders,
                now=now,
            )
            _done(conn, change_id, now)
        return booking.model_copy(update=values)

    # ------------------------------------------------------------------ cancelling

    def cancel(
        self,
        booking: StoredBooking,
        change_id: int,
        *,
        by: str,
        reason: str | None,
        at: datetime,
    ) -> StoredBooking | None:
        """The calendar cancelled the event: the booking is `cancelled` (who, when, why),
        its open reminders never go out, its audit row is done — in one transaction. None
        when it was not this confirmed version any more.
        """
        now = utcnow()
        values = {
            "status": BookingStatus.CANCELLED,
            "cancelled_at": at,
            "cancelled_by": by,
            "cancel_reason": reason[:500] if reason else None,
            "pending_start": None,
            "pending_end": None,
            "pending_at": None,
        }
        with self.db.transaction() as conn:
            if not _update_this_version(conn, booking, values):
                return None
            conn.execute(
                update(REMINDERS)
                .where(
                    REMINDERS.c.booking_id == booking.id,
                    REMINDERS.c.status.in_(_OPEN_REMINDERS),
                )
                .values(
                    status=ReminderStatus.CANCELLED, error_code="booking_cancelled", updated_at=now
                )
            )
            _done(conn, change_id, now)
        return booking.model_copy(update=values)


_OTHER_HOLD = overlapping_hold(excluding_booking=True)


def _clash(conn: Connection, rep: str, booking_id: int, start: datetime, end: datetime) -> bool:
    """Another held booking of the rep (its time, or its move's) overlaps [start, end)."""
    params = {"b_rep": rep, "b_booking": booking_id, "b_from": start, "b_until": end}
    return bool(conn.execute(_OTHER_HOLD, params).scalar_one())


def _done(conn: Connection, change_id: int, now: datetime) -> None:
    conn.execute(
        update(CHANGES)
        .where(CHANGES.c.id == change_id)
        .values(status=ChangeStatus.DONE, error_code=None, finished_at=now)
    )


def _update_this_version(conn: Connection, booking: StoredBooking, values: dict[str, Any]) -> bool:
    """Compare-and-set: change the booking only while it is still this confirmed version."""
    changed = conn.execute(
        update(BOOKINGS)
        .where(
            BOOKINGS.c.id == booking.id,
            BOOKINGS.c.version == booking.version,
            BOOKINGS.c.status == BookingStatus.CONFIRMED,
        )
        .values(**values)
    ).rowcount
    return bool(changed == 1)
