"""The confirmation email a client receives after a booking, in the client's own zone, with
the calendar invitation (.ics) when the calendar provider does not send one itself.
"""

from __future__ import annotations

import base64
import html
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress

from integrations.base import Confirmation
from storage.models import StoredBooking, StoredRequest

SUBJECT = "Confirmed: your meeting on {when}"
GREETING = "Hi {name},"
BOOKED = "Your meeting is confirmed."
WHEN_LINE = "When: {when} ({zone})"
LENGTH_LINE = "Length: {minutes} minutes"
WITH_LINE = "With: {rep}"
VIDEO_LINE = "Join by video: {url}"
INVITE_ATTACHED = "The attached invitation ({filename}) adds the meeting to your calendar."
INVITE_FROM_REP = "A calendar invitation from {rep} follows in a separate email."
RESCHEDULE_HINT = (
    "Need another time? Reply to this email with a time that suits you, or submit the "
    'booking form again and mention "reschedule"; a person will sort it out.'
)
REFERENCE_LINE = "Reference: {request_id}"
# SPEC §11: every confirmation and reminder carries the client's manage link.
MANAGE_LINE = "Need to cancel or pick another time? {url}"

ICS_FILENAME = "invite.ics"
ICS_CONTENT_TYPE = "text/calendar; charset=utf-8; method=REQUEST"
ICS_PRODID = "-//Frontdesk//Booking confirmation//EN"
ICS_SUMMARY = "Meeting with {rep}"
# Used only when the provider gave no iCalUID: stable per request, so a re-rendered
# invitation updates the same calendar entry instead of adding a second one.
ICS_FALLBACK_UID = "{request_id}@frontdesk"


def local_time_label(instant: datetime, zone: str) -> str:
    """ "Tuesday 1 December 2026, 2:00 PM MST" in the given zone."""
    local = instant.astimezone(ZoneInfo(zone))
    hour = local.strftime("%I").lstrip("0")
    return f"{local:%A} {local.day} {local:%B %Y}, {hour}:{local:%M %p} {local.tzname()}"


def render_confirmation(
    request: StoredRequest,
    booking: StoredBooking,
    *,
    attach_ics: bool,
    manage_url: str | None = None,
) -> Confirmation:
    """The client's confirmation of a booked meeting, all in the client's own zone;
    `attach_ics` adds the invitation, `manage_url` the link to cancel or reschedule.
    """
    when = local_time_label(booking.start, request.timezone)
    minutes = int((booking.end - booking.start).total_seconds() // 60)
    rep = booking.rep_email
    invite = (
        INVITE_ATTACHED.format(filename=ICS_FILENAME)
        if attach_ics
        else INVITE_FROM_REP.format(rep=rep)
    )
    details = [
        WHEN_LINE.format(when=when, zone=request.timezone),
        LENGTH_LINE.format(minutes=minutes),
        WITH_LINE.format(rep=rep),
    ]
    text_lines = [
        GREETING.format(name=request.name),
        "",
        BOOKED,
        "",
        *details,
    ]
    if booking.video_url:
        text_lines.append(VIDEO_LINE.format(url=booking.video_url))
    hint = MANAGE_LINE.format(url=manage_url) if manage_url else RESCHEDULE_HINT
    text_lines += [
        "",
        invite,
        "",
        hint,
        "",
        REFERENCE_LINE.format(request_id=request.id),
    ]

    attachments = (ics_attachment(request, booking),) if attach_ics else ()
    return Confirmation(
        request_id=request.id,
        to=request.email,
        client_name=request.name,
        subject=SUBJECT.format(when=when),
        text_body="\n".join(text_lines),
        html_body=_html_body(request, booking, details, invite, manage_url),
        attachments=attachments,
    )


def _html_body(
    request: StoredRequest,
    booking: StoredBooking,
    details: list[str],
    invite: str,
    manage_url: str | None = None,
) -> str:
    def paragraph(text: str) -> str:
        return f"<p>{html.escape(text)}</p>"

    items = [f"<li>{html.escape(line)}</li>" for line in details]
    if booking.video_url:
        url = html.escape(booking.video_url, quote=True)
        link = f'<a href="{url}">{url}</a>'
        items.append(f"<li>{html.escape(VIDEO_LINE).format(url=link)}</li>")
    return "".join(
        [
            paragraph(GREETING.format(name=request.name)),
            paragraph(BOOKED),
            f"<ul>{''.join(items)}</ul>",
            paragraph(invite),
            manage_paragraph(manage_url) if manage_url else paragraph(RESCHEDULE_HINT),
            paragraph(REFERENCE_LINE.format(request_id=request.id)),
        ]
    )


def manage_paragraph(url: str) -> str:
    """The manage line as HTML, its URL a link."""
    link = html.escape(url, quote=True)
    anchor = f'<a href="{link}">{link}</a>'
    return f"<p>{html.escape(MANAGE_LINE).format(url=anchor)}</p>"


def ics_attachment(request: StoredRequest, booking: StoredBooking) -> dict[str, str]:
    """The invitation as a Postmark attachment (base64 content)."""
    content = base64.b64encode(ics_invitation(request, booking)).decode("ascii")
    return {"Name": ICS_FILENAME, "Content": content, "ContentType": ICS_CONTENT_TYPE}


def ics_invitation(request: StoredRequest, booking: StoredBooking) -> bytes:
    """An iTIP REQUEST for the booked event, with the provider's UID so the client's calendar
    files it as the same meeting the rep has (and an RSVP lands on the rep's event).
    """
    rep = booking.rep_email
    organizer = vCalAddress(f"mailto:{rep}")
    organizer.params["CN"] = rep
    attendee = vCalAddress(f"mailto:{request.email}")
    attendee.params.update(
        {
            "CN": request.name,
            "CUTYPE": "INDIVIDUAL",
            "ROLE": "REQ-PARTICIPANT",
            "PARTSTAT": "NEEDS-ACTION",
            "RSVP": "TRUE",
        }
    )
    description = [RESCHEDULE_HINT, REFERENCE_LINE.format(request_id=request.id)]
    event = Event()
    event.add("uid", booking.ical_uid or ICS_FALLBACK_UID.format(request_id=request.id))
    # The moment the event was made, not the moment of rendering: a re-rendered invitation
    # is then byte-for-byte the same one.
    event.add("dtstamp", (booking.confirmed_at or booking.created_at).astimezone(UTC))
    event.add("dtstart", booking.start.astimezone(UTC))
    event.add("dtend", booking.end.astimezone(UTC))
    event.add("summary", ICS_SUMMARY.format(rep=rep))
    event.add("organizer", organizer)
    event.add("attendee", attendee)
    # Raised by every move (the booking's version), so calendars replace the old time.
    event.add("sequence", booking.version - 1)
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    if booking.video_url:
        event.add("location", booking.video_url)
        event.add("url", booking.video_url)
        description.insert(0, VIDEO_LINE.format(url=booking.video_url))
    event.add("description", "\n\n".join(description))

    calendar = Calendar()
    calendar.add("prodid", ICS_PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "REQUEST")
    calendar.add_component(event)
    ical: bytes = calendar.to_ical()
    return ical
