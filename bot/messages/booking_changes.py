"""What a cancel or a move says (SPEC §11): the client's emails (with the updated or
cancelled `.ics`), the notes to the rep or the escalation's thread in Slack, the account
owner's DM for a VIP's move, and the wording of the manage page.
"""

from __future__ import annotations

import base64
import html
from datetime import UTC, datetime

from icalendar import Calendar, Event, vCalAddress
from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, SectionBlock
from slack_sdk.models.blocks.basic_components import MarkdownTextObject

from bot.messages.blocks import escape, slack_date
from bot.messages.confirmation import (
    GREETING,
    ICS_FALLBACK_UID,
    ICS_FILENAME,
    ICS_PRODID,
    ICS_SUMMARY,
    REFERENCE_LINE,
    VIDEO_LINE,
    WHEN_LINE,
    WITH_LINE,
    ics_attachment,
    local_time_label,
    manage_paragraph,
)
from bot.messages.ids import ActionId
from integrations.base import Confirmation
from storage.models import StoredBooking, StoredRequest

# ------------------------------------------------------------------ emails to the client

MOVED_SUBJECT = "Moved: your meeting is now on {when}"
MOVED_LINE = "Your meeting has moved to a new time."
MOVED_INVITE = "The attached invitation ({filename}) updates the meeting in your calendar."
MOVED_INVITE_FROM_REP = "An updated calendar invitation from {rep} follows in a separate email."
MANAGE_AGAIN = "Need to change it again? Use this link (the one in earlier emails no longer works):"
CANCELLED_SUBJECT = "Cancelled: your meeting on {when}"
CANCELLED_LINE = "Your meeting on {when} with {rep} is cancelled."
CANCELLED_INVITE = "The attached file ({filename}) removes it from your calendar."
CANCELLED_FROM_REP = "{rep}'s calendar also sends you a cancellation."
BOOK_AGAIN = "If you would like to meet another time, just reply to this email."

ICS_CANCEL_CONTENT_TYPE = "text/calendar; charset=utf-8; method=CANCEL"


def render_moved(
    request: StoredRequest, booking: StoredBooking, *, attach_ics: bool, manage_url: str | None
) -> Confirmation:
    """The client's email about a move: the new time in their zone, the updated invitation
    (same UID, SEQUENCE raised) unless the provider sends its own, and the new link.
    """
    when = local_time_label(booking.start, request.timezone)
    invite = (
        MOVED_INVITE.format(filename=ICS_FILENAME)
        if attach_ics
        else MOVED_INVITE_FROM_REP.format(rep=booking.rep_email)
    )
    lines = [
        GREETING.format(name=request.name),
        "",
        MOVED_LINE,
        "",
        WHEN_LINE.format(when=when, zone=request.timezone),
        WITH_LINE.format(rep=booking.rep_email),
    ]
    if booking.video_url:
        lines.append(VIDEO_LINE.format(url=booking.video_url))
    lines += ["", invite]
    if manage_url:
        lines += ["", MANAGE_AGAIN, manage_url]
    lines += ["", REFERENCE_LINE.format(request_id=request.id)]
    html_parts = [f"<p>{html.escape(line)}</p>" for line in lines if line and line != manage_url]
    if manage_url:
        html_parts.insert(-1, manage_paragraph(manage_url))
    return Confirmation(
        request_id=request.id,
        to=request.email,
        client_name=request.name,
        subject=MOVED_SUBJECT.format(when=when),
        text_body="\n".join(lines),
        html_body="".join(html_parts),
        attachments=(ics_attachment(request, booking),) if attach_ics else (),
        tag="rescheduled",
        message_key=f"{booking.id}/v{booking.version}",
    )


def render_cancelled(
    request: StoredRequest, booking: StoredBooking, *, attach_ics: bool
) -> Confirmation:
    """The client's email about a cancellation, with a METHOD:CANCEL `.ics` of the same
    UID when we sent the invitation (Google, the sandbox); Microsoft tells them itself.
    """
    when = local_time_label(booking.start, request.timezone)
    rep = booking.rep_email
    lines = [
        GREETING.format(name=request.name),
        "",
        CANCELLED_LINE.format(when=when, rep=rep),
        "",
        CANCELLED_INVITE.format(filename=ICS_FILENAME)
        if attach_ics
        else CANCELLED_FROM_REP.format(rep=rep),
        "",
        BOOK_AGAIN,
        "",
        REFERENCE_LINE.format(request_id=request.id),
    ]
    attachments: tuple[dict[str, str], ...] = ()
    if attach_ics:
        content = base64.b64encode(ics_cancellation(request, booking)).decode("ascii")
        attachments = (
            {"Name": ICS_FILENAME, "Content": content, "ContentType": ICS_CANCEL_CONTENT_TYPE},
        )
    return Confirmation(
        request_id=request.id,
        to=request.email,
        client_name=request.name,
        subject=CANCELLED_SUBJECT.format(when=when),
        text_body="\n".join(lines),
        html_body="".join(f"<p>{html.escape(line)}</p>" for line in lines if line),
        attachments=attachments,
        tag="cancellation",
        message_key=str(booking.id),
    )


def ics_cancellation(request: StoredRequest, booking: StoredBooking) -> bytes:
    """An iTIP CANCEL of the booked event: its UID, a SEQUENCE above every invitation sent
    for it (the booking's version), STATUS:CANCELLED.
    """
    rep = booking.rep_email
    organizer = vCalAddress(f"mailto:{rep}")
    organizer.params["CN"] = rep
    attendee = vCalAddress(f"mailto:{request.email}")
    attendee.params["CN"] = request.name
    event = Event()
    event.add("uid", booking.ical_uid or ICS_FALLBACK_UID.format(request_id=request.id))
    event.add("dtstamp", (booking.cancelled_at or datetime.now(UTC)).astimezone(UTC))
    event.add("dtstart", booking.start.astimezone(UTC))
    event.add("dtend", booking.end.astimezone(UTC))
    event.add("summary", ICS_SUMMARY.format(rep=rep))
    event.add("organizer", organizer)
    event.add("attendee", attendee)
    event.add("sequence", booking.version)
    event.add("status", "CANCELLED")
    calendar = Calendar()
    calendar.add("prodid", ICS_PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL")
    calendar.add_component(event)
    ical: bytes = calendar.to_ical()
    return ical


# ------------------------------------------------------------------ Slack

CANCELLED_NOTE = ":x: {client} cancelled the meeting on {when} with {rep}.{reason}"
CANCELLED_REASON = " Reason: “{reason}”"
MOVED_NOTE = ":arrows_counterclockwise: {client} moved the meeting with {rep} from {old} to {new}."
CHANGE_FAILED_NOTE = (
    ":warning: {client} asked to {what} the meeting on {when}, but it could not be done "
    "automatically: {error}. Nothing was changed and the client was told we will confirm "
    "shortly; please do it by hand."
)
EMAIL_FAILED_NOTE = (
    ":warning: The meeting of {client} was {what}, but the client was NOT emailed: {error}. "
    "Please tell them by hand."
)
VIP_MOVE_TEXT = "{client} asks to move their meeting from {old} to {new}."
VIP_MOVE_HINT = "Book moves the meeting (calendar, email and reminders); or reply to the client."
BOOK_MOVE = "Book"
WHAT_CANCEL = "cancel"
WHAT_MOVE = "move"


def _who(request: StoredRequest) -> str:
    company = f" ({request.company})" if request.company else ""
    return escape(f"{request.name}{company}")


def cancelled_note(request: StoredRequest, booking: StoredBooking, reason: str | None) -> str:
    return CANCELLED_NOTE.format(
        client=_who(request),
        when=slack_date(booking.start, request.timezone),
        rep=booking.rep_email,
        reason=CANCELLED_REASON.format(reason=escape(reason)) if reason else "",
    )


def moved_note(request: StoredRequest, booking: StoredBooking, old_start: datetime) -> str:
    return MOVED_NOTE.format(
        client=_who(request),
        rep=booking.rep_email,
        old=slack_date(old_start, request.timezone),
        new=slack_date(booking.start, request.timezone),
    )


def change_failed_note(
    request: StoredRequest, booking: StoredBooking, what: str, error: str
) -> str:
    return CHANGE_FAILED_NOTE.format(
        client=_who(request),
        what=what,
        when=slack_date(booking.start, request.timezone),
        error=escape(error),
    )


def change_failed_detail(
    request: StoredRequest, booking: StoredBooking, what: str, error: str
) -> str:
    """The same, as plain text for an escalation's detail line (shown escaped)."""
    return CHANGE_FAILED_NOTE.removeprefix(":warning: ").format(
        client=f"{request.name}" + (f" ({request.company})" if request.company else ""),
        what=what,
        when=local_time_label(booking.start, request.timezone),
        error=error,
    )


def email_failed_note(request: StoredRequest, what: str, error: str) -> str:
    return EMAIL_FAILED_NOTE.format(client=_who(request), what=what, error=escape(error))


def move_button_value(booking: StoredBooking, start: datetime) -> str:
    """What the owner's Book button carries: the booking, its version, the new start."""
    return f"{booking.id}:{booking.version}:{int(start.timestamp())}"


def parse_move_button(value: str) -> tuple[int, int, datetime]:
    booking_id, version, unix = (int(part) for part in value.split(":"))
    return booking_id, version, datetime.fromtimestamp(unix, UTC)


def vip_move_blocks(
    request: StoredRequest, booking: StoredBooking, start: datetime
) -> tuple[str, list[Block]]:
    """The account owner's DM: the client's requested slot and a Book button."""
    text = VIP_MOVE_TEXT.format(
        client=_who(request),
        old=slack_date(booking.start, request.timezone),
        new=slack_date(start, request.timezone),
    )
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"{text}\n{VIP_MOVE_HINT}")),
        ActionsBlock(
            block_id=f"manage_move:{booking.id}",
            elements=[
                ButtonElement(
                    text=BOOK_MOVE,
                    action_id=ActionId.MOVE_BOOK,
                    value=move_button_value(booking, start),
                    style="primary",
                )
            ],
        ),
    ]
    return text, blocks


def vip_moved_text(request: StoredRequest, start: datetime, user: str) -> str:
    return f"Moved by <@{user}> to {slack_date(start, request.timezone)}."
