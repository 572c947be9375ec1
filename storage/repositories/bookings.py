"""Bookings: a slot is reserved in the database before the calendar insert runs, so two
requests (or two replicas) can never book one rep into overlapping meetings.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlmodel import col, select

from storage.db import Database
from storage.models import Booking, BookingStatus, utcnow

_HOLDING = (BookingStatus.RESERVED, BookingStatus.CONFIRMED)


class BookingRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def reserve(
        self,
        *,
        request_id: str,
        rep_email: str,
        provider: str,
        calendar_id: str,
        start: datetime,
        end: datetime,
        client_timezone: str,
        buffer: timedelta,
        booked_by: str = "auto",
    ) -> Booking | None:
        """Hold [start, end) for the rep, or return None when it clashes with a held slot.

        A request that already holds a slot (a retry after a crash) gets that booking back.
        """
        with self.db.write() as session:
            self.db.lock(session, f"rep:{rep_email}")
            mine = session.exec(select(Booking).where(Booking.request_id == request_id)).first()
            if mine is not None and mine.status in _HOLDING:
                return mine
            clash = session.exec(
                select(Booking.id).where(
                    Booking.rep_email == rep_email,
                    col(Booking.status).in_(_HOLDING),
                    col(Booking.start) < end + buffer,
                    col(Booking.end) > start - buffer,
                )
            ).first()
            if clash is not None:
                return None
            values: dict[str, Any] = {
                "rep_email": rep_email,
                "provider": provider,
                "calendar_id": calendar_id,
                "start": start,
                "end": end,
                "client_timezone": client_timezone,
                "booked_by": booked_by,
                "status": BookingStatus.RESERVED,
            }
            # A slot released after a failed insert is taken again by the same row.
            booking = mine or Booking(request_id=request_id, **values)
            booking.sqlmodel_update(values)
            session.add(booking)
            session.flush()
            return booking

    def confirm(
        self, booking_id: int, *, event_id: str, ical_uid: str | None, video_url: str | None
    ) -> Booking:
        with self.db.write() as session:
            booking = session.get(Booking, booking_id)
            if booking is None:
                raise LookupError(f"booking {booking_id} vanished")
            booking.status = BookingStatus.CONFIRMED
            booking.event_id, booking.ical_uid, booking.video_url = event_id, ical_uid, video_url
            booking.confirmed_at = booking.confirmed_at or utcnow()
            session.add(booking)
            return booking

    def release(self, booking_id: int) -> None:
        with self.db.write() as session:
            session.execute(
                update(Booking)
                .where(col(Booking.id) == booking_id, col(Booking.status) == BookingStatus.RESERVED)
                .values(status=BookingStatus.RELEASED)
            )

    def mark_confirmation_sent(self, booking_id: int) -> None:
        with self.db.write() as session:
            session.execute(
                update(Booking)
                .where(col(Booking.id) == booking_id)
                .values(confirmation_sent_at=utcnow())
            )

    def get_by_request(self, request_id: str) -> Booking | None:
        with self.db.read() as session:
            return session.exec(select(Booking).where(Booking.request_id == request_id)).first()

    def confirmed_on_calendar(
        self, calendar_id: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        with self.db.read() as session:
            rows = session.exec(
                select(Booking.start, Booking.end).where(
                    Booking.calendar_id == calendar_id,
                    Booking.status == BookingStatus.CONFIRMED,
                    col(Booking.start) < end,
                    col(Booking.end) > start,
                )
            ).all()
            return [(row[0], row[1]) for row in rows]

    def last_booked_at(self) -> dict[str, datetime]:
        """When each rep was last given a booking: the round-robin's memory."""
        with self.db.read() as session:
            rows = session.exec(
                select(Booking.rep_email, func.max(Booking.created_at))
                .where(col(Booking.status).in_(_HOLDING))
                .group_by(col(Booking.rep_email))
            ).all()
            return {rep: last for rep, last in rows if last is not None}
