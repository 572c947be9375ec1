"""The client's confirmation: time in the client's own zone with its abbreviation, the
details they need, and an .ics invitation that files as the rep's own event.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar, Component

from bot.messages.confirmation import (
    ICS_CONTENT_TYPE,
    ICS_FILENAME,
    RESCHEDULE_HINT,
    local_time_label,
    render_confirmation,
)
from integrations.base import Confirmation
from storage.models import StoredBooking, StoredRequest

REP = "alice@ourco.example"
ICAL_UID = "7kukuqrfedlm2f9t0vt3o2d9nc@google.com"
VIDEO = "https://meet.google.com/abc-defg-hij"


def make_request(zone: str, *, name: str = "Dana Reyes", start: datetime) -> StoredRequest:
    return StoredRequest(
        id="req_01TESTCONFIRM",
        idempotency_key="typeform-8d1f",
        body_sha256="0" * 64,
        name=name,
        email="dana@majorclient.com",
        timezone=zone,
        requested_start=start,
        duration_minutes=30,
    )


def make_booking(
    request: StoredRequest, *, ical_uid: str | None = ICAL_UID, video_url: str | None = VIDEO
) -> StoredBooking:
    assert request.requested_start is not None
    start = request.requested_start
    return StoredBooking(
        id=1,
        request_id=request.id,
        rep_email=REP,
        provider="google",
        calendar_id=REP,
        status="confirmed",
        start=start,
        end=start + timedelta(minutes=request.duration_minutes),
        client_timezone=request.timezone,
        event_id="7kukuqrfedlm2f9t0vt3o2d9nc",
        ical_uid=ical_uid,
        video_url=video_url,
        created_at=start - timedelta(days=7),
        confirmed_at=start - timedelta(days=7, seconds=-2),
    )


def render(
    zone: str, start: datetime, *, attach_ics: bool = True, **booking: str | None
) -> tuple[Confirmation, StoredRequest, StoredBooking]:
    request = make_request(zone, start=start)
    stored = make_booking(request, **booking)
    message = render_confirmation(request, stored, attach_ics=attach_ics)
    return message, request, stored


def parsed_event(message: Confirmation) -> tuple[Calendar, Component]:
    [attachment] = message.attachments
    calendar = Calendar.from_ical(base64.b64decode(attachment["Content"]))
    [event] = calendar.walk("VEVENT")
    return calendar, event


# ------------------------------------------------------------------ the client's local time


@pytest.mark.parametrize(
    ("start", "label"),
    [
        # Arizona keeps MST all year: 14:00 local is 21:00Z in winter and in summer.
        (datetime(2026, 12, 1, 21, 0, tzinfo=UTC), "Tuesday 1 December 2026, 2:00 PM MST"),
        (datetime(2026, 7, 14, 21, 0, tzinfo=UTC), "Tuesday 14 July 2026, 2:00 PM MST"),
    ],
)
def test_a_phoenix_client_sees_mst_in_winter_and_summer(start: datetime, label: str) -> None:
    message, _, _ = render("America/Phoenix", start)

    assert label in message.subject
    assert f"When: {label} (America/Phoenix)" in message.text_body
    _, event = parsed_event(message)
    assert event.decoded("DTSTART") == start
    assert event.to_ical().decode().count(f"DTSTART:{start:%Y%m%dT%H%M%SZ}") == 1


def test_a_sydney_client_sees_aedt_and_a_kolkata_client_ist() -> None:
    instant = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)

    sydney, _, _ = render("Australia/Sydney", instant)
    kolkata, _, _ = render("Asia/Kolkata", instant)

    assert "Tuesday 1 December 2026, 2:00 PM AEDT" in sydney.text_body
    assert "Tuesday 1 December 2026, 8:30 AM IST" in kolkata.text_body
    assert local_time_label(instant, "Australia/Sydney") in sydney.subject


def test_the_body_carries_length_rep_video_rescheduling_and_reference() -> None:
    message, request, _ = render("America/Phoenix", datetime(2026, 12, 1, 21, tzinfo=UTC))

    assert message.to == "dana@majorclient.com"
    assert message.request_id == request.id
    for text in (
        "Hi Dana Reyes,",
        "Length: 30 minutes",
        f"With: {REP}",
        f"Join by video: {VIDEO}",
        RESCHEDULE_HINT,
        f"Reference: {request.id}",
        ICS_FILENAME,
    ):
        assert text in message.text_body
    assert f'<a href="{VIDEO}">{VIDEO}</a>' in message.html_body
    assert "Reference: req_01TESTCONFIRM" in message.html_body


def test_no_video_link_means_no_video_line_and_no_location() -> None:
    message, _, _ = render("America/Phoenix", datetime(2026, 12, 1, 21, tzinfo=UTC), video_url=None)

    assert "Join by video" not in message.text_body
    assert "<a " not in message.html_body
    _, event = parsed_event(message)
    assert "LOCATION" not in event
    assert "URL" not in event


def test_html_escapes_a_hostile_client_name() -> None:
    request = make_request(
        "America/Phoenix",
        name='<script>alert("x")</script> & Co',
        start=datetime(2026, 12, 1, 21, tzinfo=UTC),
    )

    message = render_confirmation(request, make_booking(request), attach_ics=True)

    assert "<script>" not in message.html_body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; Co" in message.html_body
    assert '<script>alert("x")</script> & Co' in message.text_body  # plain text stays plain
    _, event = parsed_event(message)
    assert event["ATTENDEE"].params["CN"] == '<script>alert("x")</script> & Co'


# ------------------------------------------------------------------ the invitation


def test_the_ics_is_a_request_for_the_providers_event() -> None:
    start = datetime(2026, 12, 1, 21, tzinfo=UTC)
    message, request, booking = render("America/Phoenix", start)

    [attachment] = message.attachments
    assert attachment["Name"] == ICS_FILENAME
    assert (
        attachment["ContentType"]
        == ICS_CONTENT_TYPE
        == ("text/calendar; charset=utf-8; method=REQUEST")
    )
    calendar, event = parsed_event(message)
    assert calendar["METHOD"] == "REQUEST"
    assert calendar["VERSION"] == "2.0"
    assert event["UID"] == ICAL_UID
    assert event.decoded("DTSTART") == start
    assert event.decoded("DTEND") == start + timedelta(minutes=30)
    assert event.decoded("DTSTAMP") == booking.confirmed_at
    assert event["SEQUENCE"] == 0
    assert str(event["ORGANIZER"]) == f"mailto:{REP}"
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:dana@majorclient.com"
    assert attendee.params["CN"] == request.name
    assert attendee.params["RSVP"] == "TRUE"
    assert event["LOCATION"] == VIDEO
    assert event["URL"] == VIDEO
    assert VIDEO in str(event["DESCRIPTION"])


def test_rendering_twice_gives_the_same_invitation() -> None:
    start = datetime(2026, 12, 1, 21, tzinfo=UTC)

    first, _, _ = render("America/Phoenix", start)
    again, _, _ = render("America/Phoenix", start)

    assert first.attachments == again.attachments


def test_without_a_provider_uid_the_uid_is_stable_per_request() -> None:
    start = datetime(2026, 12, 1, 21, tzinfo=UTC)

    message, request, _ = render("America/Phoenix", start, ical_uid=None)

    _, event = parsed_event(message)
    assert request.id in str(event["UID"])
    assert event["UID"] != ICAL_UID


def test_no_ics_when_the_provider_sends_its_own_invitation() -> None:
    message, _, _ = render(
        "America/Phoenix", datetime(2026, 12, 1, 21, tzinfo=UTC), attach_ics=False
    )

    assert message.attachments == ()
    assert ICS_FILENAME not in message.text_body
    assert f"A calendar invitation from {REP}" in message.text_body
