"""What people do with escalations in Slack: claim, unclaim, reassign, resolve and book.

Every change is a compare-and-set in the database (two replicas, two people, same second:
one winner); the Slack message is then redrawn from what the database holds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.config import Config
from bot.domain.intervals import Interval
from bot.domain.slots import display_step, local_instant
from bot.messages.blocks import TicketState, escalation_blocks, escalation_text, slack_date
from bot.messages.ids import OUTCOME_LABELS
from bot.services.booking import STALE_HOLD, Booked, Booker, Unavailable
from bot.services.escalation import escalation_view
from bot.services.redraws import MessageRedraws
from integrations.base import Chat, IntegrationError, SlackProfile
from storage.models import (
    BookingStatus,
    StoredBooking,
    StoredEscalation,
    StoredRequest,
    utcnow,
)
from storage.repositories import BookingRepository, EscalationRepository, RequestRepository
from storage.statuses import Outcome

log = logging.getLogger("frontdesk.triage")

ALREADY_CLAIMED = "This request is already claimed by <@{user}>."
ONLY_THE_CLAIMER = "Only <@{user}>, who claimed this request, can unclaim it."
BOOKING_IN_PROGRESS = "<@{user}> is booking this request right now; wait a moment."
ALREADY_RESOLVED = "This request was already closed by <@{user}>."
NOT_ALLOWED = (
    "Only members of <!subteam^{group}> or the assignee can act on escalations. "
    "Ask someone in the group to reassign it to you."
)
UNKNOWN_REQUEST = "Frontdesk has no open escalation for request `{request_id}`."
REASSIGNED_DM = "<@{actor}> assigned you a request from *{client}*: {link}"
USERGROUP_TTL_SECONDS = 60.0


class TriageError(Exception):
    """A refusal a person can read; Slack shows it to them ephemerally."""


@dataclass(frozen=True)
class Ticket:
    request: StoredRequest
    escalation: StoredEscalation


class UsergroupCache:
    """Members of the ops user group, asked of Slack at most once a minute."""

    def __init__(
        self,
        chat: Chat,
        ttl: float = USERGROUP_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.chat = chat
        self.ttl = ttl
        self.clock = clock
        self._cached: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def members(self, usergroup: str) -> frozenset[str]:
        with self._lock:
            cached = self._cached.get(usergroup)
            if cached and self.clock() - cached[0] < self.ttl:
                return cached[1]
        members = self.chat.usergroup_members(usergroup)
        with self._lock:
            self._cached[usergroup] = (self.clock(), members)
        return members


class Triage:
    def __init__(
        self,
        config: Config,
        requests: RequestRepository,
        escalations: EscalationRepository,
        bookings: BookingRepository,
        booker: Booker,
        chat: Chat,
        *,
        clock: Callable[[], datetime] = utcnow,
        redraw_executor: Executor | None = None,
    ) -> None:
        self.config = config
        self.requests = requests
        self.escalations = escalations
        self.bookings = bookings
        self.booker = booker
        self.availability = booker.availability
        self.chat = chat
        self.clock = clock
        self.usergroup = UsergroupCache(chat)
        # Claim, unclaim and reassign redraw through this queue (bot/services/redraws.py),
        # on `redraw_executor`; without one it draws at once.
        self.redraws = MessageRedraws(self.draw, redraw_executor)
        # Set by the CRM ticket service (bot/tickets.py) when there is a CRM: the line the
        # message shows about the ticket, and who to tell that the escalation closed.
        self.ticket_line: Callable[[str], str | None] | None = None
        self.ticket_closed: Callable[[str, str], None] | None = None

    # ------------------------------------------------------------------ lookups

    def ticket(self, request_id: str) -> Ticket:
        found = self.escalations.with_request(request_id)
        if found is None:
            raise TriageError(UNKNOWN_REQUEST.format(request_id=request_id))
        return Ticket(*found)

    def authorize(self, user_id: str, escalation: StoredEscalation) -> None:
        """With an ops user group configured, only its members and the assignee may act."""
        group = self.config.slack.ops_usergroup
        if not group or user_id == escalation.assignee:
            return
        if user_id not in self.usergroup.members(group):
            raise TriageError(NOT_ALLOWED.format(group=group))

    def may_act_on_any(self, user_id: str) -> bool:
        """Whether the user may act on every escalation (no ops group, or a member of it),
        not only on those assigned to them.
        """
        group = self.config.slack.ops_usergroup
        return not group or user_id in self.usergroup.members(group)

    def open_ticket(self, request_id: str, user_id: str) -> Ticket:
        """The ticket, if it is still open and this user may act on it."""
        ticket = self.ticket(request_id)
        self.authorize(user_id, ticket.escalation)
        if ticket.escalation.resolved_at is not None:
            raise TriageError(ALREADY_RESOLVED.format(user=ticket.escalation.resolved_by))
        return ticket

    # ------------------------------------------------------------------ actions

    def open_escalation(self, request_id: str, user_id: str) -> StoredEscalation:
        """`open_ticket` without reading the request: what Slack's ack waits for."""
        escalation = self.escalations.get_by_request(request_id)
        if escalation is None:
            raise TriageError(UNKNOWN_REQUEST.format(request_id=request_id))
        self.authorize(user_id, escalation)
        if escalation.resolved_at is not None:
            raise TriageError(ALREADY_RESOLVED.format(user=escalation.resolved_by))
        return escalation

    def claim(self, request_id: str, user_id: str) -> StoredEscalation:
        """First click wins; the claimer clicking Claim again changes nothing. The message
        is redrawn after (`redraws`): the caller may answer Slack meanwhile.

        Someone who may act on any escalation goes straight to the compare-and-set (one
        statement: Slack's ack waits for it), and only a lost claim reads why; anyone else
        must be the assignee, read first.
        """
        if not self.may_act_on_any(user_id):
            escalation = self.open_escalation(request_id, user_id)
            if escalation.claimed_by == user_id:
                return escalation  # a double click: nothing to do
        try:
            changed = self.escalations.claim(request_id, user_id, self.clock())
        except LookupError:
            raise TriageError(UNKNOWN_REQUEST.format(request_id=request_id)) from None
        if not changed.won:
            lost = changed.escalation
            if lost.resolved_at is None and lost.claimed_by == user_id:
                return lost  # a double click: the first one won
            raise TriageError(self._lost_claim(lost))
        log.info("escalation claimed", extra={"request_id": request_id, "user": user_id})
        self.redraws.request(request_id)
        return changed.escalation

    def unclaim(self, request_id: str, user_id: str) -> StoredEscalation:
        """Only the claimer gives a claim back."""
        self.open_escalation(request_id, user_id)
        changed = self.escalations.unclaim(request_id, user_id)
        if not changed.won:
            claimer = changed.escalation.claimed_by
            if claimer is None:
                return changed.escalation  # already given back (a double click)
            raise TriageError(ONLY_THE_CLAIMER.format(user=claimer))
        log.info("escalation unclaimed", extra={"request_id": request_id, "user": user_id})
        self.redraws.request(request_id)
        return changed.escalation

    def reassign(self, request_id: str, actor: str, assignee: str) -> StoredEscalation:
        ticket = self.open_ticket(request_id, actor)
        changed = self.escalations.reassign(request_id, assignee)
        if not changed.won:
            raise TriageError(ALREADY_RESOLVED.format(user=changed.escalation.resolved_by))
        escalation = changed.escalation
        in_a_dm = (escalation.channel or "").startswith("D")
        link = (
            self.chat.permalink(escalation.channel, escalation.message_ts)
            if escalation.channel and escalation.message_ts and not in_a_dm
            else None
        )
        text = REASSIGNED_DM.format(
            actor=actor, client=ticket.request.name, link=link or f"request `{request_id}`"
        )
        # A ticket living in someone else's DM cannot be linked to: send its copy, buttons
        # and all (they act on the request, whichever message they are on).
        blocks = self._blocks(ticket.request, escalation) if in_a_dm else []
        self.chat.post_message(
            self.chat.open_dm(assignee),
            text,
            blocks,
            dedupe_key=f"slack:reassigned:{request_id}:{assignee}:{int(self.clock().timestamp())}",
            request_id=request_id,
        )
        log.info("escalation reassigned", extra={"request_id": request_id, "assignee": assignee})
        self.redraws.request(request_id)
        return escalation

    def close(
        self, request_id: str, actor: str, outcome: Outcome, note: str | None
    ) -> StoredEscalation:
        """Resolve with an outcome (quick: the modal answers with it); redraw separately."""
        self.open_ticket(request_id, actor)
        booking = self.bookings.get_by_request(request_id)
        if (
            booking is not None
            and booking.status == BookingStatus.RESERVED
            and utcnow() - booking.created_at < STALE_HOLD  # else a crash left it behind
        ):
            raise TriageError(BOOKING_IN_PROGRESS.format(user=booking.booked_by))
        changed = self.escalations.resolve(request_id, actor, self.clock(), outcome, note)
        if not changed.won:
            raise TriageError(ALREADY_RESOLVED.format(user=changed.escalation.resolved_by))
        log.info("escalation resolved", extra={"request_id": request_id, "outcome": str(outcome)})
        if self.ticket_closed is not None:
            label = OUTCOME_LABELS.get(outcome, str(outcome))
            said = f"{label} (Slack user {actor})" + (f": {note}" if note else "")
            self.ticket_closed(request_id, said)
        return changed.escalation

    def redraw_request(self, request_id: str) -> None:
        ticket = self.ticket(request_id)
        self.redraw(ticket.request, ticket.escalation)

    def draw(self, request_id: str) -> None:
        """Rewrite the message from the database as it is now; raise IntegrationError when
        Slack refused (the redraw queue tries again).
        """
        ticket = self.ticket(request_id)
        request, escalation = ticket.request, ticket.escalation
        if not escalation.channel or not escalation.message_ts:
            return  # never delivered: the redelivery sweep will post the current state
        self.chat.update_message(
            escalation.channel,
            escalation.message_ts,
            escalation_text(escalation_view(request, escalation)),
            self._blocks(request, escalation),
        )

    # ------------------------------------------------------------------ booking

    def slots(
        self, request: StoredRequest, rep_email: str, duration_minutes: int
    ) -> list[Interval]:
        """Free slots of the rep (every calendar) up to the horizon, from the start of the
        day the client asked for (or now), every 15 or 30 minutes.
        """
        rep = self.config.rep(rep_email)
        if rep is None:
            raise TriageError(f"{rep_email} is not a configured rep.")
        now = self.clock()
        horizon = now + timedelta(days=self.config.booking.horizon_days)
        start = now
        if request.requested_start is not None and request.requested_start > now:
            client_zone = ZoneInfo(request.timezone)
            day = request.requested_start.astimezone(client_zone).date()
            start = max(now, local_instant(day, datetime.min.time(), client_zone))
        return self.availability.rep_slots(
            rep,
            start,
            horizon,
            timedelta(minutes=duration_minutes),
            step=display_step(duration_minutes),
        )

    def default_rep(self, request: StoredRequest) -> str:
        """The rep the Book modal starts with: the one asked for, else the next in turn."""
        if request.rep_email:
            return request.rep_email
        candidates = self.booker.candidates(request)
        if not candidates:
            raise TriageError("No rep is configured.")
        return candidates[0].email

    def hold(
        self, request_id: str, actor: str, rep_email: str, start: datetime, duration_minutes: int
    ) -> tuple[StoredRequest, StoredBooking] | Unavailable:
        """Check and hold the chosen slot; quick enough to answer the modal within 3 s."""
        ticket = self.open_ticket(request_id, actor)
        chosen = ticket.request.model_copy(
            update={
                "requested_start": start,
                "duration_minutes": duration_minutes,
                "rep_email": rep_email,
            }
        )
        held = self.booker.hold(chosen, booked_by=actor)
        if isinstance(held, Unavailable):
            return held
        return chosen, held

    def complete_booking(
        self, request: StoredRequest, booking: StoredBooking, actor: str, note: str | None
    ) -> Booked | Unavailable:
        """Check the calendars, create the event and confirm to the client, then close the
        escalation as booked. Unavailable (the hold released) when a calendar got busy.
        """
        booked = self.booker.complete(request, booking)
        if isinstance(booked, Unavailable):
            return booked
        changed = self.escalations.resolve(request.id, actor, self.clock(), Outcome.BOOKED, note)
        if not changed.won:
            log.warning(
                "booked a request someone closed meanwhile",
                extra={"request_id": request.id, "closed_by": changed.escalation.resolved_by},
            )
        log.info(
            "escalation booked by a person",
            extra={"request_id": request.id, "user": actor, "rep": booking.rep_email},
        )
        if self.ticket_closed is not None:
            start = booked.booking.start.astimezone(UTC)
            self.ticket_closed(
                request.id,
                f"Booked (Slack user {actor}) for {start:%Y-%m-%d %H:%M} UTC with "
                f"{booked.booking.rep_email}" + (f": {note}" if note else ""),
            )
        self.redraw(request, changed.escalation, booking=booked.booking)
        return booked

    # ------------------------------------------------------------------ message

    def redraw(
        self,
        request: StoredRequest,
        escalation: StoredEscalation,
        *,
        booking: StoredBooking | None = None,
    ) -> None:
        """Rewrite the escalation message from the database's state (chat.update).

        Best effort: what people did is stored either way, and a failed redraw must not
        report their action as failed (the next action redraws it).
        """
        if not escalation.channel or not escalation.message_ts:
            return  # never delivered: the redelivery sweep will post the current state
        try:
            self.chat.update_message(
                escalation.channel,
                escalation.message_ts,
                escalation_text(escalation_view(request, escalation)),
                self._blocks(request, escalation, booking),
            )
        except IntegrationError as exc:
            log.warning(
                "could not redraw the escalation message",
                extra={"request_id": request.id, "error": exc.message},
            )

    def _blocks(
        self,
        request: StoredRequest,
        escalation: StoredEscalation,
        booking: StoredBooking | None = None,
    ) -> list[dict[str, Any]]:
        view = escalation_view(request, escalation)
        return [b.to_dict() for b in escalation_blocks(view, self.state(escalation, booking))]

    def state(
        self, escalation: StoredEscalation, booking: StoredBooking | None = None
    ) -> TicketState:
        booked = None
        if escalation.outcome == Outcome.BOOKED:
            booking = booking or self.bookings.get_by_request(escalation.request_id)
            if booking is not None:
                booked = (
                    f"{slack_date(booking.start, booking.client_timezone)} with {booking.rep_email}"
                )
        return TicketState(
            assignee=escalation.assignee,
            claimed_by=escalation.claimed_by,
            claimed_at=escalation.claimed_at,
            resolved_by=escalation.resolved_by,
            resolved_at=escalation.resolved_at,
            outcome=escalation.outcome,
            note=escalation.resolution_note,
            booked=booked,
            crm=self.ticket_line(escalation.request_id) if self.ticket_line else None,
        )

    @staticmethod
    def _lost_claim(escalation: StoredEscalation) -> str:
        if escalation.resolved_at is not None:
            return ALREADY_RESOLVED.format(user=escalation.resolved_by)
        return ALREADY_CLAIMED.format(user=escalation.claimed_by)


def viewer_profile(chat: Chat, user_id: str) -> SlackProfile:
    """What Slack says of the user (users.info), or nothing when it cannot be asked."""
    try:
        return chat.user_profile(user_id)
    except IntegrationError as exc:
        log.warning(
            "could not read a Slack user's profile", extra={"user": user_id, "error": exc.message}
        )
        return SlackProfile()


def zone_or(name: str | None, fallback: ZoneInfo) -> ZoneInfo:
    try:
        return ZoneInfo(name) if name else fallback
    except (KeyError, ValueError):
        return fallback


def viewer_zone(chat: Chat, user_id: str, fallback: ZoneInfo) -> ZoneInfo:
    """The user's Slack zone (users.info `tz`), or the business zone when unknown."""
    return zone_or(viewer_profile(chat, user_id).timezone, fallback)
