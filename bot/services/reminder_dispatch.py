"""The reminder dispatch tick: claim what is due, send it once, record what happened.

Every decision is stored on the reminder row, so `/sandbox.json`, the database and the
logs tell the same story: sent (with the provider's id), skipped (and why), failed for
good (and why, also in the booking's Slack thread when it has one), or waiting for a
retry after a transient failure.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.config import Config
from bot.domain.manage_links import ManageLinks
from bot.domain.reminders import sms_allowed
from bot.messages.reminders import render_email, render_sms
from bot.services.telemetry import count_integration_error, count_reminder_send
from integrations.base import (
    Chat,
    EmailSender,
    IntegrationError,
    SmsError,
    SmsSender,
    TextMessage,
)
from storage.models import BookingStatus, ReminderChannel, ReminderStatus, utcnow
from storage.repositories import EscalationRepository, OptOutRepository, ReminderRepository
from storage.repositories.reminders import DueReminder, meeting_stamp

log = logging.getLogger("frontdesk.reminders")

BATCH_SIZE = 100
# How long a claim lasts. Renewed before a send once half of it is gone, so half of it
# must outlast one send with all its retries (3 x 10 s timeouts and Retry-After waits).
# A claim older than this was left by a dead process; the next claimer asks the provider
# before sending again.
LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 5
RETRY_BACKOFF = timedelta(minutes=1)  # 1, 2, 4, 8 min between attempts
MAX_BATCHES_PER_TICK = 50  # a tick ends even if reminders keep falling due meanwhile

# Postmark answers that no retry changes: the recipient is suppressed, the request invalid.
_PERMANENT_EMAIL_REASONS = {"406", "300"}
UNSUBSCRIBED = "21610"

FAILURE_NOTE = (
    ":warning: The {channel} reminder to {to} for the meeting on "
    "<!date^{ts}^{{date_short_pretty}} {{time}}|{fallback}> {what}: {why}. "
    "It will not be retried."
)
NOT_SENT = "was not sent"
SENT_NOT_DELIVERED = "was sent but not delivered"


@dataclass(frozen=True)
class TwilioCallbacks:
    """Where Twilio reports delivery: `{public_url}/webhooks/twilio/status?reminder=ID&
    meeting=STAMP`, the reminder and the meeting time its text named.
    """

    public_url: str

    def status_url(self, reminder_id: int, meeting_start: datetime) -> str:
        return (
            f"{self.public_url.rstrip('/')}/webhooks/twilio/status"
            f"?reminder={reminder_id}&meeting={meeting_stamp(meeting_start)}"
        )


class ReminderDispatcher:
    def __init__(
        self,
        config: Config,
        reminders: ReminderRepository,
        opt_outs: OptOutRepository,
        escalations: EscalationRepository,
        sms: SmsSender,
        email: EmailSender,
        chat: Chat,
        *,
        callbacks: TwilioCallbacks | None = None,
        clock: Callable[[], datetime] = utcnow,
        batch_size: int = BATCH_SIZE,
        max_attempts: int = MAX_ATTEMPTS,
        lease: timedelta = LEASE,
        links: ManageLinks | None = None,
    ) -> None:
        self.config = config
        self.reminders = reminders
        self.opt_outs = opt_outs
        self.escalations = escalations
        self.sms = sms
        self.email = email
        self.chat = chat
        self.callbacks = callbacks
        self.clock = clock
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.lease = lease
        self.links = links  # the client's manage link in every reminder (SPEC §11)

    def tick(self, stop: threading.Event | None = None) -> Counter[str]:
        """Send every reminder due now; returns counts by what happened to each.

        When `stop` is set (a shutdown), the send in progress finishes and the rest of
        the claimed batch goes back to the table for the next process, untouched.
        """
        counts: Counter[str] = Counter()
        for _ in range(MAX_BATCHES_PER_TICK):
            if stop is not None and stop.is_set():
                break
            batch = self.reminders.claim_due(self.clock(), self.lease, limit=self.batch_size)
            for index, due in enumerate(batch):
                if stop is not None and stop.is_set():
                    counts["released"] += self.reminders.release(batch[index:])
                    return counts
                # The batch's lease runs while earlier ones are sent: once half of it is
                # gone, renew this one's, so every send starts with at least half a lease.
                if utcnow() > due.lease_until - self.lease / 2:
                    renewed = self.reminders.renew(due, self.lease)
                    if renewed is None:
                        log.warning("reminder taken over by another dispatcher", extra=_ids(due))
                        counts["taken_over"] += 1
                        continue
                    due = renewed
                result = self._dispatch_safely(due)
                counts[result] += 1
                count_reminder_send(due.reminder.channel, result)
            if len(batch) < self.batch_size:
                break
        return counts

    def _dispatch_safely(self, due: DueReminder) -> str:
        try:
            return self._dispatch(due)
        except Exception as exc:  # one bad reminder must not stop the others
            log.exception(
                "reminder dispatch crashed; it will be retried",
                extra={"reminder_id": due.reminder.id, "request_id": due.reminder.request_id},
            )
            return self._retry(due, "exception", repr(exc), check_first=True)

    def _dispatch(self, due: DueReminder) -> str:
        reminder = due.reminder
        now = self.clock()
        if due.booking_status != BookingStatus.CONFIRMED:
            return self._done(due, ReminderStatus.CANCELLED, "booking_cancelled")
        if reminder.meeting_start != due.start:
            # The booking moved without its reminders being planned again: never send the
            # old time. (Moving a booking replans in the same transaction; this is a guard.)
            return self._done(due, ReminderStatus.CANCELLED, "booking_moved")
        if now >= due.start:
            # Due while no process ran, and found only after the meeting began: useless now.
            return self._done(due, ReminderStatus.SKIPPED, "meeting_started")
        if reminder.channel == ReminderChannel.SMS:
            return self._send_sms(due)
        return self._send_email(due)

    # ------------------------------------------------------------------ SMS

    def _send_sms(self, due: DueReminder) -> str:
        phone = due.client_phone
        if phone is None or not sms_allowed(phone, opted_in=True):
            return self._done(due, ReminderStatus.SKIPPED, "no_phone")
        if self.opt_outs.is_opted_out(phone):
            return self._done(due, ReminderStatus.SKIPPED, "opted_out")
        reminder = due.reminder
        assert reminder.id is not None
        message = TextMessage(
            key=f"sms:reminder:{_message_key(due)}",
            to=phone,
            body=render_sms(
                start=due.start,
                zone=due.client_timezone,
                rep=due.rep_email,
                video_url=due.video_url,
                manage_url=self.manage_url(due),
            ),
            status_callback=(
                self.callbacks.status_url(reminder.id, reminder.meeting_start)
                if self.callbacks
                else None
            ),
            request_id=reminder.request_id,
        )
        try:
            sid = None
            if reminder.check_before_send:
                sid = self.sms.find_sent(message, reminder.created_at)
                if sid is not None:
                    log.info(
                        "SMS reminder had already gone out",
                        extra={"reminder_id": reminder.id, "sid": sid},
                    )
            sid = sid or self.sms.send(message)
        except SmsError as error:
            count_integration_error(error)
            if error.permanent:
                if error.reason == UNSUBSCRIBED:
                    self.opt_outs.opt_out(phone, f"{self.sms.name}:{UNSUBSCRIBED}")
                return self._fail(due, error.code, error.message, to=phone)
            return self._retry(due, error.code, error.message, check_first=error.in_doubt)
        except IntegrationError as error:
            count_integration_error(error)
            return self._retry(due, error.code, error.message, check_first=True)
        return self._sent(due, sid)

    # ------------------------------------------------------------------ email

    def _send_email(self, due: DueReminder) -> str:
        reminder = due.reminder
        email = render_email(
            request_id=reminder.request_id,
            message_key=_message_key(due),
            to=due.client_email,
            name=due.client_name,
            start=due.start,
            zone=due.client_timezone,
            rep=due.rep_email,
            video_url=due.video_url,
            manage_url=self.manage_url(due),
        )
        try:
            # The sender keeps its own outbox claim and searches before a re-send, so a
            # retry here never emails twice.
            message_id = self.email.send(email)
        except IntegrationError as error:
            count_integration_error(error)
            if str(error.reason) in _PERMANENT_EMAIL_REASONS:
                return self._fail(due, error.code, error.message, to=due.client_email)
            return self._retry(due, error.code, error.message, check_first=False)
        return self._sent(due, message_id)

    def manage_url(self, due: DueReminder) -> str | None:
        if self.links is None:
            return None
        return self.links.url(due.reminder.booking_id, due.booking_version, due.end)

    # ------------------------------------------------------------------ outcomes

    def _sent(self, due: DueReminder, provider_id: str) -> str:
        if not self.reminders.mark_sent(due, provider_id, utcnow()):
            log.warning("reminder lease ran out while sending", extra=_ids(due))
        log.info(
            "reminder sent",
            extra={**_ids(due), "channel": due.reminder.channel, "provider_id": provider_id},
        )
        return "sent"

    def _done(self, due: DueReminder, status: ReminderStatus, code: str) -> str:
        self.reminders.mark_done(due, status, code)
        log.info(
            "reminder not sent",
            extra={
                **_ids(due),
                "channel": due.reminder.channel,
                "status": str(status),
                "why": code,
            },
        )
        return str(status)

    def _fail(self, due: DueReminder, code: str, detail: str, *, to: str) -> str:
        log.warning(
            "reminder refused for good",
            extra={**_ids(due), "channel": due.reminder.channel, "error": code},
        )
        # The thread first: a crash before the record leaves the claim to run out, the
        # next claimer meets the same refusal, and the note's key keeps it to one post.
        self.tell_thread(due.reminder.request_id, due.reminder.channel, to, due.start, detail)
        self.reminders.mark_done(due, ReminderStatus.FAILED, code, detail)
        return "failed"

    def _retry(self, due: DueReminder, code: str, detail: str, *, check_first: bool) -> str:
        attempts = due.reminder.attempts
        if attempts >= self.max_attempts:
            to = due.client_phone if due.reminder.channel == ReminderChannel.SMS else None
            why = f"gave up after {attempts} attempts; last error: {detail}"
            return self._fail(due, code, why, to=to or due.client_email)
        wait = RETRY_BACKOFF * 2 ** (attempts - 1)
        self.reminders.retry_later(due, self.clock() + wait, code, detail, check_first=check_first)
        log.warning(
            "reminder failed; retrying later",
            extra={
                **_ids(due),
                "channel": due.reminder.channel,
                "error": code,
                "attempt": attempts,
                "retry_in_seconds": int(wait.total_seconds()),
            },
        )
        return "retried"

    def tell_thread(
        self,
        request_id: str,
        channel: str,
        to: str,
        start: datetime,
        why: str,
        *,
        what: str = NOT_SENT,
    ) -> None:
        """Say in the booking's Slack thread (a booking made from an escalation) that a
        reminder could not be sent; bookings nobody escalated have no thread.
        """
        escalation = self.escalations.get_by_request(request_id)
        if escalation is None or not escalation.channel or not escalation.message_ts:
            return
        text = FAILURE_NOTE.format(
            channel="SMS" if channel == ReminderChannel.SMS else "email",
            to=to,
            ts=int(start.timestamp()),
            fallback=start.strftime("%Y-%m-%d %H:%M UTC"),
            what=what,
            why=why.rstrip("."),
        )
        try:
            self.chat.post_message(
                escalation.channel,
                text,
                [],
                dedupe_key=f"slack:reminder-failed:{request_id}:{channel}:{meeting_stamp(start)}",
                request_id=request_id,
                thread_ts=escalation.message_ts,
            )
        except Exception as exc:  # the failure is stored on the reminder already
            log.error(
                "could not tell Slack about a failed reminder",
                extra={"request_id": request_id, "error": repr(exc)},
            )


def _message_key(due: DueReminder) -> str:
    """Names one reminder message: the reminder, the meeting time it names and, once the
    booking has moved, its version — so a booking moved A→B→A is reminded of A again.
    """
    key = f"{due.reminder.id}@{meeting_stamp(due.reminder.meeting_start)}"
    return key if due.booking_version <= 1 else f"{key}/v{due.booking_version}"


def _ids(due: DueReminder) -> dict[str, object]:
    return {"reminder_id": due.reminder.id, "request_id": due.reminder.request_id}
