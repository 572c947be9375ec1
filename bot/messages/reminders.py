"""What a reminder says: the SMS text and the reminder email, in the client's own zone.

When reminders are due is `bot/domain/reminders.py`; sending them is
`bot/services/reminder_dispatch.py`.
"""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.messages.confirmation import MANAGE_LINE, RESCHEDULE_HINT, VIDEO_LINE, local_time_label
from integrations.base import Confirmation

SMS_BODY = (
    "Reminder: your meeting with {rep} is on {when}.{video} "
    "To change it, reply to the confirmation email. Reply STOP to opt out."
)
# With a manage link (SPEC §11): the link instead of the way round by email, kept short.
SMS_BODY_WITH_LINK = (
    "Reminder: your meeting with {rep} is on {when}.{video} Change or cancel: {manage} "
    "Reply STOP to opt out."
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


def _short_when(start: datetime, zone: str) -> str:
    """ "Tue 1 Dec at 2:00 PM MST": short enough for one SMS segment with the rest."""
    local = start.astimezone(ZoneInfo(zone))
    hour = local.strftime("%I").lstrip("0")
    return f"{local:%a} {local.day} {local:%b} at {hour}:{local:%M %p} {local.tzname()}"


def render_sms(
    *, start: datetime, zone: str, rep: str, video_url: str | None, manage_url: str | None = None
) -> str:
    video = f" Join: {video_url}" if video_url else ""
    when = _short_when(start, zone)
    if manage_url:
        return SMS_BODY_WITH_LINK.format(rep=rep, when=when, video=video, manage=manage_url)
    return SMS_BODY.format(rep=rep, when=when, video=video)


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
    manage_url: str | None = None,
) -> Confirmation:
    when = local_time_label(start, zone)
    lines = [line.format(name=name, when=when, zone=zone, rep=rep) for line in EMAIL_LINES]
    if video_url:
        lines.append(VIDEO_LINE.format(url=video_url))
    hint = MANAGE_LINE.format(url=manage_url) if manage_url else RESCHEDULE_HINT
    lines += ["", hint, "", f"Reference: {request_id}"]
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
