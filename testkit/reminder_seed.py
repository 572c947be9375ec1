"""Confirmed bookings with a pending SMS reminder each, written straight into the tables for
the multi-process reminder tests and bench/reminders.py. Client `i` has the phone
`phone_of(i)`, so a fake Twilio's sends can be counted per client.

Each table gets one `INSERT … SELECT` over a recursive counter (SQLAlchemy Core, the same
statement on SQLite and PostgreSQL): the database makes the rows, so 100,000 reminders with
their requests and bookings take about a second instead of the minute that binding every
value row by row in Python takes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, String, cast, func, insert, literal, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from storage.db import Database
from storage.models import (
    Booking,
    BookingRequest,
    BookingStatus,
    Reminder,
    ReminderChannel,
    ReminderStatus,
    RequestStatus,
    UTCDateTime,
)
from storage.repositories._sql import table

REQUESTS = table(BookingRequest)
BOOKINGS = table(Booking)
REMINDERS = table(Reminder)

ZONE = "America/Phoenix"  # no DST: the rendered time is the same all year
REP = "chen@ourco.example"
PHONE_BASE = 15_550_000_000  # +1 555 0000000 + i
MEETING_MINUTES = 30
REQUEST_PREFIX = "req_seed"


def phone_of(index: int) -> str:
    """The E.164 phone of seeded client `index`."""
    return f"+{PHONE_BASE + index}"


def request_id(index: int) -> str:
    return f"{REQUEST_PREFIX}{index}"


def seed_sms_reminders(
    db: Database,
    count: int,
    *,
    due_at: datetime,
    meeting_start: datetime,
    first: int = 0,
) -> list[int]:
    """Seed clients `first` … `first + count - 1`: each a request (its own phone, SMS opt-in,
    in `ZONE`), a CONFIRMED booking at `meeting_start` and a PENDING SMS reminder due at
    `due_at`. Returns the reminder ids, in client order.

    Ids are given explicitly so the three inserts need nothing read back; PostgreSQL's
    sequences are moved past them afterwards, so the app's own inserts still work.
    """
    if count <= 0:
        return []
    booked = _instant(due_at - timedelta(days=1))
    start = _instant(meeting_start)
    end = _instant(meeting_start + timedelta(minutes=MEETING_MINUTES))
    with db.transaction() as conn:
        booking_base = _next_id(conn, BOOKINGS) - first
        reminder_base = _next_id(conn, REMINDERS) - first
        numbers = select(cast(literal(first), BigInteger).label("n")).cte("numbers", recursive=True)
        numbers = numbers.union_all(select(numbers.c.n + 1).where(numbers.c.n < first + count - 1))
        n = numbers.c.n
        rid = _text(REQUEST_PREFIX) + cast(n, String)
        _insert_select(
            conn,
            REQUESTS,
            {
                "id": rid,
                "idempotency_key": _text("seed:") + cast(n, String),
                "body_sha256": _text("0" * 64),
                "status": _text(RequestStatus.BOOKED_AUTO),
                "name": _text("Client ") + cast(n, String),
                "email": _text("client") + cast(n, String) + _text("@example.com"),
                "phone": _text("+") + cast(literal(PHONE_BASE, BigInteger) + n, String),
                "sms_opt_in": literal(True),
                "notes": _text(""),
                "timezone": _text(ZONE),
                "requested_start": start,
                "duration_minutes": literal(MEETING_MINUTES),
                "rep_email": _text(REP),
                "reasons": literal([], JSON),
                "attempts": literal(1),
                "received_at": booked,
                "finished_at": booked,
            },
            numbers,
        )
        _insert_select(
            conn,
            BOOKINGS,
            {
                "id": literal(booking_base, BigInteger) + n,
                "request_id": rid,
                "rep_email": _text(REP),
                "provider": _text("google"),
                "calendar_id": _text(REP),
                "status": _text(BookingStatus.CONFIRMED),
                "start": start,
                "end": end,
                "client_timezone": _text(ZONE),
                "event_id": _text("seed") + cast(n, String),
                "booked_by": _text("auto"),
                "created_at": booked,
                "confirmed_at": booked,
            },
            numbers,
        )
        _insert_select(
            conn,
            REMINDERS,
            {
                "id": literal(reminder_base, BigInteger) + n,
                "booking_id": literal(booking_base, BigInteger) + n,
                "request_id": rid,
                "channel": _text(ReminderChannel.SMS),
                "status": _text(ReminderStatus.PENDING),
                "due_at": _instant(due_at),
                "meeting_start": start,
                "attempts": literal(0),
                "check_before_send": literal(False),
                "created_at": booked,
                "updated_at": booked,
            },
            numbers,
        )
        if db.is_postgres:
            for name in ("booking", "reminder"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), max(id)) "
                        f"FROM {name}"
                    )
                )
    return list(range(reminder_base + first, reminder_base + first + count))


def _text(value: str) -> ColumnElement[str]:
    return literal(str(value), String)


def _instant(value: datetime) -> ColumnElement[datetime]:
    return literal(value, UTCDateTime())


def _insert_select(conn: Connection, tbl: Any, values: dict[str, Any], numbers: Any) -> None:
    columns = list(values)
    source = select(*(expr.label(name) for name, expr in values.items())).select_from(numbers)
    conn.execute(insert(tbl).from_select(columns, source))


def _next_id(conn: Connection, tbl: Any) -> int:
    return int(conn.execute(select(func.coalesce(func.max(tbl.c.id), 0))).scalar_one()) + 1
