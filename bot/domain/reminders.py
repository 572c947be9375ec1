"""Reminders to clients before their meeting: when they are due, and what they say.

`plan_reminders` decides, when a booking is confirmed, which reminders it gets and when;
`ReminderDispatcher` (bot/reminder_dispatch.py) sends the due ones.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import RemindersConfig
from bot.domain.slots import local_instant
from bot.messages.confirmation import RESCHEDULE_HINT, VIDEO_LINE, local_time_label
from integrations.base import Confirmation
from storage.models import ReminderChannel
from storage.repositories import PlannedReminder

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
DAY_MINUTES = 24 * 60

# Skip reasons recorded on a reminder that is not sent.
BOOKED_INSIDE_WINDOW = "booked_inside_window"

SMS_BODY = (
    "Reminder: your meeting with {rep} is on {when}.{video} "
    "To change it, reply to the confirmation email. Reply STOP to opt out."
)
EMAIL_SUBJECT = "Reminder: your meeting on {when}"
EMAIL_LINES = (
    "Hi {name},",
    "",
    "This is a reminder of your meeting.",
    "",
    "When: {when} ({zone})",
    "With: {rep}",
)


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
    wanted = [(ReminderChannel.EMAIL, settings.email_before_minutes)]
    if sms_allowed(phone, sms_opt_in):
        wanted.append((ReminderChannel.SMS, settings.sms_before_minutes))
    plan = []
    for channel, before in wanted:
        if before <= 0:
            continue
        due = due_time(start, before, client_timezone)
        plan.append(PlannedReminder(channel, due, BOOKED_INSIDE_WINDOW if due <= now else None))
    return plan


def _short_when(start: datetime, zone: str) -> str:
    """ "Tue 1 Dec at 2:00 PM MST": short enough for one SMS segment with the rest."""
    local = start.astimezone(ZoneInfo(zone))
    hour = local.strftime("%I").lstrip("0")
    return f"{local:%a} {local.day} {local:%b} at {hour}:{local:%M %p} {local.tzname()}"


def render_sms(*, start: datetime, zone: str, rep: str, video_url: str | None) -> str:
    video = f" Join: {video_url}" if video_url else ""
    return SMS_BODY.format(rep=rep, when=_short_when(start, zone), video=video)


def render_email(
    *,
    request_id: str,
    message_key: str,
    to: str,
    name: str,
    start: datetime,
    zone: str,
    rep: str,
    video_url: str | None,
) -> Confirmation:
    when = local_time_label(start, zone)
    lines = [line.format(name=name, when=when, zone=zone, rep=rep) for line in EMAIL_LINES]
    if video_url:
        lines.append(VIDEO_LINE.format(url=video_url))
    lines += ["", RESCHEDULE_HINT, "", f"Reference: {request_id}"]
    text = "\n".join(lines)
    html_body = "".join(f"<p>{html.escape(line)}</p>" for line in lines if line)
    return Confirmation(
        request_id=request_id,
        to=to,
        client_name=name,
        subject=EMAIL_SUBJECT.format(when=when),
        text_body=text,
        html_body=html_body,
        tag="reminder",
        message_key=message_key,
    )
