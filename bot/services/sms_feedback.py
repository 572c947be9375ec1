"""What Twilio tells us after a send: delivery reports, and clients texting STOP/START.

Twilio's own STOP handling already blocks further messages to a number that texted STOP
(and answers the client); recording the opt-out here keeps us from trying at all, and
from counting those refusals (error 21610) as failures.
"""

from __future__ import annotations

import logging

from bot.services.reminder_dispatch import SENT_NOT_DELIVERED, UNSUBSCRIBED, ReminderDispatcher
from storage.models import ReminderChannel, ReminderStatus, StoredReminder, utcnow
from storage.repositories import OptOutRepository, ReminderRepository, RequestRepository

log = logging.getLogger("frontdesk.sms")

# Twilio's default opt-out and opt-in keywords (the whole message, any case).
OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
OPT_IN_WORDS = {"START", "YES", "UNSTOP"}
DELIVERED = {"delivered", "read"}
NOT_DELIVERED = {"undelivered", "failed", "canceled"}

# Twilio's delivery error codes, in words for the Slack thread.
DELIVERY_ERRORS = {
    "30003": "the phone is unreachable or switched off",
    "30004": "the message was blocked by the recipient or their carrier",
    "30005": "the number is unknown or no longer exists",
    "30006": "the number is a landline or cannot receive SMS",
    "30007": "the carrier filtered the message",
    "30008": "the carrier reported an unknown error",
    UNSUBSCRIBED: "the client has unsubscribed (replied STOP)",
}


class SmsFeedback:
    def __init__(
        self,
        reminders: ReminderRepository,
        requests: RequestRepository,
        opt_outs: OptOutRepository,
        dispatcher: ReminderDispatcher,
    ) -> None:
        self.reminders = reminders
        self.requests = requests
        self.opt_outs = opt_outs
        self.dispatcher = dispatcher

    def delivery_report(
        self,
        *,
        reminder_id: int | None,
        meeting: str | None,
        sid: str,
        status: str,
        error_code: str | None,
    ) -> bool:
        """Record a status callback; False when it names no reminder of ours."""
        status = status.lower()
        reminder = self.reminders.record_delivery(
            reminder_id=reminder_id,
            meeting=meeting,
            provider_id=sid,
            provider_status=status,
            error_code=error_code,
            delivered=status in DELIVERED,
            failed=status in NOT_DELIVERED,
            at=utcnow(),
        )
        if reminder is None:
            log.warning(
                "delivery report for an unknown message",
                extra={"sid": sid, "reminder_id": reminder_id, "status": status},
            )
            return False
        log.info(
            "SMS delivery report",
            extra={
                "reminder_id": reminder.id,
                "sid": sid,
                "status": status,
                "error_code": error_code,
            },
        )
        if status in NOT_DELIVERED and reminder.status == ReminderStatus.FAILED:
            self._not_delivered(reminder, error_code, status)
        return True

    def _not_delivered(self, reminder: StoredReminder, error_code: str | None, status: str) -> None:
        request = self.requests.get(reminder.request_id)
        phone = request.phone if request is not None else None
        if error_code == UNSUBSCRIBED and phone:
            self.opt_outs.opt_out(phone, f"twilio:{UNSUBSCRIBED}")
        why = DELIVERY_ERRORS.get(error_code or "", f"Twilio reported it {status}")
        if error_code:
            why = f"{why} (Twilio {error_code})"
        self.dispatcher.tell_thread(
            reminder.request_id,
            ReminderChannel.SMS,
            phone or "the client",
            reminder.meeting_start,
            why,
            what=SENT_NOT_DELIVERED,
        )

    def inbound(self, phone: str, body: str, opt_out_type: str | None = None) -> str | None:
        """A client texted us: STOP-like words opt them out, START-like words back in.
        With Twilio's Advanced Opt-Out (custom or other-language keywords) Twilio says
        which it was in `OptOutType`, which then decides. Returns what was done, for the
        log and the test, or None for any other text.
        """
        word = (opt_out_type or body).strip().upper()
        if word in OPT_OUT_WORDS:
            self.opt_outs.opt_out(phone, f"inbound:{word}")
            log.info("client opted out of SMS", extra={"phone": phone, "word": word})
            return "opted_out"
        if word in OPT_IN_WORDS:
            if self.opt_outs.opt_in(phone):
                log.info("client opted back in to SMS", extra={"phone": phone})
            return "opted_in"
        log.info("inbound SMS ignored (not a keyword)", extra={"phone": phone})
        return None
