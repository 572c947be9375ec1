"""The confirmation email a client receives after a booking, in the client's own zone."""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo

from integrations.base import Confirmation
from storage.models import StoredBooking, StoredRequest

RESCHEDULE_HINT = (
    "Need another time? Reply to this email with a time that suits you, or submit the "
    'booking form again and mention "reschedule"; a person will sort it out.'
)


def local_time_label(instant: datetime, zone: str) -> str:
    """ "Tuesday 1 December 2026, 2:00 PM MST" in the given zone."""
    local = instant.astimezone(ZoneInfo(zone))
    hour = local.strftime("%I").lstrip("0")
    return f"{local:%A} {local.day} {local:%B %Y}, {hour}:{local:%M %p} {local.tzname()}"


def render_confirmation(
    request: StoredRequest,
    booking: StoredBooking,
    *,
    rep_timezone: str,
    attach_ics: bool,
) -> Confirmation:
    """The client's confirmation of a booked meeting; `attach_ics` adds the invitation."""
    request_id, to, client_name = request.id, request.email, request.name
    client_zone, start = request.timezone, booking.start
    duration_minutes = int((booking.end - booking.start).total_seconds() // 60)
    rep_name, video_url = booking.rep_email, booking.video_url
    when = local_time_label(start, client_zone)
    lines = [
        f"Hi {client_name},",
        "",
        f"Your meeting with {rep_name} is booked for {when} ({duration_minutes} minutes).",
    ]
    if video_url:
        lines.append(f"Join by video: {video_url}")
    lines += ["", RESCHEDULE_HINT, "", f"Reference: {request_id}"]
    text_body = "\n".join(lines)
    html_body = "".join(f"<p>{html.escape(line)}</p>" for line in lines if line)
    return Confirmation(
        request_id=request_id,
        to=to,
        client_name=client_name,
        subject=f"Confirmed: your meeting on {when}",
        text_body=text_body,
        html_body=html_body,
    )
