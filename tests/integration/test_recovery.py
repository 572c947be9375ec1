"""Crash recovery (SPEC §9): a request a dead process left behind is finished or escalated
by the next start (or the next duplicate), and never gets a second calendar event."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.domain.intake import validate_request
from storage.models import BookingRequest, BookingStatus
from tests.conftest import post_signed
from tests.integration.doubles import FINAL_STATUSES, Crash, body_sha, outbox

PAYLOAD: dict[str, Any] = {
    "submission_id": "crash-1",
    "name": "Dana Reyes",
    "email": "dana@northwind.example",
    "timezone": "America/Phoenix",
    "requested_start": "2026-12-01T14:00:00-07:00",
}
KEY = "key:crash-1"
PAST_THE_LEASE = timedelta(minutes=3)  # the processor's lease is 2 minutes


def store(components, *, received_ago: timedelta, **fields: Any) -> BookingRequest:
    """A request row as intake would have stored it, `received_ago` before the clock."""
    now = components.processor.clock()
    values: dict[str, Any] = {
        "idempotency_key": KEY,
        "body_sha256": body_sha(PAYLOAD),
        "name": "Dana Reyes",
        "email": "dana@northwind.example",
        "timezone": "America/Phoenix",
        "requested_start": now + timedelta(days=8),
        "duration_minutes": 30,
        "received_at": now - received_ago,
        **fields,
    }
    row, created = components.requests.create(BookingRequest(**values))
    assert created
    return row


def crash_during_submit(components) -> str:
    """Run intake's submit until a double raises Crash; return the stuck request's id."""
    valid = validate_request(PAYLOAD, components.config, components.processor.clock())
    with pytest.raises(Crash):
        components.processor.submit(valid, KEY, body_sha(PAYLOAD))
    row = components.requests.get_by_key(KEY)
    assert row is not None and row.status == "processing"
    return row.id


def final(components, request_id: str) -> BookingRequest:
    row = components.requests.get(request_id)
    assert row is not None
    assert row.status in FINAL_STATUSES, row.status
    assert row.response is not None and row.response["status"] == row.status
    assert row.lease_until is None
    return row


def test_expired_lease_is_finished_on_start(make_app, clock):
    _, components = make_app()
    row = store(components, received_ago=timedelta(minutes=1))
    claimed = components.requests.claim_for_processing(row.id, timedelta(minutes=2), clock())
    assert claimed is not None and claimed.status == "processing"

    clock.now += PAST_THE_LEASE
    client, restarted = make_app(recover_on_start=True)  # the lifespan runs recover()
    done = final(restarted, row.id)
    assert done.status == "booked_auto"
    assert done.attempts == 2
    assert len(outbox(restarted, service="calendar", request_id=row.id)) == 1
    replay = post_signed(client, PAYLOAD)
    assert replay.headers["Idempotent-Replay"] == "true"
    assert replay.json() == done.response


def test_received_but_never_claimed_is_finished(make_app):
    _, components = make_app()
    row = store(components, received_ago=timedelta(minutes=5))
    assert components.processor.recover() == 1
    assert final(components, row.id).status == "booked_auto"
    assert components.processor.recover() == 0  # nothing left to do


def test_recover_leaves_live_work_alone(make_app, clock):
    _, components = make_app()
    fresh = store(components, received_ago=timedelta(seconds=5))
    leased = store(components, received_ago=timedelta(minutes=1), idempotency_key="key:leased")
    assert components.requests.claim_for_processing(leased.id, timedelta(minutes=2), clock())
    assert components.processor.recover() == 0
    assert components.requests.get(fresh.id).status == "received"
    assert components.requests.get(leased.id).status == "processing"
    assert outbox(components) == []


@pytest.mark.parametrize("crash", ["before_insert", "after_insert", "before_email"])
def test_crash_mid_booking_never_makes_a_second_event(
    make_app, clock, calendar_double, email_double, crash
):
    if crash == "before_insert":
        calendar_double.create_error = Crash("killed before the calendar insert")
    elif crash == "after_insert":
        calendar_double.crash_after_insert = True
    else:
        email_double.error = Crash("killed before the confirmation email")
    _, components = make_app(calendar=calendar_double, email=email_double)
    request_id = crash_during_submit(components)
    booking = components.bookings.get_by_request(request_id)
    assert booking is not None
    # The booking is confirmed with the request's outcome, in one transaction: a crash
    # before it leaves the hold, and the restart asks the calendar again, which finds the
    # event already made (the insert is idempotent) instead of making a second one.
    assert booking.status == BookingStatus.RESERVED

    calendar_double.create_error = None
    calendar_double.crash_after_insert = False
    email_double.error = None
    calls_before_restart = calendar_double.create_calls
    clock.now += PAST_THE_LEASE
    _, restarted = make_app(calendar=calendar_double, email=email_double, recover_on_start=True)

    done = final(restarted, request_id)
    assert done.status == "booked_auto"
    (event,) = outbox(restarted, service="calendar", request_id=request_id)
    assert len(outbox(restarted, service="email", request_id=request_id)) == 1
    booking = restarted.bookings.get_by_request(request_id)
    assert booking is not None and booking.status == BookingStatus.CONFIRMED
    assert event.result is not None and booking.event_id == event.result["event_id"]
    assert done.response is not None and done.response["booking"]["event_id"] == booking.event_id
    assert calendar_double.create_calls == calls_before_restart + 1


def test_crash_after_booking_before_finish(make_app, clock, calendar_double, email_double):
    _, components = make_app(calendar=calendar_double, email=email_double)
    row = store(components, received_ago=timedelta(minutes=1))
    claimed = components.requests.claim_for_processing(row.id, timedelta(minutes=2), clock())
    assert claimed is not None
    components.processor.booker.book(claimed)  # event made, client told... then the crash
    assert calendar_double.create_calls == 1 and len(email_double.sent) == 1

    clock.now += PAST_THE_LEASE
    assert components.processor.recover() == 1
    assert final(components, row.id).status == "booked_auto"
    assert calendar_double.create_calls == 1
    assert len(email_double.sent) == 1
    assert len(outbox(components, service="calendar")) == 1
    assert len(outbox(components, service="email")) == 1


@pytest.mark.parametrize(
    "rep",
    [
        "alice@ourco.example",
        None,
    ],
    ids=["named_rep", "round_robin"],
)
def test_start_passed_while_down_goes_to_review(make_app, clock, rep):
    _, components = make_app()
    row = store(
        components,
        received_ago=timedelta(minutes=5),
        requested_start=clock() + timedelta(days=8),
        rep_email=rep,
    )
    clock.now += timedelta(days=9)  # down for nine days; the meeting time is gone
    assert components.processor.recover() == 1
    done = final(components, row.id)
    assert done.status == "escalated_manual_review"
    assert done.reasons == ["slot_unavailable"]
    assert outbox(components, service="calendar") == []
    escalation = components.escalations.get_by_request(row.id)
    assert escalation is not None and escalation.kind == "manual_review"


def test_start_passed_after_a_crash_mid_booking_goes_to_review(make_app, clock, calendar_double):
    calendar_double.create_error = Crash("killed before the calendar insert")
    _, components = make_app(calendar=calendar_double)
    request_id = crash_during_submit(components)
    calendar_double.create_error = None
    clock.now += timedelta(days=30)  # 2026-12-23: the 1 December meeting is history
    assert components.processor.recover() == 1
    done = final(components, request_id)
    assert done.status == "escalated_manual_review"
    assert done.reasons == ["slot_unavailable"]
    assert outbox(components, service="calendar") == []
    booking = components.bookings.get_by_request(request_id)
    assert booking is None or booking.status == BookingStatus.RELEASED


def test_duplicate_takes_over_an_expired_lease(make_app, clock, calendar_double):
    calendar_double.create_error = Crash("killed before the calendar insert")
    client, components = make_app(calendar=calendar_double)
    request_id = crash_during_submit(components)
    calendar_double.create_error = None
    clock.now += PAST_THE_LEASE

    response = post_signed(client, PAYLOAD)
    assert response.status_code == 200, response.text
    assert response.headers["Idempotent-Replay"] == "true"
    body = response.json()
    assert body["request_id"] == request_id
    assert body["status"] == "booked_auto"
    done = final(components, request_id)
    assert done.attempts == 2
    assert len(outbox(components, service="calendar")) == 1
    assert components.processor.recover() == 0
