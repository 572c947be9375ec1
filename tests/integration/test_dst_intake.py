"""Time zones at intake (SPEC §3.1, §5): a requested local time or offset becomes the right
UTC instant — stored, booked and sent to the calendar — and times that never happen, or
happen twice without an offset, are refused on `requested_start`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import post_signed
from tests.integration.doubles import outbox, stored_requests

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def request(timezone: str, start: str, **extra: Any) -> dict[str, Any]:
    return {
        "submission_id": f"{timezone}:{start}",
        "name": "Dana Reyes",
        "email": "dana@northwind.example",
        "timezone": timezone,
        "requested_start": start,
        **extra,
    }


def stored_start(components, request_id: str) -> datetime | None:
    stored = components.requests.get(request_id)
    assert stored is not None
    return stored.requested_start


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def assert_booked_at(components, body: dict[str, Any], instant: datetime) -> None:
    assert body["status"] == "booked_auto", body
    assert body["booking"]["start"] == instant.strftime("%Y-%m-%dT%H:%M:%SZ")
    booking = components.bookings.get_by_request(body["request_id"])
    assert booking is not None and booking.start == instant
    (event,) = outbox(components, service="calendar", request_id=body["request_id"])
    assert datetime.fromisoformat(event.payload["start"]) == instant


@pytest.mark.parametrize("start", ["2026-12-01T14:00:00", "2026-12-01T14:00:00-07:00"])
def test_phoenix_in_december_is_21_utc(make_app, start):
    client, components = make_app()
    response = post_signed(client, request("America/Phoenix", start))
    assert response.status_code == 200, response.text
    body = response.json()
    assert stored_start(components, body["request_id"]) == utc("2026-12-01T21:00:00")
    assert_booked_at(components, body, utc("2026-12-01T21:00:00"))


@pytest.mark.parametrize("start", ["2027-07-06T14:00:00", "2027-07-06T14:00:00-07:00"])
def test_phoenix_in_july_is_still_21_utc(make_app, clock, start):
    clock.now = utc("2027-06-28T15:00:00")  # within the 21-day horizon of 2027-07-06
    client, components = make_app()
    response = post_signed(client, request("America/Phoenix", start))
    assert response.status_code == 200, response.text
    body = response.json()
    assert stored_start(components, body["request_id"]) == utc("2027-07-06T21:00:00")
    # 17:00 EDT is past Alice's day in New York; Chen in Phoenix takes 14:00 MST.
    assert body["booking"]["rep"] == "chen@ourco.example"
    assert_booked_at(components, body, utc("2027-07-06T21:00:00"))


def test_phoenix_summer_offset_is_refused(make_app, clock):
    clock.now = utc("2027-06-28T15:00:00")
    client, components = make_app()
    # -06:00 would be right for Denver in July, never for Phoenix.
    response = post_signed(client, request("America/Phoenix", "2027-07-06T14:00:00-06:00"))
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["requested_start"]
    assert stored_requests(components) == 0


@pytest.mark.parametrize(
    "start", ["2027-03-28T02:30:00", "2027-03-28T02:30:00+01:00", "2027-03-28T02:30:00+02:00"]
)
def test_berlin_spring_forward_gap_is_refused(make_app, start):
    client, components = make_app()
    response = post_signed(client, request("Europe/Berlin", start))
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["requested_start"]
    assert "does not exist" in errors[0]["message"]
    assert stored_requests(components) == 0


@pytest.mark.parametrize(
    ("start", "instant"),
    [
        ("2027-03-28T01:30:00", "2027-03-28T00:30:00"),
        ("2027-03-28T01:30:00+01:00", "2027-03-28T00:30:00"),
        ("2027-03-28T03:30:00", "2027-03-28T01:30:00"),
        ("2027-03-28T03:30:00+02:00", "2027-03-28T01:30:00"),
    ],
)
def test_berlin_either_side_of_the_gap_is_accepted(make_app, start, instant):
    client, components = make_app()
    response = post_signed(client, request("Europe/Berlin", start))
    assert response.status_code == 200, response.text
    assert stored_start(components, response.json()["request_id"]) == utc(instant)


def test_new_york_fall_back_offsets_pick_different_instants(make_app, clock):
    clock.now = utc("2026-10-20T12:00:00")
    client, components = make_app()
    alice = "alice@ourco.example"
    edt = post_signed(client, request("America/New_York", "2026-11-01T01:30:00-04:00", rep=alice))
    est = post_signed(client, request("America/New_York", "2026-11-01T01:30:00-05:00", rep=alice))
    assert edt.status_code == est.status_code == 200, (edt.text, est.text)
    first = stored_start(components, edt.json()["request_id"])
    second = stored_start(components, est.json()["request_id"])
    assert first == utc("2026-11-01T05:30:00")
    assert second == utc("2026-11-01T06:30:00")
    # 01:30 on a Sunday is not Alice's working time: both go to a person, neither is lost.
    assert edt.json()["status"] == est.json()["status"] == "escalated_manual_review"
    assert edt.json()["reasons"] == ["slot_unavailable"]


def test_new_york_fall_back_naive_time_is_ambiguous(make_app, clock):
    clock.now = utc("2026-10-20T12:00:00")
    client, components = make_app()
    response = post_signed(client, request("America/New_York", "2026-11-01T01:30:00"))
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["field"] == "requested_start"
    assert "-04:00" in error["message"] and "-05:00" in error["message"]
    assert stored_requests(components) == 0


@pytest.mark.parametrize(
    ("timezone", "start", "instant"),
    [
        ("Australia/Sydney", "2026-12-01T09:00:00", "2026-11-30T22:00:00"),
        ("Australia/Sydney", "2026-12-01T09:00:00+11:00", "2026-11-30T22:00:00"),
        ("Australia/Sydney", "2027-04-04T02:30:00+11:00", "2027-04-03T15:30:00"),
        ("Australia/Sydney", "2027-04-04T02:30:00+10:00", "2027-04-03T16:30:00"),
        ("Asia/Kolkata", "2026-12-01T20:30:00", "2026-12-01T15:00:00"),
        ("Asia/Kolkata", "2026-12-01T20:30:00+05:30", "2026-12-01T15:00:00"),
    ],
)
def test_other_zones_resolve_to_the_right_instant(make_app, timezone, start, instant):
    client, components = make_app()
    response = post_signed(client, request(timezone, start))
    assert response.status_code == 200, response.text
    assert stored_start(components, response.json()["request_id"]) == utc(instant)


@pytest.mark.parametrize(
    ("timezone", "start"),
    [
        ("Australia/Sydney", "2026-12-01T09:00:00+10:00"),  # +10:00 is Sydney's winter
        ("Australia/Sydney", "2027-04-04T02:30:00"),  # clocks go back: 02:30 happens twice
        ("Australia/Sydney", "2026-10-04T02:30:00"),  # already past, and a gap anyway
        ("Asia/Kolkata", "2026-12-01T20:30:00+05:00"),
    ],
)
def test_other_zones_refuse_impossible_times(make_app, timezone, start):
    client, components = make_app()
    response = post_signed(client, request(timezone, start))
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["requested_start"]
    assert stored_requests(components) == 0


def test_dmitri_in_sydney_is_booked_at_the_instant_asked(make_app, example_config):
    """A Sydney rep and a Phoenix client: the event keeps the client's instant exactly."""
    # Dmitri's calendar is broken in the example sandbox; mend it for this test.
    mended = example_config.model_copy(
        update={"sandbox": example_config.sandbox.model_copy(update={"broken_calendars": ()})}
    )
    client, components = make_app(mended)
    response = post_signed(
        client,
        request("America/Phoenix", "2026-11-30T17:00:00", rep="dmitri@ourco.example"),
    )
    assert response.status_code == 200, response.text
    # 17:00 MST Monday = 00:00Z Tuesday = 11:00 AEDT Tuesday, inside Dmitri's day
    assert response.json()["booking"]["rep"] == "dmitri@ourco.example"
    assert_booked_at(components, response.json(), utc("2026-12-01T00:00:00"))
