"""The one booking path, used by automatic booking (and by people booking from Slack):
pick a free rep, hold the slot, create the event once, confirm to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.domain.config import Config, Rep
from bot.domain.manage_links import ManageLinks
from bot.domain.reminders import plan_reminders
from bot.domain.slots import busy_problem, timing_problem
from bot.messages.confirmation import render_confirmation
from bot.services.availability import AvailabilityService
from bot.services.connection_health import ConnectionHealth, broken_reason_code
from bot.services.telemetry import count_integration_error
from integrations.base import ConnectionBrokenError, EventDraft, IntegrationError
from integrations.bundle import Integrations
from storage.models import BookingStatus, StoredBooking, StoredRequest, utcnow
from storage.repositories import BookingRepository

log = logging.getLogger("frontdesk.booking")

HELD_BY_ANOTHER_BOOKING = "is held by another booking"
_HOLDING = (BookingStatus.RESERVED, BookingStatus.CONFIRMED)


@dataclass(frozen=True)
class Booked:
    booking: StoredBooking
    email_error: IntegrationError | None = None
    # With `book(..., defer_sent=True)`: the write recording the client's confirmation,
    # for the caller to run in its own closing transaction.
    pending: Callable[[Any], None] | None = None


@dataclass(frozen=True)
class Unavailable:
    detail: str
    reasons: tuple[str, ...] = ("slot_unavailable",)


STALE_HOLD = timedelta(minutes=2)  # a hold older than this was left by a crash


class Booker:
    def __init__(
        self,
        config: Config,
        integrations: Integrations,
        bookings: BookingRepository,
        clock: Callable[[], datetime] = utcnow,
        health: ConnectionHealth | None = None,
        availability: AvailabilityService | None = None,
        links: ManageLinks | None = None,
    ) -> None:
        self.config = config
        self.integrations = integrations
        self.bookings = bookings
        self.clock = clock
        self.health = health
        self.links = links  # the client's manage link in the confirmation (SPEC §11)
        self.availability = availability or AvailabilityService(
            config, integrations, health=health, clock=clock, bookings=bookings
        )

    def book(
        self,
        request: StoredRequest,
        *,
        booked_by: str = "auto",
        resuming: bool = True,
        defer_sent: bool = False,
    ) -> Booked | Unavailable:
        """Book the request's own time; raise IntegrationError when a calendar fails.

        `resuming=False` (a first attempt) skips looking for a booking an earlier,
        interrupted attempt left behind. `defer_sent=True` leaves recording the sent
        confirmation to the caller (`Booked.pending`), to commit with its own outcome.
        """
        if request.requested_start is None:
            return Unavailable("no time was selected")
        booking = self.bookings.get_by_request(request.id) if resuming else None
        if booking is None or booking.status not in _HOLDING:
            held = self._hold_slot(request, booked_by)
            if isinstance(held, Unavailable):
                return held
            booking = held
        elif booking.status == BookingStatus.RESERVED:
            # A crash interrupted this booking; its time may have passed meanwhile.
            late = self._still_bookable(booking)
            if late is not None:
                self.bookings.release(booking.id or 0)
                return Unavailable(f"{booking.rep_email}: {late}")
        if booking.status == BookingStatus.RESERVED:
            booking = self._create_event(request, booking)
        if not defer_sent:
            return Booked(booking, self._confirm_to_client(request, booking))
        error = self._confirm_to_client(request, booking, mark=False)
        sent = error is None and booking.confirmation_sent_at is None
        pending = self.bookings.confirmation_sent_step(booking.id or 0) if sent else None
        return Booked(booking, error, pending)

    def hold(self, request: StoredRequest, *, booked_by: str) -> StoredBooking | Unavailable:
        """A person's booking, first half: hours, notice and a hold in the database, with
        no calendar call, so a Slack modal can answer "taken" well inside its 3 s.
        `complete` then checks the calendars and creates the event.
        """
        if request.requested_start is None:
            return Unavailable("no time was selected")
        existing = self.bookings.get_by_request(request.id)
        if existing is not None and existing.status == BookingStatus.CONFIRMED:
            return Unavailable(
                f"this request is already booked with {existing.rep_email}", ("already_booked",)
            )
        if existing is not None and existing.status == BookingStatus.RESERVED:
            # Real time, not the business clock: this asks whether a process is still at it.
            if utcnow() - existing.created_at < STALE_HOLD:
                return Unavailable("a booking for this request is in progress", ("in_progress",))
            self.bookings.release(existing.id or 0)
        return self._hold_slot(request, booked_by, check_calendars=False)

    def complete(self, request: StoredRequest, booking: StoredBooking) -> Booked | Unavailable:
        """A person's booking, second half: every calendar of the rep must still be free;
        then the event and the client's confirmation. The hold is released if not booked.
        """
        rep = self.config.rep(booking.rep_email)
        buffer = timedelta(minutes=self.config.booking.buffer_minutes)
        try:
            if rep is None:
                raise LookupError(f"rep {booking.rep_email} is no longer configured")
            busy = self.availability.busy(rep, booking.start - buffer, booking.end + buffer)
        except Exception:
            self.bookings.release(booking.id or 0)
            raise
        problem = busy_problem(
            rep, booking.start, booking.end, busy, self.config.booking.buffer_minutes
        )
        if problem is not None:
            self.bookings.release(booking.id or 0)
            return Unavailable(f"{rep.email}: {problem}")
        booking = self._create_event(request, booking)
        return Booked(booking, self._confirm_to_client(request, booking))

    def candidates(self, request: StoredRequest) -> list[Rep]:
        """The named rep, or every rep with the least recently booked first (round-robin)."""
        if request.rep_email:
            rep = self.config.rep(request.rep_email)
            return [rep] if rep else []
        return self.availability.reps_in_turn()

    def _still_bookable(self, booking: StoredBooking) -> str | None:
        rep = self.config.rep(booking.rep_email)
        if rep is None:
            return "is no longer a configured rep"
        return timing_problem(
            rep, booking.start, booking.end, now=self.clock(), booking=self.config.booking
        )

    def _hold_slot(
        self, request: StoredRequest, booked_by: str, *, check_calendars: bool = True
    ) -> StoredBooking | Unavailable:
        assert request.requested_start is not None
        start = request.requested_start
        end = start + timedelta(minutes=request.duration_minutes)
        buffer = timedelta(minutes=self.config.booking.buffer_minutes)
        now = self.clock()
        problems: list[str] = []
        failure: IntegrationError | None = None
        broken = self.availability.broken_reps()
        broken_codes: list[str] = []
        for rep in self.candidates(request):
            if rep.email in broken:
                problems.append(f"{rep.email}: calendar connection broken ({broken[rep.email]})")
                broken_codes.append(broken_reason_code(rep))
                continue
            # Checks that need no calendar first: a broken calendar only matters for a rep
            # who could otherwise take the meeting.
            problem = timing_problem(rep, start, end, now=now, booking=self.config.booking)
            if problem is not None:
                problems.append(f"{rep.email}: {problem}")
                continue
            try:
                busy = (
                    self.availability.busy(rep, start - buffer, end + buffer)
                    if check_calendars
                    else []
                )
            except IntegrationError as exc:
                failure = failure or exc
                continue
            problem = busy_problem(rep, start, end, busy, self.config.booking.buffer_minutes)
            if problem is None:
                held = self.bookings.reserve(
                    request_id=request.id,
                    rep_email=rep.email,
                    provider=rep.provider,
                    calendar_id=rep.booking_calendar,
                    start=start,
                    end=end,
                    client_timezone=request.timezone,
                    buffer=buffer,
                    booked_by=booked_by,
                )
                if held is not None:
                    return held
                problem = HELD_BY_ANOTHER_BOOKING
            problems.append(f"{rep.email}: {problem}")
        if failure is not None:
            raise failure
        detail = "; ".join(problems) or "no rep is configured"
        if broken_codes and len(broken_codes) == len(problems):
            return Unavailable(detail, tuple(broken_codes))
        return Unavailable(detail)

    def _note_broken(self, rep: Rep, error: IntegrationError) -> None:
        if self.health is not None and isinstance(error, ConnectionBrokenError):
            self.health.record_broken(rep, error)

    def _create_event(self, request: StoredRequest, booking: StoredBooking) -> StoredBooking:
        rep = self.config.rep(booking.rep_email)
        if rep is None:
            raise LookupError(f"rep {booking.rep_email} is no longer configured")
        draft = EventDraft(
            request_id=request.id,
            calendar_id=booking.calendar_id,
            start=booking.start,
            end=booking.end,
            summary=f"{request.name}" + (f" ({request.company})" if request.company else ""),
            description=request.notes,
            attendees=(request.email, rep.email),
            client_timezone=request.timezone,
            rep_timezone=rep.timezone,
            video=self.config.booking.video != "none",
        )
        try:
            event = self.integrations.calendar_for(rep).create_event(rep, draft)
        except Exception as exc:
            self.bookings.release(booking.id or 0)
            if isinstance(exc, IntegrationError):
                count_integration_error(exc)
                self._note_broken(rep, exc)
            raise
        reminders = plan_reminders(
            self.config.reminders,
            start=booking.start,
            client_timezone=request.timezone,
            phone=request.phone,
            sms_opt_in=request.sms_opt_in,
            now=self.clock(),
        )
        return self.bookings.confirm(
            booking,
            event_id=event.event_id,
            ical_uid=event.ical_uid,
            video_url=event.video_url,
            reminders=reminders,
        )

    def _confirm_to_client(
        self, request: StoredRequest, booking: StoredBooking, *, mark: bool = True
    ) -> IntegrationError | None:
        if booking.confirmation_sent_at is not None:
            return None
        message = render_confirmation(
            request,
            booking,
            # Microsoft sends its own invitation; an .ics as well would make two (SPEC §5).
            attach_ics=booking.provider != "microsoft",
            manage_url=(
                self.links.url(booking.id or 0, booking.version, booking.end)
                if self.links is not None
                else None
            ),
        )
        try:
            self.integrations.email.send(message)
        except IntegrationError as exc:
            count_integration_error(exc)
            return exc
        except Exception as exc:  # the event exists: any failure here must say so, not crash
            log.exception("confirmation email crashed", extra={"request_id": request.id})
            name = self.integrations.email.name
            error = IntegrationError(name, "exception", type(exc).__name__, repr(exc))
            count_integration_error(error)
            return error
        if mark:
            self.bookings.mark_confirmation_sent(booking.id or 0)
        return None
