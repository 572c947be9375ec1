"""SPEC §11 end to end on Google: the manage link from the confirmation email, Cancel and
Reschedule through the page's forms, judged by what the fake Google, Postmark, Slack and
Twilio servers got — and by what they did not get a second time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.messages import manage_page as page
from bot.reports.kpis import as_json, compute_kpis
from integrations.google import MAX_ATTEMPTS
from storage.db import Database
from storage.kpi_queries import KpiQueries
from storage.models import BookingStatus, ReminderChannel, ReminderStatus
from storage.repositories.booking_changes import BOOKINGS, CHANGES, STALE_MOVE
from storage.statuses import ChangeKind, ChangeStatus
from storage.types import utcnow
from tests.integration.manage_harness import (
    A_LABEL,
    ALICE,
    B_LABEL,
    CHANNEL,
    DAY,
    MEETING,
    NOW,
    A,
    B,
    Frontdesk,
    ics_event,
    running,
)

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
STAMP = "%Y-%m-%dT%H:%M:%SZ"


@pytest.fixture
def frontdesk(
    migrated_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Frontdesk]:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    with running(migrated_db, tmp_path) as frontdesk:
        yield frontdesk


def booked(frontdesk: Frontdesk, submission_id: str = "manage-1") -> tuple[str, str]:
    """Book at A; (request id, the manage link of the confirmation)."""
    request_id = frontdesk.book(submission_id)
    (confirmation,) = frontdesk.emails("confirmation")
    return request_id, frontdesk.link(confirmation)


def rep_notes(frontdesk: Frontdesk) -> list[str]:
    """What alice was told in her DM (the fake opens D-channels for DMs)."""
    return [p["text"] for p in frontdesk.slack.posts() if str(p["channel"]).startswith("D")]


# --------------------------------------------------------------------------- the page


@SQLITE_ONLY
def test_the_confirmation_links_to_a_page_with_the_meeting_in_the_clients_zone(
    frontdesk: Frontdesk,
) -> None:
    _, link = booked(frontdesk)

    status, html = frontdesk.page(link)

    assert status == 200
    assert "Tuesday 1 December 2026, 2:00 PM MST" in html
    assert page.CANCEL_BUTTON in html and page.RESCHEDULE_BUTTON in html
    assert "Monday 23 November" in html and page.LATER_TIMES in html
    assert 'type="radio"' in html and "<fieldset" in html and "<legend" in html
    status, html = frontdesk.page(f"{link}?from=2026-12-01")
    assert status == 200 and "Tuesday 1 December" in html and page.EARLIER_TIMES in html
    assert f'value="{B.strftime("%Y-%m-%dT%H:%M:%SZ")}"' in html  # B is offered
    assert f'value="{A.strftime("%Y-%m-%dT%H:%M:%SZ")}"' not in html  # its own time is not
    assert ">1:00 PM MST</label>" in html
    # The reminders carry the link too: SMS and email.
    frontdesk.tick(A - DAY)
    (sms,) = frontdesk.twilio.sent
    assert "/manage/" in sms.body and len(sms.body) < 320
    (reminder,) = frontdesk.emails("reminder")
    assert frontdesk.link(reminder) == link


@SQLITE_ONLY
def test_a_forged_or_expired_link_is_refused(frontdesk: Frontdesk) -> None:
    _, link = booked(frontdesk)
    body, signature = link.rsplit(".", 1)
    forged = f"{body}.{signature[::-1]}"
    other_booking = link.replace("/manage/", "/manage/f", 1)

    assert frontdesk.page(forged)[0] == 403
    assert frontdesk.page(other_booking)[0] == 403
    assert page.FORGED_TITLE in frontdesk.page("/manage/nonsense")[1]
    # A form post needs the page's form token.
    refused = frontdesk.client.post(f"{link}/cancel", data={"form_token": "x.y.z"})
    assert refused.status_code == 403
    assert frontdesk.google.calls("events.delete") == []

    frontdesk.clock.now = A + timedelta(minutes=30)  # the meeting is over
    status, html = frontdesk.page(link)
    assert status == 403 and page.EXPIRED_TITLE in html


# --------------------------------------------------------------------------- cancel


@SQLITE_ONLY
def test_cancel_deletes_the_event_emails_a_cancel_ics_and_tells_the_rep_once(
    frontdesk: Frontdesk,
) -> None:
    request_id, link = booked(frontdesk)
    (confirmation,) = frontdesk.emails("confirmation")
    _, invitation = ics_event(confirmation)

    token = frontdesk.form_token(link)

    response = frontdesk.post(link, "cancel", token, reason="Found another vendor")

    assert response.status_code == 200, response.text
    assert page.CANCELLED_TITLE in response.text
    (delete,) = frontdesk.google.calls("events.delete")
    assert delete.query["sendUpdates"] == "none"
    (event,) = frontdesk.google.events_on(ALICE)
    assert delete.path.endswith(event["id"]) and event["status"] == "cancelled"
    (email,) = frontdesk.emails("cancellation")
    method, cancel = ics_event(email)
    assert method == "CANCEL" and str(cancel["STATUS"]) == "CANCELLED"
    assert str(cancel["UID"]) == str(invitation["UID"]) == event["iCalUID"]
    assert int(cancel["SEQUENCE"]) > int(invitation["SEQUENCE"])
    assert A_LABEL in email["TextBody"]
    (note,) = rep_notes(frontdesk)
    assert "Dana Reyes" in note and "Found another vendor" in note
    booking = frontdesk.components.bookings.get_by_request(request_id)
    assert booking is not None and booking.status == BookingStatus.CANCELLED
    assert booking.cancelled_by == "client" and booking.cancel_reason == "Found another vendor"
    assert booking.cancelled_at == NOW
    reminders = frontdesk.components.reminders.for_request(request_id)
    assert {r.status for r in reminders} == {ReminderStatus.CANCELLED}
    (change,) = frontdesk.components.booking_changes.changes.for_booking(booking.id or 0)
    assert (change.kind, change.status, change.actor) == (ChangeKind.CANCEL, "done", "client")

    # Twice: the same page, nothing done again.
    again = frontdesk.post(link, "cancel", token, reason="")
    assert again.status_code == 200 and page.CANCELLED_TITLE in again.text
    status, html = frontdesk.page(link)
    assert status == 200 and page.CANCELLED_TITLE in html
    assert len(frontdesk.google.calls("events.delete")) == 1
    assert len(frontdesk.emails("cancellation")) == 1
    assert len(rep_notes(frontdesk)) == 1
    # No reminder goes out, and nobody is asked "Did it happen?" afterwards.
    assert frontdesk.tick(A - DAY) == {}
    assert frontdesk.twilio.sent == [] and frontdesk.emails("reminder") == []
    frontdesk.clock.now = A + timedelta(hours=2)
    frontdesk.components.outcomes.tick()
    assert len(frontdesk.slack.posts()) == 1


# --------------------------------------------------------------------------- reschedule


@SQLITE_ONLY
def test_reschedule_moves_the_same_event_and_replaces_the_link(frontdesk: Frontdesk) -> None:
    request_id, link = booked(frontdesk)
    (confirmation,) = frontdesk.emails("confirmation")
    _, invitation = ics_event(confirmation)

    response = frontdesk.post(link, "reschedule", slot=B.strftime("%Y-%m-%dT%H:%M:%SZ"))

    assert response.status_code == 303, response.text
    new_link = response.headers["location"].removesuffix("?moved=1")
    assert new_link != link
    (patch,) = frontdesk.google.calls("events.patch")
    assert len(frontdesk.google.calls("events.insert")) == 1
    (event,) = frontdesk.google.events_on(ALICE)
    assert patch.path.endswith(event["id"]) and patch.query["sendUpdates"] == "none"
    assert event["start"]["dateTime"] == "2026-12-02T15:00:00-05:00"
    (email,) = frontdesk.emails("rescheduled")
    method, update = ics_event(email)
    assert method == "REQUEST"
    assert str(update["UID"]) == str(invitation["UID"]) == event["iCalUID"]
    assert int(update["SEQUENCE"]) == int(invitation["SEQUENCE"]) + 1
    assert update.decoded("DTSTART") == B
    assert B_LABEL in email["Subject"] and frontdesk.link(email) == new_link
    status, html = frontdesk.page(response.headers["location"])
    assert status == 200 and page.MOVED_NOTICE in html and B_LABEL in html
    # The old link: 410, saying it was replaced, with the newest details.
    status, html = frontdesk.page(link)
    assert status == 410 and page.REPLACED_TITLE in html and B_LABEL in html
    (note,) = frontdesk.slack.posts()
    assert "moved" in note["text"] and str(int(B.timestamp())) in note["text"]
    # Reminders at the new time only.
    assert frontdesk.tick(A - DAY) == {}
    assert frontdesk.tick(B - DAY) == {"sent": 2}
    (sms,) = frontdesk.twilio.sent
    assert "Wed 2 Dec at 1:00 PM MST" in sms.body and new_link in sms.body
    booking = frontdesk.components.bookings.get_by_request(request_id)
    assert booking is not None and (booking.start, booking.version) == (B, 2)


@SQLITE_ONLY
def test_moving_back_to_the_first_time_reminds_of_it_again(frontdesk: Frontdesk) -> None:
    """A→B→A: the reminders for A went out; after B and back, A is reminded again (a
    reminder is keyed by the booking's version too, not by A's time alone, which the
    senders would take for the message already sent).

    The reminders for A went out early: the replica that sent them had a clock a day
    ahead, so the moves still come before A's reminder time.
    """
    request_id, link = booked(frontdesk)
    assert frontdesk.tick(A - DAY) == {"sent": 2}
    first_sms = frontdesk.twilio.sent[0].body
    frontdesk.clock.now = NOW

    to_b = frontdesk.post(link, "reschedule", slot=B.strftime("%Y-%m-%dT%H:%M:%SZ"))
    b_link = to_b.headers["location"].removesuffix("?moved=1")
    to_a = frontdesk.post(b_link, "reschedule", slot=A.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert to_a.status_code == 303, to_a.text

    assert frontdesk.tick(A - DAY + timedelta(minutes=1)) == {"sent": 2}
    assert len(frontdesk.twilio.sent) == 2
    assert "Tue 1 Dec at 2:00 PM MST" in first_sms
    assert "Tue 1 Dec at 2:00 PM MST" in frontdesk.twilio.sent[1].body
    assert len(frontdesk.emails("reminder")) == 2
    assert len(frontdesk.google.calls("events.patch")) == 2
    assert len(frontdesk.emails("rescheduled")) == 2
    reminders = frontdesk.components.reminders.for_request(request_id)
    assert {r.channel: r.meeting_start for r in reminders} == {
        ReminderChannel.SMS: A,
        ReminderChannel.EMAIL: A,
    }


@SQLITE_ONLY
def test_a_slot_that_is_busy_meanwhile_is_refused_on_the_page(frontdesk: Frontdesk) -> None:
    _, link = booked(frontdesk)
    frontdesk.google.add_busy(ALICE, B, B + timedelta(minutes=30))

    response = frontdesk.post(link, "reschedule", slot=B.strftime("%Y-%m-%dT%H:%M:%SZ"))

    assert response.status_code == 409
    assert page.SLOT_NOT_FREE in response.text and 'role="alert"' in response.text
    assert frontdesk.google.calls("events.patch") == []
    missing = frontdesk.post(link, "reschedule")
    assert missing.status_code == 422 and page.CHOOSE_A_TIME in missing.text


# --------------------------------------------------------------------------- failures


@SQLITE_ONLY
def test_a_google_500_during_a_move_escalates_and_a_retry_finishes_once(
    frontdesk: Frontdesk,
) -> None:
    request_id, link = booked(frontdesk)
    # Google did the move but every answer was a 500: we cannot know, so nothing changes.
    frontdesk.google.fail_next("events.patch", 500, retry_after=0, commit=True)
    frontdesk.google.fail_next("events.patch", 500, retry_after=0, times=MAX_ATTEMPTS - 1)
    slot = B.strftime("%Y-%m-%dT%H:%M:%SZ")

    response = frontdesk.post(link, "reschedule", slot=slot)

    assert response.status_code == 202 and page.SHORTLY_TITLE in response.text
    booking = frontdesk.components.bookings.get_by_request(request_id)
    assert booking is not None
    assert (booking.start, booking.version, booking.status) == (A, 1, BookingStatus.CONFIRMED)
    assert booking.pending_start is None
    (escalation,) = frontdesk.slack.escalation_posts()
    assert escalation["channel"] == CHANNEL
    shown = str(escalation["blocks"])
    assert "asked to move the meeting" in shown and "500" in shown and "Google" in shown
    (change,) = frontdesk.components.booking_changes.changes.for_booking(booking.id or 0)
    assert change.status == ChangeStatus.ESCALATED
    assert frontdesk.emails("rescheduled") == []
    assert frontdesk.page(link)[0] == 200  # the link still works: nothing moved

    retry = frontdesk.post(link, "reschedule", slot=slot)

    assert retry.status_code == 303, retry.text
    assert len(frontdesk.google.events_on(ALICE)) == 1
    assert len(frontdesk.emails("rescheduled")) == 1
    assert len(frontdesk.slack.escalation_posts()) == 1
    moved = frontdesk.components.bookings.get_by_request(request_id)
    assert moved is not None and (moved.start, moved.version) == (B, 2)


@SQLITE_ONLY
def test_a_google_500_during_a_cancel_escalates_and_keeps_the_booking(
    frontdesk: Frontdesk,
) -> None:
    request_id, link = booked(frontdesk)
    frontdesk.google.fail_next("events.delete", 500, retry_after=0, times=MAX_ATTEMPTS)

    response = frontdesk.post(link, "cancel", reason="")

    assert response.status_code == 202 and page.SHORTLY_TITLE in response.text
    booking = frontdesk.components.bookings.get_by_request(request_id)
    assert booking is not None and booking.status == BookingStatus.CONFIRMED
    assert frontdesk.emails("cancellation") == []
    assert len(frontdesk.slack.escalation_posts()) == 1
    retry = frontdesk.post(link, "cancel", reason="")
    assert retry.status_code == 200 and page.CANCELLED_TITLE in retry.text
    assert len(frontdesk.emails("cancellation")) == 1


# --------------------------------------------------------------------------- the report


@SQLITE_ONLY
def test_the_report_counts_cancellations_and_reschedules_per_route(
    frontdesk: Frontdesk,
) -> None:
    _, moved_link = booked(frontdesk, "report-moved")
    frontdesk.book("report-cancelled", A + timedelta(hours=-3))
    cancel_link = frontdesk.link(frontdesk.emails("confirmation")[-1])
    assert frontdesk.post(moved_link, "reschedule", slot=B.strftime(STAMP)).status_code == 303
    token = frontdesk.form_token(cancel_link)
    assert frontdesk.post(cancel_link, "cancel", token, reason="").status_code == 200
    frontdesk.post(cancel_link, "cancel", token, reason="")  # twice counts once

    now = utcnow()
    kpis = compute_kpis(
        KpiQueries(frontdesk.components.db),
        now - DAY,
        now + DAY,
        now=now,
        sla_minutes=15,
    )
    report = as_json(kpis)

    assert report["cancellations"] == {"auto": 1, "vip": 0, "review": 0, "error": 0, "total": 1}
    assert report["reschedules"] == {"auto": 1, "vip": 0, "review": 0, "error": 0, "total": 1}
    assert report["by_route"]["auto"]["cancellations"] == 1
    assert report["by_route"]["auto"]["reschedules"] == 1
    assert report["by_route"]["vip"]["reschedules"] == 0


@SQLITE_ONLY
def test_google_rate_limits_are_waited_out_and_a_failed_email_is_told_in_slack(
    frontdesk: Frontdesk,
) -> None:
    request_id, link = booked(frontdesk)
    frontdesk.google.rate_limit_next("events.delete", retry_after=0)
    frontdesk.postmark.reject_next(406)

    response = frontdesk.post(link, "cancel", reason="")

    # The meeting is cancelled (the page says so truthfully); the rep learns the client
    # was not emailed, and is asked to tell them.
    assert response.status_code == 200 and page.CANCELLED_TITLE in response.text
    assert len(frontdesk.google.calls("events.delete")) == 2
    booking = frontdesk.components.bookings.get_by_request(request_id)
    assert booking is not None and booking.status == BookingStatus.CANCELLED
    notes = rep_notes(frontdesk)
    assert any("NOT emailed" in note for note in notes), notes


@SQLITE_ONLY
def test_a_move_whose_process_died_after_the_calendar_moved_is_finished_once(
    frontdesk: Frontdesk,
) -> None:
    request_id, link = booked(frontdesk)
    components = frontdesk.components
    changes = components.booking_changes
    booking = components.bookings.get_by_request(request_id)
    assert booking is not None
    # What a process does before it dies: the audit row, the hold, the calendar's move.
    changes.changes.begin(
        booking, kind=ChangeKind.MOVE, actor="client", new_start=B, new_end=B + MEETING
    )
    held = changes.changes.hold_move(booking.id or 0, 1, B, B + MEETING, timedelta(minutes=10))
    assert held.booking is not None
    rep = components.config.rep(ALICE)
    assert rep is not None
    calendar = components.integrations.calendar_for(rep)
    calendar.move_event(rep, booking.calendar_id, booking.event_id or "", B, B + MEETING)
    assert changes.finish_interrupted() == 0  # a live hold is left alone
    with components.db.transaction() as conn:
        conn.execute(
            update(BOOKINGS).values(pending_at=utcnow() - STALE_MOVE - timedelta(seconds=1))
        )

    assert changes.finish_interrupted() == 1
    assert changes.finish_interrupted() == 0

    moved = components.bookings.get_by_request(request_id)
    assert moved is not None and (moved.start, moved.version) == (B, 2)
    assert moved.pending_start is None
    assert len(frontdesk.google.calls("events.patch")) == 2  # the lost one, and the finish
    assert len(frontdesk.google.events_on(ALICE)) == 1
    (email,) = frontdesk.emails("rescheduled")
    assert B_LABEL in email["Subject"]
    assert frontdesk.page(link)[0] == 410
    assert frontdesk.tick(B - DAY) == {"sent": 2}


@SQLITE_ONLY
def test_a_cancel_whose_process_died_after_the_delete_is_finished_once(
    frontdesk: Frontdesk,
) -> None:
    request_id, _ = booked(frontdesk)
    components = frontdesk.components
    changes = components.booking_changes
    booking = components.bookings.get_by_request(request_id)
    assert booking is not None
    rep = components.config.rep(ALICE)
    assert rep is not None
    # What a process does before it dies: the audit row, then the calendar's delete.
    changes.changes.begin(booking, kind=ChangeKind.CANCEL, actor="client", reason="Moved on")
    calendar = components.integrations.calendar_for(rep)
    calendar.cancel_event(rep, booking.calendar_id, booking.event_id or "")
    assert changes.finish_interrupted() == 0  # a cancel under way is left alone
    with components.db.transaction() as conn:
        conn.execute(
            update(CHANGES).values(created_at=utcnow() - STALE_MOVE - timedelta(seconds=1))
        )

    assert changes.finish_interrupted() == 1
    assert changes.finish_interrupted() == 0

    cancelled = components.bookings.get_by_request(request_id)
    assert cancelled is not None and cancelled.status == BookingStatus.CANCELLED
    assert cancelled.cancel_reason == "Moved on"
    assert len(frontdesk.google.calls("events.delete")) == 2  # the second finds it gone
    assert len(frontdesk.emails("cancellation")) == 1
    assert frontdesk.tick(A - DAY) == {}
