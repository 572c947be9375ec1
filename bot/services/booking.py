"""The one booking path, used by automatic booking (and by people booking from Slack):
pick a free rep, hold the slot, create the event once, confirm to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

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
from storage.db import Step, chain
from storage.models import BookingStatus, StoredBooking, StoredRequest, utcnow
from storage.repositories import BookingRepository
from storage.repositories.bookings import FirstHold, HoldOption, Slot

log = logging.getLogger("frontdesk.booking")

HELD_BY_ANOTHER_BOOKING = "is held by another booking"
_HOLDING = (BookingStatus.RESERVED, BookingStatus.CONFIRMED)


@dataclass(frozen=True)
class Booked:
    booking: StoredBooking
    email_error: IntegrationError | None = None
    # With `book(..., defer_sent=True)`: the writes recording the booking's confirmation
    # and the client's email, for the caller to run in its own closing transaction.
    pending: Step | None = None


@dataclass
class Checked:
    """The candidate reps after the checks that need no calendar."""

    reps: list[Rep] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    broken_codes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PlannedHold:
    """A new request's first hold: `write` runs in the request's own transaction."""

    checked: Checked
    write: FirstHold


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
        first_hold: PlannedHold | None = None,
    ) -> Booked | Unavailable:
        """Book the request's own time; raise IntegrationError when a calendar fails.

        `resuming=False` (a first attempt) skips looking for a booking an earlier,
        interrupted attempt left behind. `first_hold`: the hold `plan_first_hold` made in
        the new request's own transaction. `defer_sent=True` leaves recording the booking's
        confirmation and the client's email to the caller (`Booked.pending`), to commit
        with its own outcome in one transaction.
        """
        if request.requested_start is None:
            return Unavailable("no time was selected")
        booking = self.bookings.get_by_request(request.id) if resuming else None
        if first_hold is not None:
            held = self._after_first_hold(request, first_hold)
            if isinstance(held, Unavailable):
                return held
            booking = held
        elif booking is None or booking.status not in _HOLDING:
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
        if not defer_sent:
            if booking.status == BookingStatus.RESERVED:
                booking = self._create_event(request, booking)
            return Booked(booking, self._confirm_to_client(request, booking))
        return self._book_deferred(request, booking)

    def _book_deferred(self, request: StoredRequest, booking: StoredBooking) -> Booked:
        """The event and the email, with the writes recording them left to the caller's
        closing transaction (one commit instead of three)."""
        steps: list[Step] = []
        if booking.status == BookingStatus.RESERVED:
            booking, confirm = self._create_event_deferred(request, booking)
            steps.append(confirm)
        error = self._confirm_to_client(request, booking, mark=False)
        if error is None and booking.confirmation_sent_at is None:
            steps.append(self.bookings.confirmation_sent_step(booking.id or 0))
        return Booked(booking, error, chain(*steps))

    def plan_first_hold(self, request: StoredRequest) -> PlannedHold | None:
        """For a new request: a hold of its slot for the first rep that passes every check
        needing no calendar, to write in the request's own transaction (the calendars are
        asked afterwards, by `book`). None when there is no time to hold.
        """
        if request.requested_start is None:
            return None
        checked = self._checked(request)
        slot = Slot(
            request.id,
            request.requested_start,
            request.requested_start + timedelta(minutes=request.duration_minutes),
            request.timezone,
            timedelta(minutes=self.config.booking.buffer_minutes),
        )
        options = [
            HoldOption(rep.email, rep.provider, rep.booking_calendar) for rep in checked.reps
        ]
        return PlannedHold(checked, self.bookings.first_hold(slot, options))

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

    def _checked(self, request: StoredRequest) -> Checked:
        """The candidates, sorted into those who could take the meeting and why the others
        cannot, by every check that needs no calendar (a broken connection, hours, notice).
        """
        assert request.requested_start is not None
        start = request.requested_start
        end = start + timedelta(minutes=request.duration_minutes)
        now = self.clock()
        checked = Checked()
        broken = self.availability.broken_reps()
        for rep in self.candidates(request):
            if rep.email in broken:
                checked.problems.append(
                    f"{rep.email}: calendar connection broken ({broken[rep.email]})"
                )
                checked.broken_codes.append(broken_reason_code(rep))
                continue
            problem = timing_problem(rep, start, end, now=now, booking=self.config.booking)
            if problem is not None:
                checked.problems.append(f"{rep.email}: {problem}")
                continue
            checked.reps.append(rep)
        return checked

    def _hold_slot(
        self, request: StoredRequest, booked_by: str, *, check_calendars: bool = True
    ) -> StoredBooking | Unavailable:
        checked = self._checked(request)
        return self._hold_checked(request, checked, checked.reps, booked_by, check_calendars)

    def _after_first_hold(
        self, request: StoredRequest, planned: PlannedHold
    ) -> StoredBooking | Unavailable:
        """Ask the held rep's calendars; if they are not free, let go and try the reps the
        database did not rule out, calendars first, as `_hold_slot` does."""
        checked, hold = planned.checked, planned.write
        checked.problems.extend(f"{rep}: {HELD_BY_ANOTHER_BOOKING}" for rep in hold.clashed)
        held = hold.booking
        if held is None:
            return self._unavailable(checked, None)
        failure: IntegrationError | None = None
        rep = self.config.rep(held.rep_email)
        assert rep is not None  # chosen from the configured reps a moment ago
        try:
            problem = self._calendar_problem(rep, held.start, held.end)
        except IntegrationError as exc:
            problem, failure = None, exc
        if problem is None and failure is None:
            return held
        self.bookings.release(held.id or 0)
        if problem is not None:
            checked.problems.append(f"{rep.email}: {problem}")
        tried = {rep.email, *hold.clashed}
        rest = [other for other in checked.reps if other.email not in tried]
        return self._hold_checked(request, checked, rest, held.booked_by, True, failure)

    def _calendar_problem(self, rep: Rep, start: datetime, end: datetime) -> str | None:
        """Why the rep's calendars do not have [start, end) free, buffer included; None
        when they do. Raises IntegrationError like `AvailabilityService.busy`."""
        buffer_minutes = self.config.booking.buffer_minutes
        buffer = timedelta(minutes=buffer_minutes)
        busy = self.availability.busy(rep, start - buffer, end + buffer)
        return busy_problem(rep, start, end, busy, buffer_minutes)

    def _hold_checked(
        self,
        request: StoredRequest,
        checked: Checked,
        reps: list[Rep],
        booked_by: str,
        check_calendars: bool,
        failure: IntegrationError | None = None,
    ) -> StoredBooking | Unavailable:
        """Calendars first, then the hold in the database, for each rep in turn."""
        assert request.requested_start is not None
        start = request.requested_start
        end = start + timedelta(minutes=request.duration_minutes)
        buffer = timedelta(minutes=self.config.booking.buffer_minutes)
        for rep in reps:
            try:
                problem = self._calendar_problem(rep, start, end) if check_calendars else None
            except IntegrationError as exc:
                failure = failure or exc
                continue
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
            checked.problems.append(f"{rep.email}: {problem}")
        return self._unavailable(checked, failure)

    @staticmethod
    def _unavailable(checked: Checked, failure: IntegrationError | None) -> Unavailable:
        """Nobody could take it: a calendar's failure is raised (an error, not a "no")."""
        if failure is not None:
            raise failure
        detail = "; ".join(checked.problems) or "no rep is configured"
        codes = checked.broken_codes
        if codes and len(codes) == len(checked.problems):
            return Unavailable(detail, tuple(codes))
        return Unavailable(detail)

    def _note_broken(self, rep: Rep, error: IntegrationError) -> None:
        if self.health is not None and isinstance(error, ConnectionBrokenError):
            self.health.record_broken(rep, error)

    def _create_event(self, request: StoredRequest, booking: StoredBooking) -> StoredBooking:
        confirmed, step = self._create_event_deferred(request, booking)
        self.bookings.commit(step)
        return confirmed

    def _create_event_deferred(
        self, request: StoredRequest, booking: StoredBooking
    ) -> tuple[StoredBooking, Step]:
        """The calendar event (released hold on failure); the booking as confirmed, and the
        write that confirms it with its reminders, for the caller to commit."""
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
        return self.bookings.confirm_step(
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
