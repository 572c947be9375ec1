"""Cancel and reschedule through the client's manage link (SPEC §11).

Every change goes calendar first, database second: the booking keeps its state until the
provider has done its part, and then takes the new one in a single transaction with its
reminders and audit row. A provider failure leaves the booking as it was and becomes an
escalation with the reason; retrying is safe, because deleting a deleted event and moving
an event to where it already is both change nothing, and every email and Slack note is
keyed by the booking's version.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from bot.domain.config import Config, Rep
from bot.domain.intervals import Interval
from bot.domain.manage_links import LinkError, ManageLinks, ManageToken
from bot.domain.reminders import plan_reminders
from bot.domain.slots import busy_problem, display_step, local_instant, timing_problem
from bot.messages.booking_changes import (
    WHAT_CANCEL,
    WHAT_MOVE,
    cancelled_note,
    change_failed_detail,
    change_failed_note,
    email_failed_note,
    moved_note,
    render_cancelled,
    render_moved,
    vip_move_blocks,
)
from bot.services.availability import AvailabilityService, without
from bot.services.escalation import Escalator
from bot.services.telemetry import count_integration_error
from integrations.base import Chat, Confirmation, IntegrationError
from integrations.bundle import Integrations
from storage.models import (
    BookingStatus,
    EscalationKind,
    StoredBooking,
    StoredBookingChange,
    StoredRequest,
    utcnow,
)
from storage.repositories import (
    BookingChangeRepository,
    BookingRepository,
    EscalationRepository,
    RequestRepository,
)
from storage.repositories.booking_changes import STALE_MOVE
from storage.statuses import ChangeKind, ChangeStatus

log = logging.getLogger("frontdesk.booking_changes")

CLIENT = "client"
# How many days the manage page's picker shows at a time.
PICKER_DAYS = 7

Outcome = Literal[
    "cancelled",  # done (also: it already was)
    "moved",  # done: `booking` is the new version, `url` its new manage link
    "unchanged",  # the new time is the current one
    "taken",  # that slot is no longer free (or never was)
    "owner_asked",  # a VIP's booking: the account owner decides
    "escalated",  # a provider failed: a person was told, nothing changed
    "not_active",  # the meeting is cancelled, over, or not confirmed
]


def _may_have_landed(earlier: StoredBookingChange | None, start: datetime) -> bool:
    """An earlier move of this version to the same time that failed or was interrupted."""
    return (
        earlier is not None
        and earlier.kind == ChangeKind.MOVE
        and earlier.status in (ChangeStatus.ESCALATED, ChangeStatus.PENDING)
        and earlier.new_start == start
    )


class Replaced(Exception):
    """The link names an older version of the booking: a move replaced it (410)."""

    def __init__(self, booking: StoredBooking, request: StoredRequest) -> None:
        super().__init__(booking.id)
        self.booking = booking
        self.request = request


@dataclass(frozen=True)
class Opened:
    """A manage link that is good: its booking (at that version) and request."""

    token: ManageToken
    booking: StoredBooking
    request: StoredRequest

    @property
    def active(self) -> bool:
        return self.booking.status == BookingStatus.CONFIRMED


@dataclass(frozen=True)
class ChangeResult:
    outcome: Outcome
    booking: StoredBooking
    request: StoredRequest
    url: str | None = None  # the manage link of the booking now
    detail: str | None = None  # why a slot is not free, for the page


class BookingChanges:
    def __init__(
        self,
        config: Config,
        integrations: Integrations,
        bookings: BookingRepository,
        changes: BookingChangeRepository,
        requests: RequestRepository,
        escalations: EscalationRepository,
        escalator: Escalator,
        availability: AvailabilityService,
        links: ManageLinks,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.integrations = integrations
        self.bookings = bookings
        self.changes = changes
        self.requests = requests
        self.escalations = escalations
        self.escalator = escalator
        self.availability = availability
        self.links = links
        self.clock = clock

    @property
    def chat(self) -> Chat:
        return self.integrations.chat

    # ------------------------------------------------------------------ the link

    def open(self, text: str) -> Opened:
        """The booking a manage link names. LinkError when it is forged or its meeting
        is over; Replaced when a move made a newer link.
        """
        token = self.links.read(text, self.clock())
        booking = self.bookings.get(token.booking_id)
        if booking is None or token.version > booking.version:
            raise LinkError("forged")
        request = self.requests.get(booking.request_id)
        if request is None:
            raise LinkError("forged")
        if token.version < booking.version:
            raise Replaced(booking, request)
        return Opened(token, booking, request)

    def url_for(self, booking: StoredBooking) -> str:
        return self.links.url(booking.id or 0, booking.version, booking.end)

    def picker_window(self, opened: Opened, first_day: date | None) -> tuple[date, date, date]:
        """The days the picker shows: (first, the day after the last, the first day of the
        horizon), in the client's zone; `first_day` is clamped to today … the horizon.
        """
        zone = ZoneInfo(opened.request.timezone)
        today = self.clock().astimezone(zone).date()
        last = today + timedelta(days=self.config.booking.horizon_days)
        first = min(max(first_day or today, today), last)
        return first, first + timedelta(days=PICKER_DAYS), today

    def slots(self, opened: Opened, first_day: date | None = None) -> list[Interval]:
        """New times for the meeting in the picker's days: the same rep and length, the
        meeting's own time not in the way; raise IntegrationError when the rep's
        calendars cannot be read.
        """
        booking = opened.booking
        rep = self.config.rep(booking.rep_email)
        if rep is None or not opened.active:
            return []
        zone = ZoneInfo(opened.request.timezone)
        first, after, _ = self.picker_window(opened, first_day)
        now = self.clock()
        start = max(now, local_instant(first, time.min, zone))
        end = min(
            local_instant(after, time.min, zone),
            now + timedelta(days=self.config.booking.horizon_days),
        )
        if end <= start:
            return []
        duration = booking.end - booking.start
        slots = self.availability.rep_slots(
            rep,
            start,
            end,
            duration,
            step=display_step(int(duration.total_seconds() // 60)),
            ignoring=Interval(booking.start, booking.end),
        )
        return [slot for slot in slots if slot.start != booking.start]

    # ------------------------------------------------------------------ cancel

    def cancel(self, opened: Opened, reason: str | None, *, actor: str = CLIENT) -> ChangeResult:
        """Cancel the meeting once: the calendar, then the booking, its reminders and the
        audit row, then the client's email and the note in Slack.
        """
        booking, request = opened.booking, opened.request
        if booking.status == BookingStatus.CANCELLED:
            return ChangeResult("cancelled", booking, request)
        if not opened.active or self.clock() >= booking.start:
            return ChangeResult("not_active", booking, request)
        change, _ = self.changes.begin(booking, kind=ChangeKind.CANCEL, actor=actor, reason=reason)
        rep = self.config.rep(booking.rep_email)
        try:
            if rep is None:
                raise LookupError(f"rep {booking.rep_email} is no longer configured")
            self.integrations.calendar_for(rep).cancel_event(
                rep, booking.calendar_id, booking.event_id or ""
            )
        except Exception as exc:
            return self._escalate(change, request, booking, WHAT_CANCEL, exc)
        cancelled = self.changes.cancel(
            booking, change.id or 0, by=actor, reason=reason, at=self.clock()
        )
        if cancelled is None:  # another request finished first
            return ChangeResult("cancelled", self._reload(booking), request)
        log.info("booking cancelled", extra={"request_id": request.id, "by": actor})
        email = render_cancelled(request, cancelled, attach_ics=cancelled.provider != "microsoft")
        self._email(email, request, cancelled, "cancelled")
        self._tell(request, cancelled, cancelled_note(request, cancelled, reason), "cancelled")
        return ChangeResult("cancelled", cancelled, request)

    # ------------------------------------------------------------------ reschedule

    def reschedule(self, opened: Opened, start: datetime, *, actor: str = CLIENT) -> ChangeResult:
        """Move the meeting to `start` (same rep and length); a VIP's goes to a person."""
        booking, request = opened.booking, opened.request
        if not opened.active or self.clock() >= booking.start:
            return ChangeResult("not_active", booking, request)
        if start == booking.start:
            return ChangeResult("unchanged", booking, request, self.url_for(booking))
        rep = self.config.rep(booking.rep_email)
        if rep is None:
            return ChangeResult("taken", booking, request, detail="no rep")
        end = start + (booking.end - booking.start)
        problem = timing_problem(rep, start, end, now=self.clock(), booking=self.config.booking)
        if problem is not None:
            return ChangeResult("taken", booking, request, detail=problem)
        if actor == CLIENT and self._is_vip(request):
            return self._ask_owner(booking, request, start, end)
        return self._move(rep, booking, request, start, end, actor)

    def owner_move(
        self, booking_id: int, version: int, start: datetime, actor: str
    ) -> ChangeResult:
        """The account owner's Book click on a VIP's requested move."""
        booking = self.bookings.get(booking_id)
        request = self.requests.get(booking.request_id) if booking else None
        if booking is None or request is None:
            raise LookupError(f"booking {booking_id} does not exist")
        if booking.version != version:
            return ChangeResult("not_active", booking, request)
        token = ManageToken("", booking_id, version, booking.end)
        return self.reschedule(Opened(token, booking, request), start, actor=actor)

    def finish_interrupted(self) -> int:
        """Finish the moves a dead process left holding a new slot (the calendar may have
        moved the event already; moving it there again changes nothing), or escalate
        them; returns how many were taken up. Run by the scheduler's upkeep.
        """
        # Real time: whether a process is still at it, not the business clock.
        stale = self.changes.interrupted_moves(utcnow() - STALE_MOVE)
        for booking in stale:
            change = next(
                (
                    c
                    for c in self.changes.for_booking(booking.id or 0)
                    if c.from_version == booking.version and c.status == ChangeStatus.PENDING
                ),
                None,
            )
            request = self.requests.get(booking.request_id)
            rep = self.config.rep(booking.rep_email)
            if change is None or change.new_start is None or request is None or rep is None:
                self.changes.release_move(booking.id or 0, booking.version)
                continue
            log.warning("finishing an interrupted move", extra={"request_id": request.id})
            end = change.new_end or change.new_start + (booking.end - booking.start)
            self._move(rep, booking, request, change.new_start, end, change.actor)
        return len(stale) + self._finish_cancels()

    def _finish_cancels(self) -> int:
        """Cancels a dead process left unsettled (the event maybe deleted already, the
        booking still confirmed, its reminders still due): cancelled again, once.
        """
        stale = self.changes.interrupted_cancels(utcnow() - STALE_MOVE)
        for change in stale:
            booking = self.bookings.get(change.booking_id)
            request = self.requests.get(change.request_id)
            if booking is None or request is None:
                continue
            log.warning("finishing an interrupted cancel", extra={"request_id": request.id})
            token = ManageToken("", change.booking_id, change.from_version, booking.end)
            self.cancel(Opened(token, booking, request), change.reason, actor=change.actor)
        return len(stale)

    def _move(
        self,
        rep: Rep,
        booking: StoredBooking,
        request: StoredRequest,
        start: datetime,
        end: datetime,
        actor: str,
    ) -> ChangeResult:
        buffer = timedelta(minutes=self.config.booking.buffer_minutes)
        change, earlier = self.changes.begin(
            booking, kind=ChangeKind.MOVE, actor=actor, new_start=start, new_end=end
        )
        try:
            busy = self.availability.busy(rep, start - buffer, end + buffer)
        except IntegrationError as exc:
            return self._escalate(change, request, booking, WHAT_MOVE, exc)
        busy = without(busy, Interval(booking.start, booking.end))
        if _may_have_landed(earlier, start):
            # The failed attempt may have moved the event there after all: its own busy
            # time is no reason to refuse finishing that move.
            busy = without(busy, Interval(start, end))
        problem = busy_problem(rep, start, end, busy, self.config.booking.buffer_minutes)
        held = (
            self.changes.hold_move(booking.id or 0, booking.version, start, end, buffer)
            if problem is None
            else None
        )
        if held is None or held.booking is None:
            refusal = held.refusal if held is not None else "taken"
            self.changes.settle(change.id or 0, ChangeStatus.REFUSED, error_code=refusal)
            if refusal == "changed":
                return ChangeResult("not_active", self._reload(booking), request)
            return ChangeResult("taken", booking, request, detail=problem or refusal)
        try:
            moved = self.integrations.calendar_for(rep).move_event(
                rep, booking.calendar_id, booking.event_id or "", start, end
            )
        except Exception as exc:
            self.changes.release_move(booking.id or 0, booking.version)
            return self._escalate(change, request, booking, WHAT_MOVE, exc)
        plan = plan_reminders(
            self.config.reminders,
            start=start,
            client_timezone=request.timezone,
            phone=request.phone,
            sms_opt_in=request.sms_opt_in,
            now=self.clock(),
        )
        new = self.changes.finish_move(held.booking, change.id or 0, start, end, plan)
        if new is None:  # another request moved or cancelled it first
            return ChangeResult("not_active", self._reload(booking), request)
        if moved.video_url and not new.video_url:
            new = new.model_copy(update={"video_url": moved.video_url})
        return self._after_move(request, booking, new)

    def _after_move(
        self, request: StoredRequest, old: StoredBooking, new: StoredBooking
    ) -> ChangeResult:
        url = self.url_for(new)
        log.info("booking moved", extra={"request_id": request.id, "version": new.version})
        email = render_moved(request, new, attach_ics=new.provider != "microsoft", manage_url=url)
        self._email(email, request, new, "moved")
        self._tell(request, new, moved_note(request, new, old.start), f"moved:v{new.version}")
        return ChangeResult("moved", new, request, url)

    # ------------------------------------------------------------------ VIP

    def _is_vip(self, request: StoredRequest) -> bool:
        escalation = self.escalations.get_by_request(request.id)
        return escalation is not None and escalation.kind == EscalationKind.VIP

    def _ask_owner(
        self, booking: StoredBooking, request: StoredRequest, start: datetime, end: datetime
    ) -> ChangeResult:
        """A VIP's meeting is never moved by the machine: the owner gets the requested slot
        with a Book button; the client is told the account manager will confirm.
        """
        change, _ = self.changes.begin(
            booking,
            kind=ChangeKind.MOVE_REQUESTED,
            actor=CLIENT,
            new_start=start,
            new_end=end,
        )
        text, blocks = vip_move_blocks(request, booking, start)
        owner = self._owner(request)
        key = f"slack:vip-move:{booking.id}:v{booking.version}:{int(start.timestamp())}"
        try:
            channel = self.chat.open_dm(owner) if owner else self.config.slack.escalation_channel
            self.chat.post_message(
                channel,
                text,
                [block.to_dict() for block in blocks],
                dedupe_key=key,
                request_id=request.id,
            )
        except Exception as exc:
            return self._escalate(change, request, booking, WHAT_MOVE, exc)
        self.changes.settle(change.id or 0, ChangeStatus.AWAITING_OWNER)
        log.info("VIP move sent to the account owner", extra={"request_id": request.id})
        return ChangeResult("owner_asked", booking, request)

    def _owner(self, request: StoredRequest) -> str | None:
        escalation = self.escalations.get_by_request(request.id)
        if escalation is not None and escalation.assignee:
            return escalation.assignee
        domain = request.email.rsplit("@", 1)[-1].lower()
        account = next(
            (
                vip
                for vip in self.config.vip
                if domain == vip.domain or domain.endswith("." + vip.domain)
            ),
            None,
        )
        if account is None:
            return None
        if account.owner_slack_id:
            return account.owner_slack_id
        try:
            return self.chat.user_id_for_email(account.owner_email)
        except IntegrationError:
            return None

    # ------------------------------------------------------------------ telling people

    def _escalate(
        self,
        change: StoredBookingChange,
        request: StoredRequest,
        booking: StoredBooking,
        what: str,
        exc: Exception,
    ) -> ChangeResult:
        """A provider failed: nothing changed, and a person is told why (once per booking
        version and kind of change); the client sees "we'll confirm shortly".
        """
        if isinstance(exc, IntegrationError):
            count_integration_error(exc)
            code, error = exc.code, exc.message
        else:
            log.exception("booking change crashed", extra={"request_id": request.id})
            code, error = f"internal_error:{type(exc).__name__}", type(exc).__name__
        self.changes.settle(change.id or 0, ChangeStatus.ESCALATED, error_code=code, detail=error)
        log.warning(
            "booking change escalated",
            extra={"request_id": request.id, "change": what, "error": code},
        )
        escalation = self.escalations.get_by_request(request.id)
        if escalation is None:
            detail = change_failed_detail(request, booking, what, error)
            self.escalator.escalate(request, EscalationKind.ON_ERROR, [code], detail=detail)
        else:
            note = change_failed_note(request, booking, what, error)
            self._tell(request, booking, note, f"failed:{what}:v{booking.version}")
        return ChangeResult("escalated", booking, request)

    def _email(
        self, email: Confirmation, request: StoredRequest, booking: StoredBooking, what: str
    ) -> None:
        try:
            self.integrations.email.send(email)
        except Exception as exc:  # the change is made: say the client was not told
            error = exc.message if isinstance(exc, IntegrationError) else type(exc).__name__
            if isinstance(exc, IntegrationError):
                count_integration_error(exc)
            log.error("change email failed", extra={"request_id": request.id, "error": error})
            note = email_failed_note(request, what, error)
            self._tell(request, booking, note, f"email-failed:{what}:v{booking.version}")

    def _tell(self, request: StoredRequest, booking: StoredBooking, text: str, key: str) -> None:
        """The escalation's thread when the booking came from Slack, else a DM to the rep
        (the escalation channel when the rep is not in Slack). Best effort: logged.
        """
        dedupe = f"slack:booking-change:{booking.id}:{key}"
        escalation = self.escalations.get_by_request(request.id)
        try:
            if escalation is not None and escalation.channel and escalation.message_ts:
                self.chat.post_message(
                    escalation.channel,
                    text,
                    [],
                    dedupe_key=dedupe,
                    request_id=request.id,
                    thread_ts=escalation.message_ts,
                )
                return
            rep = self.config.rep(booking.rep_email)
            user = rep.slack_id if rep and rep.slack_id else None
            user = user or self.chat.user_id_for_email(booking.rep_email)
            channel = self.chat.open_dm(user) if user else self.config.slack.escalation_channel
            self.chat.post_message(channel, text, [], dedupe_key=dedupe, request_id=request.id)
        except Exception as exc:
            log.error(
                "could not tell Slack about a booking change",
                extra={"request_id": request.id, "error": repr(exc)},
            )

    def _reload(self, booking: StoredBooking) -> StoredBooking:
        return self.bookings.get(booking.id or 0) or booking
