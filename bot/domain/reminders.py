"""Reminders to clients before their meeting: which ones a booking gets and when they are
due, counted in the client's zone. Pure.

`plan_reminders` decides, when a booking is confirmed; `bot/services/reminder_dispatch.py`
sends the due ones; `bot/messages/reminders.py` says what they say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.domain.config import RemindersConfig
from bot.domain.slots import local_instant

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
DAY_MINUTES = 24 * 60

# Skip reasons recorded on a reminder that is not sent.
BOOKED_INSIDE_WINDOW = "booked_inside_window"

# The channels, as stored (storage.statuses.ReminderChannel has the same values).
EMAIL = "email"
SMS = "sms"


@dataclass(frozen=True)
class PlannedReminder:
    """A reminder the booking should get; `skip_reason` records one that is not useful."""

    channel: str
    due_at: datetime
    skip_reason: str | None = None


def due_time(start: datetime, before_minutes: int, zone: str) -> datetime:
    """When a reminder `before_minutes` ahead of `start` is due, counted in the client's
    zone: whole days are calendar days, so a 09:00 meeting's "24 h" reminder comes at
    09:00 local the day before, also across a DST change (which makes that 23 or 25 real
    hours); what is left over is exact minutes.
    """
    days, minutes = divmod(before_minutes, DAY_MINUTES)
    if days:
        tz = ZoneInfo(zone)
        local = start.astimezone(tz)
        day = local.date() - timedelta(days=days)
        start = local_instant(day, local.timetz().replace(tzinfo=None), tz)
    return start.astimezone(UTC) - timedelta(minutes=minutes)


def sms_allowed(phone: str | None, opted_in: bool) -> bool:
    return bool(opted_in and phone and E164.match(phone))


def plan_reminders(
    settings: RemindersConfig,
    *,
    start: datetime,
    client_timezone: str,
    phone: str | None,
    sms_opt_in: bool,
    now: datetime,
) -> list[PlannedReminder]:
    """The reminders a booking gets: email always, SMS with an E.164 phone and opt-in; a
    `*_before_minutes` of 0 turns that channel off. A reminder already due when the meeting
    is booked (a meeting inside the window) is recorded as skipped: the confirmation has
    just told the client the same thing.
    """
    wanted = [(EMAIL, settings.email_before_minutes)]
    if sms_allowed(phone, sms_opt_in):
        wanted.append((SMS, settings.sms_before_minutes))
    plan = []
    for channel, before in wanted:
        if before <= 0:
            continue
        due = due_time(start, before, client_timezone)
        plan.append(PlannedReminder(channel, due, BOOKED_INSIDE_WINDOW if due <= now else None))
    return plan
