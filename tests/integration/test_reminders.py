"""Reminders end to end in one process: a booking made through the intake webhook gets its
SMS (through the real twilio client, against our fake Twilio) and email reminders, sent by
the dispatch tick once, with every failure recorded; Twilio's status callbacks and STOP
are signed like Twilio signs them. Time is the app's injected clock, moved by the test.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from twilio.request_validator import RequestValidator

from bot.components import Components
from bot.domain.config import Config
from bot.domain.reminders import plan_reminders
from bot.messages.reminders import render_sms
from bot.services.reminder_dispatch import ReminderDispatcher
from integrations.base import TextMessage
from storage.db import Database
from storage.models import ReminderChannel, ReminderStatus, StoredReminder, utcnow
from storage.repositories.reminders import REMINDERS, meeting_stamp
from testkit.fakes.twilio import FAKE_AUTH_TOKEN, FAKE_FROM, FakeTwilio
from tests.conftest import FixedClock, post_signed
from tests.integration.twilio_app import PUBLIC_URL, twilio_app

PHONE = "+16025550143"
# Mon 23 Nov 2026, 15:00 UTC; the meeting is Wed 25 Nov 10:00 MST (17:00 UTC) with Chen.
MEETING = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
DUE = MEETING - timedelta(days=1)  # Phoenix has no DST: 24 h


@pytest.fixture
def app(
    migrated_db: Database, example_config: Config, clock: FixedClock, twilio: FakeTwilio
) -> Iterator[tuple[TestClient, Components]]:
    with twilio_app(migrated_db, example_config, clock, twilio, wait=False) as client_components:
        yield client_components


def book(client: TestClient, **overrides: Any) -> str:
    body = {
        "submission_id": f"rem-{overrides.get('submission_id', 'x')}",
        "name": "Dana Reyes",
        "email": "dana@northwind.example",
        "phone": PHONE,
        "sms_opt_in": True,
        "timezone": "America/Phoenix",
        "requested_start": "2026-11-25T10:00:00",
        "rep": "chen@ourco.example",
        **overrides,
    }
    answer = post_signed(client, body).json()
    assert answer["status"] == "booked_auto", answer
    return str(answer["request_id"])


def reminders_of(components: Components, request_id: str) -> dict[str, StoredReminder]:
    return {r.channel: r for r in components.reminders.for_request(request_id)}


def sms_of(components: Components, request_id: str) -> StoredReminder:
    return reminders_of(components, request_id)[ReminderChannel.SMS]


def at(clock: FixedClock, when: datetime) -> None:
    clock.now = when


def test_a_booking_gets_its_reminders_stored_with_it(app) -> None:
    client, components = app
    request_id = book(client)
    stored = reminders_of(components, request_id)
    assert set(stored) == {ReminderChannel.SMS, ReminderChannel.EMAIL}
    for reminder in stored.values():
        assert reminder.status == ReminderStatus.PENDING
        assert reminder.due_at == DUE and reminder.meeting_start == MEETING


def test_the_tick_sends_each_reminder_once_when_due(app, clock, twilio) -> None:
    client, components = app
    request_id = book(client)
    at(clock, DUE - timedelta(minutes=1))
    assert sum(components.dispatcher.tick().values()) == 0
    assert twilio.sent == []

    at(clock, DUE)
    assert components.dispatcher.tick() == {"sent": 2}
    assert components.dispatcher.tick() == {}
    (message,) = twilio.sent
    assert message.to == PHONE and message.from_ == FAKE_FROM
    assert "Wed 25 Nov at 10:00 AM MST" in message.body
    assert message.status_callback == (PUBLIC_URL + status_path(sms_of(components, request_id)))
    sms = sms_of(components, request_id)
    assert sms.status == ReminderStatus.SENT and sms.provider_id == message.sid
    emails = components.outbox.latest(service="email", request_id=request_id)
    reminder_emails = [e for e in emails if e.action == "send:reminder"]
    assert len(reminder_emails) == 1
    assert "10:00 AM MST" in reminder_emails[0].payload["subject"]


def test_a_reminder_due_while_no_process_ran_is_sent_if_the_meeting_is_ahead(
    app, clock, twilio
) -> None:
    client, components = app
    request_id = book(client)
    at(clock, MEETING - timedelta(hours=2))  # down from DUE until two hours before
    assert components.dispatcher.tick()["sent"] == 2
    assert sms_of(components, request_id).status == ReminderStatus.SENT


def test_a_reminder_found_only_after_the_meeting_began_is_skipped_with_a_record(
    app, clock, twilio
) -> None:
    client, components = app
    request_id = book(client)
    at(clock, MEETING + timedelta(minutes=1))
    assert components.dispatcher.tick() == {"skipped": 2}
    assert twilio.sent == []
    for reminder in reminders_of(components, request_id).values():
        assert (reminder.status, reminder.error_code) == ("skipped", "meeting_started")


def test_unsubscribed_21610_is_recorded_opted_out_and_never_retried(app, clock, twilio) -> None:
    client, components = app
    request_id = book(client)
    twilio.unsubscribe(PHONE)
    at(clock, DUE)
    counts = components.dispatcher.tick()
    assert counts["failed"] == 1
    sms = sms_of(components, request_id)
    assert (sms.status, sms.error_code) == ("failed", "api_error:twilio:400:21610")
    assert components.opt_outs.is_opted_out(PHONE)
    at(clock, DUE + timedelta(hours=1))
    components.dispatcher.tick()
    assert len(twilio.calls("POST Messages")) == 1


def test_invalid_number_21211_fails_for_good_and_says_so_in_the_slack_thread(
    app, clock, twilio
) -> None:
    client, components = app
    request_id = book(client)
    # A booking made from an escalation has a thread: give this one a message to reply to.
    opening = components.escalations.opening(request_id, "manual_review", ["keyword:urgent"])
    escalation = components.escalations.open(opening)
    components.escalations.mark_notified(escalation.id or 0, "C0ESCALATE", "1700000000.000100")
    twilio.fail_next(400, 21211)
    at(clock, DUE)
    assert components.dispatcher.tick()["failed"] == 1
    assert sms_of(components, request_id).error_code == "api_error:twilio:400:21211"
    (note,) = [
        m
        for m in components.outbox.latest(service="slack", request_id=request_id)
        if m.dedupe_key.startswith("slack:reminder-failed:")
    ]
    assert note.payload["thread_ts"] == "1700000000.000100"
    assert PHONE in note.payload["text"] and "will not be retried" in note.payload["text"]
    at(clock, DUE + timedelta(hours=2))
    components.dispatcher.tick()
    assert len(twilio.calls("POST Messages")) == 1


def test_a_server_error_is_retried_later_and_the_retry_finds_the_message_it_hid(
    app, clock, twilio
) -> None:
    client, components = app
    request_id = book(client)
    twilio.drop_next()  # Twilio takes the message, and the answer is lost
    at(clock, DUE)
    assert components.dispatcher.tick()["retried"] == 1
    sms = sms_of(components, request_id)
    assert sms.status == ReminderStatus.PENDING and sms.check_before_send
    assert sms.due_at == DUE + timedelta(minutes=1)

    at(clock, DUE + timedelta(minutes=1))
    assert components.dispatcher.tick() == {"sent": 1}
    assert len(twilio.sent) == 1  # found, not sent again
    assert sms_of(components, request_id).provider_id == twilio.sent[0].sid


def test_transient_failures_back_off_then_give_up_with_a_record(app, clock, twilio) -> None:
    client, components = app
    request_id = book(client, email="dana@northwind.example")
    twilio.fail_next(401, 20003, times=10)  # credentials being rotated, say
    moments = [DUE]
    for wait in (1, 2, 4, 8):
        moments.append(moments[-1] + timedelta(minutes=wait))
    for moment in moments:
        at(clock, moment)
        components.dispatcher.tick()
    sms = sms_of(components, request_id)
    assert sms.status == ReminderStatus.FAILED and sms.attempts == 5
    assert "gave up after 5 attempts" in (sms.error_detail or "")
    assert len(twilio.calls("POST Messages")) == 5


def test_a_client_who_texted_stop_gets_no_sms(app, clock, twilio) -> None:
    client, components = app
    request_id = book(client)
    response = post_twilio(client, "/webhooks/twilio/inbound", {"From": PHONE, "Body": " stop "})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert "<Response" in response.text
    assert components.opt_outs.is_opted_out(PHONE)
    at(clock, DUE)
    assert components.dispatcher.tick() == {"skipped": 1, "sent": 1}  # the email still goes
    assert sms_of(components, request_id).error_code == "opted_out"
    assert twilio.sent == []

    post_twilio(client, "/webhooks/twilio/inbound", {"From": PHONE, "Body": "START"})
    assert not components.opt_outs.is_opted_out(PHONE)


def test_cancelled_and_moved_bookings_change_their_reminders(app, clock, twilio) -> None:
    client, components = app
    request_id = book(client)
    booking = components.bookings.get_by_request(request_id)
    at(clock, DUE)
    components.dispatcher.tick()
    assert sms_of(components, request_id).status == ReminderStatus.SENT

    # The meeting moves a day later: the sent reminder named the old time, so it starts over.
    new_start = MEETING + timedelta(days=1)
    plan = plan_reminders(
        components.config.reminders,
        start=new_start,
        client_timezone="America/Phoenix",
        phone=PHONE,
        sms_opt_in=True,
        now=clock(),
    )
    components.reminders.replan(booking.id, request_id, new_start, plan)
    sms = sms_of(components, request_id)
    assert (sms.status, sms.due_at, sms.provider_id) == ("pending", MEETING, None)

    assert components.reminders.cancel_for_booking(booking.id) == 2
    at(clock, MEETING)
    assert components.dispatcher.tick() == {}
    assert {r.status for r in reminders_of(components, request_id).values()} == {"cancelled"}
    assert len(twilio.sent) == 1


def test_a_claim_whose_process_died_is_taken_over_and_checks_first(app, clock, twilio) -> None:
    client, components = app
    request_id = book(client)
    at(clock, DUE)
    claimed = components.reminders.claim_due(clock(), timedelta(minutes=5), limit=10)
    assert len(claimed) == 2
    # The process sent the SMS and died before recording it; its lease runs out.
    twilio_sms = components.integrations.sms
    sms = next(d for d in claimed if d.reminder.channel == ReminderChannel.SMS)
    body = render_sms(
        start=MEETING,
        zone="America/Phoenix",
        rep=sms.rep_email,
        video_url=sms.video_url,
        manage_url=components.dispatcher.manage_url(sms),
    )
    twilio_sms.send(TextMessage(key="lost", to=PHONE, body=body))
    with components.db.transaction() as conn:
        conn.execute(update(REMINDERS).values(lease_until=utcnow() - timedelta(seconds=1)))

    assert components.dispatcher.tick() == {"sent": 2}
    assert len(twilio.sent) == 1
    assert sms_of(components, request_id).check_before_send is False


def test_two_dispatchers_at_once_send_each_reminder_once(app, clock, twilio) -> None:
    client, components = app
    first = datetime(2026, 11, 25, 8, 0)  # Chen's day, Phoenix time: 30 min every 40 min
    for index in range(12):
        start = first + timedelta(minutes=40 * index)
        book(
            client,
            submission_id=f"many-{index}",
            phone=f"+1602555{index:04d}",
            requested_start=start.isoformat(),
        )
    at(clock, datetime(2026, 11, 24, 23, 0, tzinfo=UTC))  # all due, no meeting begun
    barrier = threading.Barrier(2)
    results: list[dict[str, int]] = []

    def run() -> None:
        barrier.wait()
        results.append(dict(components.dispatcher.tick()))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(r.get("sent", 0) for r in results) == 24, (results, len(twilio.sent))
    assert len(twilio.sent) == 12 and set(twilio.send_counts().values()) == {1}


# ---------------------------------------------------------------------- Twilio webhooks


def status_path(reminder: StoredReminder) -> str:
    """The status callback path Frontdesk gives Twilio for this reminder's text."""
    return (
        f"/webhooks/twilio/status?reminder={reminder.id}"
        f"&meeting={meeting_stamp(reminder.meeting_start)}"
    )


def post_twilio(
    client: TestClient, path: str, form: dict[str, str], *, token: str = FAKE_AUTH_TOKEN
) -> Any:
    """POST a form signed the way Twilio signs it: over the public URL it was given."""
    signature = RequestValidator(token).compute_signature(PUBLIC_URL + path, form)
    return client.post(
        path,
        content=urlencode(form),
        headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )


def test_status_callback_with_a_valid_signature_records_delivery(app, clock, twilio) -> None:
    client, components = app
    request_id = book(client)
    at(clock, DUE)
    components.dispatcher.tick()
    sms = sms_of(components, request_id)
    path = status_path(sms)
    form = {"MessageSid": sms.provider_id or "", "MessageStatus": "delivered", "To": PHONE}
    assert post_twilio(client, path, form).status_code == 204
    delivered = sms_of(components, request_id)
    assert delivered.status == ReminderStatus.DELIVERED and delivered.delivered_at is not None
    # A late "sent" does not undo "delivered".
    post_twilio(client, path, {**form, "MessageStatus": "sent"})
    assert sms_of(components, request_id).status == ReminderStatus.DELIVERED


def test_status_callback_with_a_bad_signature_is_refused(app, clock) -> None:
    client, components = app
    request_id = book(client)
    at(clock, DUE)
    components.dispatcher.tick()
    sms = sms_of(components, request_id)
    path = status_path(sms)
    form = {"MessageSid": sms.provider_id or "", "MessageStatus": "delivered"}
    forged = post_twilio(client, path, form, token="not-the-token")
    assert forged.status_code == 403 and forged.json()["error"] == "invalid_signature"
    unsigned = client.post(path, data=form)
    assert unsigned.status_code == 403
    assert sms_of(components, request_id).status == ReminderStatus.SENT


def test_undelivered_21610_callback_fails_the_reminder_and_opts_the_number_out(app, clock) -> None:
    client, components = app
    request_id = book(client)
    at(clock, DUE)
    components.dispatcher.tick()
    sms = sms_of(components, request_id)
    form = {
        "MessageSid": sms.provider_id or "",
        "MessageStatus": "undelivered",
        "ErrorCode": "21610",
    }
    post_twilio(client, status_path(sms), form)
    failed = sms_of(components, request_id)
    assert (failed.status, failed.error_code) == ("failed", "delivery:21610")
    assert components.opt_outs.is_opted_out(PHONE)


def test_twilio_webhooks_answer_404_in_sandbox_mode(make_app) -> None:
    client, _ = make_app()
    response = client.post("/webhooks/twilio/inbound", data={"From": PHONE, "Body": "STOP"})
    assert response.status_code == 404 and response.json()["error"] == "twilio_not_configured"


class StopAfterFirstSend:
    """The real Twilio sender, with a shutdown arriving during the first send."""

    def __init__(self, inner: Any, stop: threading.Event) -> None:
        self.inner, self.stop, self.name = inner, stop, inner.name

    def send(self, message: Any) -> str:
        self.stop.set()
        return str(self.inner.send(message))

    def find_sent(self, message: Any, since: datetime) -> str | None:
        return self.inner.find_sent(message, since)


def test_a_shutdown_mid_batch_hands_the_rest_back_untouched(app, clock, twilio) -> None:
    client, components = app
    for index in range(3):
        start = datetime(2026, 11, 25, 8, 0) + timedelta(minutes=40 * index)
        book(client, submission_id=f"stop-{index}", requested_start=start.isoformat())
    stop = threading.Event()
    dispatcher = components.dispatcher
    dispatcher.sms = StopAfterFirstSend(dispatcher.sms, stop)  # type: ignore[assignment]
    dispatcher.email = components.integrations.email
    at(clock, datetime(2026, 11, 24, 23, 0, tzinfo=UTC))

    counts = dispatcher.tick(stop=stop)
    # The send in progress (the first SMS) finishes; nothing after it starts.
    assert counts["released"] >= 4 and counts["sent"] + counts["released"] == 6
    statuses = Counter(r.status for r in all_reminders(components))
    assert statuses == {"sent": counts["sent"], "pending": counts["released"]}
    assert {r.attempts for r in all_reminders(components) if r.status == "pending"} == {0}

    assert dispatcher.tick() == {"sent": counts["released"]}  # the next process takes them
    assert len(twilio.sent) == 3


def all_reminders(components: Components) -> list[StoredReminder]:
    with components.db.connection() as conn:
        rows = conn.execute(REMINDERS.select()).all()
    return [StoredReminder(**row._mapping) for row in rows]


class SlowSends:
    """The real sender, taking half a second per text; during the third, a second
    dispatcher (another replica) ticks. Each send fits its lease; the batch does not.
    """

    def __init__(self, inner: Any, meanwhile: Any) -> None:
        self.inner, self.meanwhile, self.name = inner, meanwhile, inner.name
        self.sends = 0

    def send(self, message: Any) -> str:
        self.sends += 1
        time.sleep(0.5)
        if self.sends == 3:
            self.meanwhile()
        return str(self.inner.send(message))

    def find_sent(self, message: Any, since: datetime) -> str | None:
        return self.inner.find_sent(message, since)


def test_a_batch_that_outlasts_its_lease_never_sends_twice(app, clock, twilio) -> None:
    client, components = app
    for index in range(4):
        start = datetime(2026, 11, 25, 8, 0) + timedelta(minutes=40 * index)
        book(
            client,
            submission_id=f"lease-{index}",
            phone=f"+1602555{index:04d}",
            requested_start=start.isoformat(),
        )
    at(clock, datetime(2026, 11, 24, 23, 0, tzinfo=UTC))
    lease = timedelta(seconds=1)
    parts = components.dispatcher
    other = ReminderDispatcher(
        components.config,
        components.reminders,
        components.opt_outs,
        components.escalations,
        parts.sms,
        parts.email,
        parts.chat,
        clock=clock,
        lease=lease,
    )
    taken: list[Counter[str]] = []
    first = ReminderDispatcher(
        components.config,
        components.reminders,
        components.opt_outs,
        components.escalations,
        SlowSends(parts.sms, lambda: taken.append(other.tick())),
        parts.email,
        parts.chat,
        clock=clock,
        lease=lease,
    )

    counts = first.tick()

    # Each send renewed its own claim; the rows the slow replica had not reached yet were
    # taken over by the other one, and the slow one then left them alone.
    (other_counts,) = taken
    assert counts["taken_over"] == other_counts["sent"] > 0
    assert counts["sent"] + other_counts["sent"] == 8
    assert len(twilio.sent) == 4 and set(twilio.send_counts().values()) == {1}


def test_a_late_report_about_the_old_text_leaves_a_moved_reminder_alone(app, clock) -> None:
    client, components = app
    request_id = book(client)
    at(clock, DUE)
    components.dispatcher.tick()
    old = sms_of(components, request_id)
    booking = components.bookings.get_by_request(request_id)
    new_start = MEETING + timedelta(days=1)
    plan = plan_reminders(
        components.config.reminders,
        start=new_start,
        client_timezone="America/Phoenix",
        phone=PHONE,
        sms_opt_in=True,
        now=clock(),
    )
    components.reminders.replan(booking.id, request_id, new_start, plan)

    form = {"MessageSid": old.provider_id or "", "MessageStatus": "delivered"}
    assert post_twilio(client, status_path(old), form).status_code == 204
    moved = sms_of(components, request_id)
    assert (moved.status, moved.meeting_start) == ("pending", new_start)


def test_a_delivery_report_that_beats_the_sends_answer_is_kept(app, clock) -> None:
    client, components = app
    request_id = book(client)
    at(clock, DUE)
    claimed = components.reminders.claim_due(clock(), timedelta(minutes=5), limit=10)
    sms = next(d for d in claimed if d.reminder.channel == ReminderChannel.SMS)
    path = status_path(sms.reminder)
    post_twilio(client, path, {"MessageSid": "SM123", "MessageStatus": "delivered"})
    assert sms_of(components, request_id).status == ReminderStatus.DELIVERED

    assert components.reminders.mark_sent(sms, "SM123", utcnow())
    stored = sms_of(components, request_id)
    assert (stored.status, stored.provider_id) == ("delivered", "SM123")
    assert stored.sent_at is not None and stored.lease_until is None


def test_advanced_opt_out_keywords_follow_twilios_opt_out_type(app) -> None:
    client, components = app
    form = {"From": PHONE, "Body": "ARRET", "OptOutType": "STOP"}
    post_twilio(client, "/webhooks/twilio/inbound", form)
    assert components.opt_outs.is_opted_out(PHONE)
    assert components.opt_outs.opt_out(PHONE, "twilio:21610") is False  # once is enough


def test_a_report_for_a_send_whose_answer_was_lost_settles_the_reminder(app, clock, twilio) -> None:
    client, components = app
    request_id = book(client)
    twilio.drop_next()  # Twilio took it; the answer is lost; the row waits for a retry
    at(clock, DUE)
    assert components.dispatcher.tick()["retried"] == 1
    waiting = sms_of(components, request_id)
    (message,) = twilio.sent
    form = {"MessageSid": message.sid, "MessageStatus": "delivered"}
    post_twilio(client, status_path(waiting), form)

    delivered = sms_of(components, request_id)
    assert (delivered.status, delivered.provider_id) == ("delivered", message.sid)
    assert delivered.sent_at is not None
    at(clock, DUE + timedelta(minutes=5))
    assert components.dispatcher.tick() == {}
    assert len(twilio.sent) == 1
