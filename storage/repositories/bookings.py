"""Bookings: a slot is reserved in the database before the calendar insert runs, so two
requests (or two replicas) can never book one rep into overlapping meetings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, exists, insert, or_, select, update
from sqlalchemy.engine import Connection

from storage.db import Database, Step
from storage.models import Booking, BookingStatus, StoredBooking, utcnow
from storage.repositories._sql import table
from storage.repositories.reminders import ReminderPlan, plan_in

BOOKINGS = table(Booking)
_HOLDING = (BookingStatus.RESERVED, BookingStatus.CONFIRMED)
_WHEN = BOOKINGS.c.start.type

# `outcome_prompt_channel` of a "Did it happen?" prompt nobody will be sent: no host in
# Slack, or Slack kept refusing. NULL there means "not recorded yet", so a claim whose
# process died (NULL, and stale) is told apart from one given up for good.
NOT_ASKED = "-"

# Built once: constructing a statement costs more than running it on SQLite.
_BY_REQUEST = select(BOOKINGS).where(BOOKINGS.c.request_id == bindparam("b_request"))


def overlapping_hold(*, excluding_booking: bool = False) -> Any:
    """Whether a held booking of the rep (`b_rep`) overlaps [`b_from`, `b_until`): its own
    time, or the new time a move of it holds. Two EXISTS, each a range on its own
    (rep, end) index, so only the rep's bookings ending after `b_from` are read, not the
    rep's history (an OR of the two would read every booking the rep ever had).
    `excluding_booking`: not the booking `b_booking` itself (a move of it).
    """
    until, since = bindparam("b_until", type_=_WHEN), bindparam("b_from", type_=_WHEN)
    mine = [BOOKINGS.c.rep_email == bindparam("b_rep"), BOOKINGS.c.status.in_(_HOLDING)]
    if excluding_booking:
        mine.append(BOOKINGS.c.id != bindparam("b_booking"))
    own_time = select(BOOKINGS.c.id).where(*mine, BOOKINGS.c.end > since, BOOKINGS.c.start < until)
    moving_to = select(BOOKINGS.c.id).where(
        *mine, BOOKINGS.c.pending_end > since, BOOKINGS.c.pending_start < until
    )
    return select(or_(exists(own_time), exists(moving_to)))


_CLASH = overlapping_hold()
_INSERT = insert(BOOKINGS).returning(BOOKINGS.c.id)
_ON_CALENDARS = select(BOOKINGS.c.start, BOOKINGS.c.end).where(
    BOOKINGS.c.calendar_id.in_(bindparam("b_calendars", expanding=True)),
    BOOKINGS.c.status == BookingStatus.CONFIRMED,
    BOOKINGS.c.start < bindparam("b_until", type_=_WHEN),
    BOOKINGS.c.end > bindparam("b_from", type_=_WHEN),
)
_HELD_BY_REPS = select(BOOKINGS.c.rep_email, BOOKINGS.c.start, BOOKINGS.c.end).where(
    BOOKINGS.c.rep_email.in_(bindparam("b_reps", expanding=True)),
    BOOKINGS.c.status.in_(_HOLDING),
    BOOKINGS.c.start < bindparam("b_until", type_=_WHEN),
    BOOKINGS.c.end > bindparam("b_from", type_=_WHEN),
)
_CONFIRM = (
    update(BOOKINGS)
    .where(BOOKINGS.c.id == bindparam("b_id"))
    .values(
        status=BookingStatus.CONFIRMED,
        event_id=bindparam("b_event"),
        ical_uid=bindparam("b_uid"),
        video_url=bindparam("b_video"),
        confirmed_at=bindparam("b_at", type_=_WHEN),
    )
)
_CONFIRMATION_SENT = (
    update(BOOKINGS)
    .where(BOOKINGS.c.id == bindparam("b_id"))
    .values(confirmation_sent_at=bindparam("b_at", type_=_WHEN))
)
_RELEASE = (
    update(BOOKINGS)
    .where(BOOKINGS.c.id == bindparam("b_id"), BOOKINGS.c.status == BookingStatus.RESERVED)
    .values(status=BookingStatus.RELEASED)
)


@cache
def _last_booked_statement(reps: tuple[str, ...]) -> Any:
    # Built once per set of reps (the config's): its compiled form is then reused.
    def newest(rep: str) -> Any:
        return (
            select(BOOKINGS.c.created_at)
            .where(BOOKINGS.c.rep_email == rep, BOOKINGS.c.status.in_(_HOLDING))
            .order_by(BOOKINGS.c.created_at.desc())
            .limit(1)
            .scalar_subquery()
        )

    return select(*(newest(rep) for rep in reps))


def _booking(row: Any) -> StoredBooking:
    return StoredBooking(**row._mapping)


@dataclass(frozen=True)
class HoldOption:
    """A rep who could take the meeting, and the calendar it would go in."""

    rep_email: str
    provider: str
    calendar_id: str


@dataclass(frozen=True)
class Slot:
    """The time a request wants held, with the buffer kept free around it."""

    request_id: str
    start: datetime
    end: datetime
    client_timezone: str
    buffer: timedelta
    booked_by: str = "auto"

    def values(self, option: HoldOption) -> dict[str, Any]:
        return {
            "rep_email": option.rep_email,
            "provider": option.provider,
            "calendar_id": option.calendar_id,
            "start": self.start,
            "end": self.end,
            "client_timezone": self.client_timezone,
            "booked_by": self.booked_by,
            "status": BookingStatus.RESERVED,
        }


def _clashes(conn: Connection, slot: Slot, rep_email: str) -> bool:
    window = {"b_until": slot.end + slot.buffer, "b_from": slot.start - slot.buffer}
    return bool(conn.execute(_CLASH, {"b_rep": rep_email, **window}).scalar_one())


class FirstHold:
    """Holds a new request's slot inside the request's own transaction: the first option
    without a clash in the database gets it (`booking`); `clashed` are the reps passed
    over. There is no earlier hold of the request's own to look for: it is new.
    """

    def __init__(self, db: Database, slot: Slot, options: Sequence[HoldOption]) -> None:
        self.db = db
        self.slot = slot
        self.options = list(options)
        self.booking: StoredBooking | None = None
        self.clashed: list[str] = []

    def __call__(self, conn: Connection) -> None:
        created_at = utcnow()
        # Every rep's lock up front and in one order: requests that see the reps in
        # different turns (round-robin) would otherwise deadlock on PostgreSQL.
        for rep_email in sorted({option.rep_email for option in self.options}):
            self.db.lock(conn, f"rep:{rep_email}")
        for option in self.options:
            if _clashes(conn, self.slot, option.rep_email):
                self.clashed.append(option.rep_email)
                continue
            values = {
                **self.slot.values(option),
                "request_id": self.slot.request_id,
                "created_at": created_at,
            }
            booking_id = conn.execute(_INSERT, values).scalar_one()
            self.booking = StoredBooking(id=booking_id, **values)
            return


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
    ) -> StoredBooking | None:
        """Hold [start, end) for the rep, or return None when it clashes with a held slot.

        A request that already holds a slot (a retry after a crash) gets that booking back.
        """
        slot = Slot(request_id, start, end, client_timezone, buffer, booked_by)
        values = slot.values(HoldOption(rep_email, provider, calendar_id))
        with self.db.transaction() as conn:
            self.db.lock(conn, f"rep:{rep_email}")
            mine = conn.execute(_BY_REQUEST, {"b_request": request_id}).first()
            if mine is not None and mine.status in _HOLDING:
                return _booking(mine)
            if _clashes(conn, slot, rep_email):
                return None
            values["created_at"] = utcnow()  # the hold's age is how staleness is judged
            if mine is not None:  # released after a failed insert: take it again
                conn.execute(update(BOOKINGS).where(BOOKINGS.c.id == mine.id).values(**values))
                return StoredBooking(**{**mine._mapping, **values})
            values["request_id"] = request_id
            booking_id = conn.execute(_INSERT, values).scalar_one()
        return StoredBooking(id=booking_id, **values)

    def first_hold(self, slot: Slot, options: Sequence[HoldOption]) -> FirstHold:
        """`reserve` for a new request, as a step of the request's own transaction: the
        first of `options` the database's holds leave free gets the slot."""
        return FirstHold(self.db, slot, options)

    def confirm(
        self,
        booking: StoredBooking,
        *,
        event_id: str,
        ical_uid: str | None,
        video_url: str | None,
        reminders: Sequence[ReminderPlan] = (),
    ) -> StoredBooking:
        """The event exists: the booking is confirmed and its reminders are stored in the
        same transaction, so no crash can leave a confirmed booking without them.
        """
        confirmed, step = self.confirm_step(
            booking, event_id=event_id, ical_uid=ical_uid, video_url=video_url, reminders=reminders
        )
        self.commit(step)
        return confirmed

    @staticmethod
    def confirm_step(
        booking: StoredBooking,
        *,
        event_id: str,
        ical_uid: str | None,
        video_url: str | None,
        reminders: Sequence[ReminderPlan] = (),
    ) -> tuple[StoredBooking, Step]:
        """`confirm` as a step of someone else's transaction (the request's outcome): the
        booking as it will be, and the write, its parameters fixed now.
        """
        confirmed_at = booking.confirmed_at or utcnow()
        params = {
            "b_event": event_id,
            "b_uid": ical_uid,
            "b_video": video_url,
            "b_id": booking.id,
            "b_at": confirmed_at,
        }
        now = utcnow()
        # Reminders are planned only here: a booking never confirmed has none to look up.
        first = booking.confirmed_at is None

        def step(conn: Connection) -> None:
            conn.execute(_CONFIRM, params)
            if reminders:
                plan_in(
                    conn,
                    booking_id=booking.id or 0,
                    request_id=booking.request_id,
                    meeting_start=booking.start,
                    plan=reminders,
                    now=now,
                    first=first,
                )

        confirmed = booking.model_copy(
            update={
                "status": BookingStatus.CONFIRMED,
                "event_id": event_id,
                "ical_uid": ical_uid,
                "video_url": video_url,
                "confirmed_at": confirmed_at,
            }
        )
        return confirmed, step

    def commit(self, step: Step) -> None:
        """Run a step (`confirm_step`'s, say) in a write transaction of its own."""
        with self.db.transaction() as conn:
            step(conn)

    def release(self, booking_id: int) -> None:
        with self.db.transaction() as conn:
            conn.execute(_RELEASE, {"b_id": booking_id})

    def release_abandoned(self, held_before: datetime) -> int:
        """Release people's holds older than `held_before`: their completion died with its
        process (a restart drops work queued after a Slack ack). Automatic bookings are
        finished by request recovery instead.
        """
        with self.db.transaction() as conn:
            return conn.execute(
                update(BOOKINGS)
                .where(
                    BOOKINGS.c.status == BookingStatus.RESERVED,
                    BOOKINGS.c.booked_by != "auto",
                    BOOKINGS.c.created_at < held_before,
                )
                .values(status=BookingStatus.RELEASED)
            ).rowcount

    def mark_confirmation_sent(self, booking_id: int) -> None:
        with self.db.transaction() as conn:
            conn.execute(_CONFIRMATION_SENT, {"b_id": booking_id, "b_at": utcnow()})

    @staticmethod
    def confirmation_sent_step(booking_id: int) -> Step:
        """`mark_confirmation_sent` as a step of someone else's transaction (the request's
        outcome), with its parameters fixed now, outside the write lock.
        """
        params = {"b_id": booking_id, "b_at": utcnow()}

        def step(conn: Connection) -> None:
            conn.execute(_CONFIRMATION_SENT, params)

        return step

    def get_by_request(self, request_id: str) -> StoredBooking | None:
        with self.db.connection() as conn:
            row = conn.execute(_BY_REQUEST, {"b_request": request_id}).first()
        return None if row is None else _booking(row)

    def confirmed_on_calendars(
        self, calendar_ids: Iterable[str], start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        with self.db.connection() as conn:
            rows = conn.execute(
                _ON_CALENDARS,
                {"b_calendars": list(calendar_ids), "b_until": end, "b_from": start},
            ).all()
        return [(row[0], row[1]) for row in rows]

    def held_by_reps(
        self, rep_emails: Iterable[str], start: datetime, end: datetime
    ) -> dict[str, list[tuple[datetime, datetime]]]:
        """Every slot held (reserved or confirmed) by each rep overlapping [start, end), in
        one query: the booking page reads it on every view, as the truth a cache cannot be.
        """
        held: dict[str, list[tuple[datetime, datetime]]] = {}
        with self.db.connection() as conn:
            rows = conn.execute(
                _HELD_BY_REPS, {"b_reps": list(rep_emails), "b_until": end, "b_from": start}
            ).all()
        for rep, held_start, held_end in rows:
            held.setdefault(rep, []).append((held_start, held_end))
        return held

    def last_booked_at(self, rep_emails: Sequence[str]) -> dict[str, datetime]:
        """When each rep was last given a booking: the round-robin's memory, read on every
        request that names no rep. One statement; per rep it reads the newest rows of the
        (rep, created_at) index until one holds a slot, not the whole history.
        """
        reps = tuple(rep_emails)
        if not reps:
            return {}
        with self.db.connection() as conn:
            row = conn.execute(_last_booked_statement(reps)).one()
        return {rep: last for rep, last in zip(reps, row, strict=True) if last is not None}

    # ------------------------------------------------------------------ "Did it happen?"

    def get(self, booking_id: int) -> StoredBooking | None:
        with self.db.connection() as conn:
            row = conn.execute(select(BOOKINGS).where(BOOKINGS.c.id == booking_id)).first()
        return None if row is None else _booking(row)

    def prompts_due(
        self,
        ended_before: datetime,
        ended_after: datetime,
        *,
        stale_before: datetime,
        limit: int = 50,
    ) -> list[StoredBooking]:
        """Confirmed meetings that ended in (ended_after, ended_before] whose prompt is
        neither recorded nor given up: never claimed, or claimed by `stale_before` (the
        claimer died). A range on the status-and-end index; what is done is filtered here.
        """
        with self.db.connection() as conn:
            rows = conn.execute(
                select(BOOKINGS)
                .where(
                    BOOKINGS.c.status == BookingStatus.CONFIRMED,
                    BOOKINGS.c.end <= ended_before,
                    BOOKINGS.c.end > ended_after,
                    BOOKINGS.c.outcome_prompt_channel.is_(None),
                    or_(
                        BOOKINGS.c.outcome_prompted_at.is_(None),
                        BOOKINGS.c.outcome_prompted_at <= stale_before,
                    ),
                )
                .order_by(BOOKINGS.c.end, BOOKINGS.c.id)
                .limit(limit)
            ).all()
        return [_booking(row) for row in rows]

    def claim_prompt(self, booking_id: int, at: datetime, seen: datetime | None = None) -> bool:
        """Take the prompt for this meeting if its claim is still the one `prompts_due` saw
        (None: never claimed; else the stale claim): of several replicas, one wins.
        """
        claim = (
            BOOKINGS.c.outcome_prompted_at.is_(None)
            if seen is None
            else BOOKINGS.c.outcome_prompted_at == seen
        )
        return self._set_if(
            booking_id,
            (
                claim,
                BOOKINGS.c.outcome_prompt_channel.is_(None),
                BOOKINGS.c.status == BookingStatus.CONFIRMED,
            ),
            {"outcome_prompted_at": at},
        )

    def release_prompt(self, booking_id: int, claimed_at: datetime) -> bool:
        """Give back a prompt claimed at `claimed_at` that could not be posted, so a later
        tick tries again.
        """
        return self._set_if(
            booking_id,
            (
                BOOKINGS.c.outcome_prompted_at == claimed_at,
                BOOKINGS.c.outcome_prompt_channel.is_(None),
            ),
            {"outcome_prompted_at": None},
        )

    def mark_prompted(self, booking_id: int, host: str, channel: str, ts: str) -> None:
        """Where the prompt went (the thread its nudge replies in) and who was asked."""
        self._set_if(
            booking_id,
            (),
            {"outcome_host": host, "outcome_prompt_channel": channel, "outcome_prompt_ts": ts},
        )

    def give_up_prompt(self, booking_id: int, host: str | None) -> None:
        """Nobody will be asked (nobody to ask, or Slack kept refusing): marked with
        NOT_ASKED, so the claim is not mistaken for one a dead process left.
        """
        self._set_if(
            booking_id,
            (BOOKINGS.c.outcome_prompt_ts.is_(None),),
            {"outcome_host": host, "outcome_prompt_channel": NOT_ASKED},
        )

    def nudges_due(
        self, prompted_before: datetime, ended_after: datetime, limit: int = 50
    ) -> list[StoredBooking]:
        """Prompts posted by `prompted_before`, still unanswered and not nudged, of
        meetings that ended in (ended_after, prompted_before] (a meeting ends before its
        prompt, so this is a range on the status-and-end index).
        """
        with self.db.connection() as conn:
            rows = conn.execute(
                select(BOOKINGS)
                .where(
                    BOOKINGS.c.status == BookingStatus.CONFIRMED,
                    BOOKINGS.c.end <= prompted_before,
                    BOOKINGS.c.end > ended_after,
                    BOOKINGS.c.outcome_prompt_ts.is_not(None),
                    BOOKINGS.c.outcome_prompted_at <= prompted_before,
                    BOOKINGS.c.outcome_nudged_at.is_(None),
                    BOOKINGS.c.outcome.is_(None),
                )
                .order_by(BOOKINGS.c.end, BOOKINGS.c.id)
                .limit(limit)
            ).all()
        return [_booking(row) for row in rows]

    def mark_nudged(self, booking_id: int, at: datetime) -> bool:
        """Record the one nudge, posted (or given up); of several replicas, one records it."""
        return self._set_if(
            booking_id,
            (BOOKINGS.c.outcome_nudged_at.is_(None), BOOKINGS.c.outcome.is_(None)),
            {"outcome_nudged_at": at},
        )

    def record_outcome(
        self, booking_id: int, outcome: str, by: str, at: datetime
    ) -> StoredBooking | None:
        """Store the host's answer (a later answer replaces it); the booking as it now is,
        or None when there is no such booking.
        """
        with self.db.transaction() as conn:
            conn.execute(
                update(BOOKINGS)
                .where(BOOKINGS.c.id == booking_id)
                .values(outcome=outcome, outcome_by=by, outcome_at=at)
            )
            row = conn.execute(select(BOOKINGS).where(BOOKINGS.c.id == booking_id)).first()
        return None if row is None else _booking(row)

    def _set_if(self, booking_id: int, guards: tuple[Any, ...], values: dict[str, Any]) -> bool:
        with self.db.transaction() as conn:
            changed = conn.execute(
                update(BOOKINGS).where(BOOKINGS.c.id == booking_id, *guards).values(values)
            ).rowcount
        return bool(changed == 1)
