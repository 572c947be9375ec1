""" "Did it happen?" (SPEC §6): after a meeting ends its host gets a DM asking whether it was
held, a no-show or rescheduled (the no-show KPI's source), and one nudge a day later if
the question is still open. A prompt is claimed in the database first, so one replica of
several looks up the host and posts it, and a claim left by a dead process is taken over
once stale. A nudge, which needs no look-up, is posted first and recorded after, its
outbox key being the claim (as SLA re-pings are).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.domain.config import Config
from bot.messages.blocks import MeetingView, OutcomeAnswer, outcome_blocks, outcome_text
from bot.services.escalation import OWNER_UNREACHABLE_ERRORS
from bot.services.sla import out_of_tries
from bot.services.triage import TriageError, UsergroupCache
from integrations.base import Chat, IntegrationError
from storage.models import MeetingOutcome, StoredBooking, utcnow
from storage.repositories import BookingRepository, OutboxRepository, RequestRepository
from storage.repositories.bookings import NOT_ASKED

log = logging.getLogger("frontdesk.outcomes")

# Meetings that ended longer ago are never asked about: a first deploy must not DM hosts
# about their whole history.
PROMPT_WINDOW = timedelta(days=7)
NUDGE_AFTER = timedelta(hours=24)
# A prompt claimed this long ago and still not recorded was left by a process that died:
# another takes it over (the outbox key keeps a DM that did go out from going twice). Far
# above a post's worst case (Slack's Retry-After waits), so a live claim is never taken.
# Measured on the injected clock, the one that stamped the claim: the wall clock in
# production, and in tests a claim goes stale only when the test moves its clock on.
PROMPT_LEASE = timedelta(minutes=10)
BATCH = 50

UNKNOWN_MEETING = "Frontdesk has no meeting {booking_id}."
ONLY_THE_HOST = "Only <@{host}>, who hosted this meeting, can say whether it happened."
ONLY_THE_HOST_OR_OPS = (
    "Only <@{host}>, who hosted this meeting, or a member of <!subteam^{group}> can say "
    "whether it happened."
)
ONLY_OPS = "Only members of <!subteam^{group}> can say whether this meeting happened."
NOBODY_MAY_ANSWER = "Nobody was asked about this meeting, so it cannot be answered here."


class OutcomePrompter:
    def __init__(
        self,
        config: Config,
        bookings: BookingRepository,
        requests: RequestRepository,
        chat: Chat,
        outbox: OutboxRepository,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.bookings = bookings
        self.requests = requests
        self.chat = chat
        self.outbox = outbox
        self.clock = clock
        self.usergroup = UsergroupCache(chat)

    # ------------------------------------------------------------------ the scheduled part

    def tick(self, stop: threading.Event | None = None) -> dict[str, int]:
        """Ask the hosts of meetings that just ended, and nudge those a day silent:
        {"prompted", "nudged", "no_host", "failed"} counts. A set `stop` (a shutdown) ends
        the tick between posts; the rest wait for the next process.
        """
        now = self.clock()
        counts = {"prompted": 0, "nudged": 0, "no_host": 0, "failed": 0}
        due = self.bookings.prompts_due(
            now, now - PROMPT_WINDOW, stale_before=now - PROMPT_LEASE, limit=BATCH
        )
        for booking in due:
            if stop is not None and stop.is_set():
                return counts
            # Stamped when claimed, not when the tick began: the claim's age is its lease.
            claimed_at = self.clock()
            seen = booking.outcome_prompted_at
            if self.bookings.claim_prompt(booking.id or 0, claimed_at, seen=seen):
                result = self._prompt(booking, claimed_at)
                if result is not None:
                    counts[result] += 1
        # A prompt goes out up to PROMPT_WINDOW after the meeting, its nudge a day later.
        ended_after = now - PROMPT_WINDOW - NUDGE_AFTER - timedelta(days=1)
        for booking in self.bookings.nudges_due(now - NUDGE_AFTER, ended_after, limit=BATCH):
            if stop is not None and stop.is_set():
                return counts
            result = self._nudge(booking, now)
            if result is not None:
                counts[result] += 1
        return counts

    def host_of(self, booking: StoredBooking) -> str | None:
        """Who is asked: the person who booked it in Slack, else the rep (by the Slack id
        in the config, else by email). Raises IntegrationError when Slack cannot answer.
        """
        if booking.booked_by and booking.booked_by != "auto":
            return booking.booked_by
        rep = self.config.rep(booking.rep_email)
        if rep is not None and rep.slack_id:
            return rep.slack_id
        return self.chat.user_id_for_email(booking.rep_email)

    def _prompt(self, booking: StoredBooking, claimed_at: datetime) -> str | None:
        """Post the prompt this process claimed: "prompted", "no_host" (nobody to ask, for
        good), "failed" (given back for the next tick, unless out of tries), or None when
        the process whose claim looked dead is still posting it (it records it; if it did
        die, this claim goes stale in turn).
        """
        booking_id = booking.id or 0
        key = f"slack:outcome-prompt:{booking_id}"
        extra = {"request_id": booking.request_id, "booking_id": booking_id}
        host = None
        try:
            host = self.host_of(booking)
            if host is None:
                log.warning(
                    "nobody in Slack to ask whether a meeting happened",
                    extra={**extra, "rep": booking.rep_email},
                )
                self.bookings.give_up_prompt(booking_id, None)
                return "no_host"
            if out_of_tries(self.outbox, key):
                log.error("gave up asking whether a meeting happened", extra=extra)
                self.bookings.give_up_prompt(booking_id, host)
                return "failed"
            view = self.view(booking)
            posted = self.chat.post_message(
                self.chat.open_dm(host),
                outcome_text(view),
                [block.to_dict() for block in outcome_blocks(view)],
                dedupe_key=key,
                request_id=booking.request_id,
            )
        except IntegrationError as exc:
            if exc.reason in OWNER_UNREACHABLE_ERRORS:
                log.warning(
                    "the host of a meeting cannot be messaged in Slack",
                    extra={**extra, "host": host, "error": exc.reason},
                )
                self.bookings.give_up_prompt(booking_id, host)
                return "no_host"
            if exc.posting_elsewhere:
                log.warning("a stale prompt claim is still being posted", extra=extra)
                return None
            self.bookings.release_prompt(booking_id, claimed_at)
            log.error(
                "could not ask whether a meeting happened; trying again",
                extra={**extra, "error": exc.message},
            )
            return "failed"
        except Exception:
            self.bookings.release_prompt(booking_id, claimed_at)
            log.exception("asking whether a meeting happened crashed", extra=extra)
            return "failed"
        self.bookings.mark_prompted(booking_id, host, posted.channel, posted.ts)
        log.info("asked whether a meeting happened", extra={**extra, "host": host})
        return "prompted"

    def _nudge(self, booking: StoredBooking, now: datetime) -> str | None:
        """Reply once in the prompt's thread, buttons and all, then record it: "nudged",
        "failed" (the next tick tries again, unless out of tries), or None when another
        replica has it in hand. Killed before the post, nothing is recorded and the next
        tick posts; killed after it, the next tick gets the stored message and records it.
        """
        booking_id = booking.id or 0
        key = f"slack:outcome-nudge:{booking_id}"
        extra = {"request_id": booking.request_id, "booking_id": booking_id}
        if not booking.outcome_prompt_channel:
            return None  # nudges_due reads posted prompts only
        if out_of_tries(self.outbox, key):
            log.error("gave up nudging about a meeting's outcome", extra=extra)
            return "failed" if self.bookings.mark_nudged(booking_id, now) else None
        current = self.bookings.get(booking_id)
        if current is None or current.outcome is not None or current.outcome_nudged_at:
            return None  # answered (or nudged) since the batch was read
        try:
            view = self.view(booking)
            self.chat.post_message(
                booking.outcome_prompt_channel,
                outcome_text(view, nudge=True),
                [block.to_dict() for block in outcome_blocks(view, nudge=True)],
                dedupe_key=key,
                request_id=booking.request_id,
                thread_ts=booking.outcome_prompt_ts,
            )
        except Exception as exc:
            if isinstance(exc, IntegrationError) and exc.posting_elsewhere:
                return None
            error = exc.message if isinstance(exc, IntegrationError) else repr(exc)
            log.error("could not nudge about a meeting's outcome", extra={**extra, "error": error})
            return "failed"
        if not self.bookings.mark_nudged(booking_id, now):
            return None  # another replica recorded it
        log.info("nudged about a meeting's outcome", extra=extra)
        return "nudged"

    # ------------------------------------------------------------------ the answer

    def answer(
        self,
        booking_id: int,
        user_id: str,
        outcome: MeetingOutcome,
        clicked: tuple[str, str] | None = None,
    ) -> StoredBooking:
        """Store the host's (or an ops member's) answer, who gave it and when, and redraw
        the prompt, and the message clicked on when that was the nudge. An answer can be
        changed. Refusals raise TriageError (shown to the clicker).
        """
        booking = self.bookings.get(booking_id)
        if booking is None:
            raise TriageError(UNKNOWN_MEETING.format(booking_id=booking_id))
        self.authorize(user_id, booking)
        updated = self.bookings.record_outcome(booking_id, outcome, user_id, self.clock())
        if updated is None:
            raise TriageError(UNKNOWN_MEETING.format(booking_id=booking_id))
        log.info(
            "meeting outcome recorded",
            extra={"request_id": booking.request_id, "outcome": str(outcome), "user": user_id},
        )
        self.redraw(updated, clicked)
        return updated

    def authorize(self, user_id: str, booking: StoredBooking) -> None:
        host, group = booking.outcome_host, self.config.slack.ops_usergroup
        if host is None and booking.outcome_prompt_channel != NOT_ASKED:
            host = self._unrecorded_host(booking)
        if host is not None and user_id == host:
            return
        if group and user_id in self.usergroup.members(group):
            return
        if host is None:
            raise TriageError(ONLY_OPS.format(group=group) if group else NOBODY_MAY_ANSWER)
        if group:
            raise TriageError(ONLY_THE_HOST_OR_OPS.format(host=host, group=group))
        raise TriageError(ONLY_THE_HOST.format(host=host))

    def _unrecorded_host(self, booking: StoredBooking) -> str | None:
        """Who was asked about a prompt that went out unrecorded (its process died after the
        post, or Slack took a post that timed out): the click proves a DM exists, and a
        later tick records it. None when Slack cannot tell.
        """
        try:
            return self.host_of(booking)
        except IntegrationError as exc:
            log.warning(
                "could not tell who hosted a meeting",
                extra={"request_id": booking.request_id, "error": exc.message},
            )
            return None

    def redraw(self, booking: StoredBooking, clicked: tuple[str, str] | None = None) -> None:
        """Show the answer on the prompt (and on the nudge clicked). Best effort: the answer
        is stored either way, and the next click redraws.
        """
        if not booking.outcome or not booking.outcome_by or not booking.outcome_at:
            return
        answer = OutcomeAnswer(booking.outcome, booking.outcome_by, booking.outcome_at)
        view = self.view(booking)
        targets: list[tuple[str, str, bool]] = []
        if booking.outcome_prompt_channel and booking.outcome_prompt_ts:
            targets.append((booking.outcome_prompt_channel, booking.outcome_prompt_ts, False))
        if clicked is not None and clicked[1] != booking.outcome_prompt_ts:
            targets.append((clicked[0], clicked[1], True))
        for channel, ts, nudge in targets:
            try:
                self.chat.update_message(
                    channel,
                    ts,
                    outcome_text(view, nudge=nudge),
                    [block.to_dict() for block in outcome_blocks(view, answer, nudge=nudge)],
                )
            except IntegrationError as exc:
                log.warning(
                    "could not redraw a meeting-outcome message",
                    extra={"request_id": booking.request_id, "error": exc.message},
                )

    def view(self, booking: StoredBooking) -> MeetingView:
        request = self.requests.get(booking.request_id)
        rep = self.config.rep(booking.rep_email)
        return MeetingView(
            booking_id=booking.id or 0,
            request_id=booking.request_id,
            client_name=request.name if request is not None else booking.request_id,
            company=request.company if request is not None else None,
            start=booking.start,
            end=booking.end,
            zone=rep.timezone if rep is not None else self.config.timezone,
        )
