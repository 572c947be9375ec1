"""The per-process counters of `GET /metrics` (SPEC §7): integration failures that changed
an outcome, and what the reminder dispatcher did with each due reminder. The services count
here; `bot/metrics.py` serves them beside the gauges read from the database.
"""

from __future__ import annotations

from prometheus_client import Counter

from integrations.base import IntegrationError
from storage.statuses import ReminderChannel

# The dispatcher's verdicts on one due reminder (ReminderDispatcher._dispatch_safely).
REMINDER_RESULTS = ("sent", "retried", "failed", "skipped", "cancelled")


# `reason` is the provider's own error code (insufficientPermissions, channel_not_found,
# 21211…), a small fixed vocabulary; without it every Slack refusal would read "200".
INTEGRATION_ERRORS = Counter(
    "frontdesk_integration_errors",
    "External API calls that failed in a way that changed an outcome (a booking escalated, "
    "an escalation or SLA re-ping not posted, a reminder retried or failed), by provider, "
    "HTTP status (or timeout, network, exception…) and the provider's error code.",
    ["provider", "status", "reason"],
    registry=None,
)


REMINDER_SENDS = Counter(
    "frontdesk_reminder_sends",
    "Due reminders the dispatcher dealt with, by channel and result.",
    ["channel", "result"],
    registry=None,
)

BOOKING_PAGE_SPAM = Counter(
    "frontdesk_booking_page_spam",
    "Booking page posts that filled the hidden honeypot field: answered like a success, "
    "nothing stored.",
    registry=None,
)

# Every known series from the start, so rate() sees the first send, not a new series.
for _channel in ReminderChannel:
    for _result in REMINDER_RESULTS:
        REMINDER_SENDS.labels(_channel.value, _result)


def count_integration_error(error: IntegrationError) -> None:
    if error.posting_elsewhere:  # not a failure: the other worker records the outcome
        return
    INTEGRATION_ERRORS.labels(error.provider, str(error.status), str(error.reason)).inc()


def count_reminder_send(channel: str, result: str) -> None:
    REMINDER_SENDS.labels(channel, result).inc()
