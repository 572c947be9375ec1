"""The four outcomes of SPEC §3.1 end to end with the example config: what the client gets
back, what Slack, the calendar and the email provider were sent, and the audit log."""

from __future__ import annotations

from typing import Any

import pytest

from bot.services.processing import CALENDAR_FAILED_DETAIL, EMAIL_FAILED_DETAIL
from integrations.base import IntegrationError
from storage.models import BookingStatus
from tests.conftest import post_signed
from tests.integration.doubles import ChatDouble, EmailDouble, outbox, quiet

# Engine-sensitive paths run on SQLite and PostgreSQL; variations of one rule on SQLite only.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
CHANNEL = "C0ESCALATE"
TUESDAY_2PM_PHOENIX = "2026-12-01T14:00:00-07:00"  # 21:00Z, 16:00 for Alice in New York


def request(submission_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "submission_id": submission_id,
        "name": "Dana Reyes",
        "email": "dana@northwind.example",
        "company": "Northwind",
        "timezone": "America/Phoenix",
        "requested_start": TUESDAY_2PM_PHOENIX,
        **fields,
    }


def submit(client, payload: dict[str, Any]) -> dict[str, Any]:
    response = post_signed(quiet(client), payload)
    assert response.status_code == 200, response.text
    assert "Traceback" not in response.text
    return response.json()


def at_15_utc(day: str) -> dict[str, str]:
    return {"timezone": "UTC", "requested_start": f"{day}T15:00:00"}


def slack_messages(components, request_id: str) -> list[dict[str, Any]]:
    return [m.payload for m in outbox(components, service="slack", request_id=request_id)]


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [
        element["action_id"]
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def assert_decisions(components, request_id: str, gate: tuple[str, list[str]], outcome) -> None:
    decisions = {d.stage: d for d in components.requests.decisions(request_id)}
    assert set(decisions) == {"gate", "outcome"}
    assert (decisions["gate"].result, decisions["gate"].reasons) == gate
    assert (decisions["outcome"].result, decisions["outcome"].reasons) == outcome
    assert decisions["gate"].rules_version == decisions["outcome"].rules_version


# -- booked_auto ------------------------------------------------------------------------------


def test_booked_auto(make_app):
    client, components = make_app()
    body = submit(client, request("auto-1"))
    assert body["status"] == "booked_auto"
    assert body["reasons"] == []
    booking = body["booking"]
    assert booking["rep"] == "alice@ourco.example"
    assert booking["start"] == "2026-12-01T21:00:00Z"
    assert booking["end"] == "2026-12-01T21:30:00Z"
    assert booking["event_id"] and booking["ical_uid"]
    assert booking["video_url"].startswith("https://")

    request_id = body["request_id"]
    (event,) = outbox(components, service="calendar", request_id=request_id)
    assert event.action == "events.insert"
    assert event.payload["calendar"] == "alice@ourco.example"
    assert event.payload["attendees"] == ["dana@northwind.example", "alice@ourco.example"]
    assert event.result is not None and event.result["event_id"] == booking["event_id"]
    (email,) = outbox(components, service="email", request_id=request_id)
    assert email.payload["to"] == "dana@northwind.example"
    assert booking["video_url"] in email.payload["text_body"]
    assert "2:00 PM MST" in email.payload["text_body"]
    assert slack_messages(components, request_id) == []
    assert components.escalations.get_by_request(request_id) is None

    stored = components.bookings.get_by_request(request_id)
    assert stored is not None and stored.status == BookingStatus.CONFIRMED
    assert stored.confirmation_sent_at is not None
    assert_decisions(components, request_id, ("auto", []), ("booked_auto", []))
    assert components.requests.get(request_id).status == "booked_auto"


def test_round_robin_least_recently_booked_first(make_app):
    client, _ = make_app()
    # 15:00Z is inside Alice's, Bruno's and Chen's working day on these Tue-Thu dates.
    first = submit(client, request("rr-0", rep="chen@ourco.example", **at_15_utc("2026-11-24")))
    assert first["booking"]["rep"] == "chen@ourco.example"
    reps = [
        submit(client, request(f"rr-{day}", **at_15_utc(day)))["booking"]["rep"]
        for day in ("2026-11-25", "2026-11-26", "2026-12-02")
    ]
    # Alice and Bruno had no booking yet (config order); then Chen, booked longest ago —
    # Dmitri, never booked, is tried first but his sandbox calendar refuses access.
    assert reps == ["alice@ourco.example", "bruno@ourco.example", "chen@ourco.example"]


@SQLITE_ONLY
def test_round_robin_skips_a_busy_rep(make_app):
    client, _ = make_app()
    # Tuesday 12:00 in New York: Alice's room-2 is busy, Bruno's Berlin day is over,
    # Chen (10:00 in Phoenix) is free.
    body = submit(
        client,
        request("rr-busy", timezone="America/New_York", requested_start="2026-12-01T12:00:00"),
    )
    assert body["status"] == "booked_auto"
    assert body["booking"]["rep"] == "chen@ourco.example"


# -- escalated_vip ----------------------------------------------------------------------------


@SQLITE_ONLY
@pytest.mark.parametrize("email", ["dana@majorclient.com", "Dana@EU.MajorClient.com"])
def test_vip_goes_to_the_account_owner(make_app, email):
    client, components = make_app()
    body = submit(client, request("vip-1", email=email, notes="urgent, team of 12"))
    assert body["status"] == "escalated_vip"
    assert body["reasons"] == ["vip_domain:majorclient.com", "keyword:urgent", "group_size:12"]
    assert "booking" not in body
    request_id = body["request_id"]

    escalation = components.escalations.get_by_request(request_id)
    assert escalation is not None
    assert escalation.kind == "vip"
    assert (escalation.priority, escalation.assignee) == ("high", "U0OLIVIA")
    assert escalation.notified_at is not None and escalation.notify_error is None

    messages = slack_messages(components, request_id)
    dm = next(m for m in messages if m["channel"] != CHANNEL)
    notice = next(m for m in messages if m["channel"] == CHANNEL)
    assert len(messages) == 2
    assert dm["channel"] == escalation.channel == "D0OLIVIA"
    assert action_ids(dm["blocks"]) == ["claim", "book", "reassign", "resolve"]
    assert "<@U0OLIVIA>" in notice["text"] and request_id in notice["text"]
    assert outbox(components, service="calendar") == []
    assert outbox(components, service="email") == []
    assert_decisions(
        components,
        request_id,
        ("vip", body["reasons"]),
        ("escalated_vip", body["reasons"]),
    )


def test_vip_owner_without_slack_id_is_looked_up_by_email(make_app, sandbox_chat):
    client, components = make_app()
    body = submit(client, request("vip-2", email="pat@bigcorp.net"))
    assert body["status"] == "escalated_vip"
    assert body["reasons"] == ["vip_domain:bigcorp.net"]
    stand_in = sandbox_chat.user_id_for_email("marcus@ourco.example")
    assert stand_in

    escalation = components.escalations.get_by_request(body["request_id"])
    assert escalation is not None
    assert (escalation.priority, escalation.assignee) == ("high", stand_in)
    messages = slack_messages(components, body["request_id"])
    assert {m["channel"] for m in messages} == {CHANNEL, "D" + stand_in[1:]}
    notice = next(m for m in messages if m["channel"] == CHANNEL)
    assert f"<@{stand_in}>" in notice["text"]


# -- escalated_manual_review -----------------------------------------------------------------


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("fields", "reasons"),
    [
        ({"notes": "This is URGENT please"}, ["keyword:urgent"]),
        ({"notes": "we need to reschedule"}, ["keyword:reschedule"]),
        ({"notes": "Demo for our team of 12"}, ["group_size:12"]),
        ({"notes": "eight people will join"}, ["group_size:8"]),
        ({"requested_start": None}, ["no_time_selected"]),
        ({"requested_start": ""}, ["no_time_selected"]),
    ],
    ids=["keyword", "keyword_suffix", "group_size", "group_size_words", "no_time", "blank_time"],
)
def test_manual_review_triggers(make_app, fields, reasons):
    client, components = make_app()
    body = submit(client, request("review-1", **fields))
    assert body["status"] == "escalated_manual_review"
    assert body["reasons"] == reasons
    assert "booking" not in body
    request_id = body["request_id"]

    escalation = components.escalations.get_by_request(request_id)
    assert escalation is not None
    assert (escalation.kind, escalation.priority, escalation.assignee) == (
        "manual_review",
        "normal",
        None,
    )
    (message,) = slack_messages(components, request_id)
    assert message["channel"] == CHANNEL == escalation.channel
    actions = next(b for b in message["blocks"] if b["type"] == "actions")
    assert actions["block_id"] == f"escalation:{request_id}"
    assert action_ids(message["blocks"]) == ["claim", "book", "reassign", "resolve"]
    assert outbox(components, service="calendar") == []
    assert components.bookings.get_by_request(request_id) is None
    assert_decisions(
        components, request_id, ("review", reasons), ("escalated_manual_review", reasons)
    )


@SQLITE_ONLY
@pytest.mark.parametrize("local", ["12:00", "12:30", "13:05", "11:45"])
def test_busy_slot_goes_to_manual_review(make_app, local):
    client, components = make_app()
    body = submit(
        client,
        request(
            "busy-1",
            timezone="America/New_York",
            requested_start=f"2026-12-01T{local}:00",
            rep="alice@ourco.example",
        ),
    )
    assert body["status"] == "escalated_manual_review"
    assert body["reasons"] == ["slot_unavailable"]
    request_id = body["request_id"]
    escalation = components.escalations.get_by_request(request_id)
    assert escalation is not None and escalation.kind == "manual_review"
    assert "busy" in (escalation.detail or "")
    assert len(slack_messages(components, request_id)) == 1
    assert outbox(components, service="calendar") == []
    # The slot was held with the request, then let go when the calendar said busy.
    booking = components.bookings.get_by_request(request_id)
    assert booking is not None and booking.status == BookingStatus.RELEASED
    assert_decisions(
        components, request_id, ("auto", []), ("escalated_manual_review", ["slot_unavailable"])
    )


@SQLITE_ONLY
@pytest.mark.parametrize("local", ["13:10", "11:20"])
def test_slot_just_outside_the_buffer_is_booked(make_app, local):
    client, _ = make_app()
    body = submit(
        client,
        request(
            "edge-1",
            timezone="America/New_York",
            requested_start=f"2026-12-01T{local}:00",
            rep="alice@ourco.example",
        ),
    )
    assert body["status"] == "booked_auto", body


def test_slot_taken_by_an_earlier_booking_goes_to_review(make_app):
    client, components = make_app()
    alice = "alice@ourco.example"
    first = submit(client, request("taken-1", rep=alice))
    second = submit(client, request("taken-2", rep=alice, name="Someone Else"))
    assert first["status"] == "booked_auto"
    assert second["status"] == "escalated_manual_review"
    assert second["reasons"] == ["slot_unavailable"]
    assert len(outbox(components, service="calendar")) == 1


# -- escalated_on_error -----------------------------------------------------------------------


def test_calendar_permission_error_releases_the_slot(make_app, calendar_double):
    calendar_double.create_error = IntegrationError("google", 403, "insufficientPermissions")
    client, components = make_app(calendar=calendar_double)
    body = submit(client, request("err-1", rep="alice@ourco.example"))
    assert body["status"] == "escalated_on_error"
    assert body["reasons"] == ["api_error:google:403:insufficientPermissions"]
    assert "booking" not in body
    request_id = body["request_id"]

    booking = components.bookings.get_by_request(request_id)
    assert booking is not None and booking.status == BookingStatus.RELEASED
    escalation = components.escalations.get_by_request(request_id)
    assert escalation is not None and escalation.kind == "on_error"
    assert escalation.detail == CALENDAR_FAILED_DETAIL.format(error=calendar_double.create_error)
    (message,) = slack_messages(components, request_id)
    assert message["channel"] == CHANNEL
    assert outbox(components, service="calendar") == []
    assert outbox(components, service="email") == []
    assert_decisions(components, request_id, ("auto", []), ("escalated_on_error", body["reasons"]))

    # The released slot is free: the next request for it is booked once the calendar works.
    calendar_double.create_error = None
    again = submit(client, request("err-1-retry", rep="alice@ourco.example"))
    assert again["status"] == "booked_auto"


@SQLITE_ONLY
def test_weekend_request_without_rep_goes_to_review(make_app):
    client, _ = make_app()
    body = submit(client, request("weekend", requested_start="2026-12-05T14:00:00-07:00"))
    assert body["status"] == "escalated_manual_review"
    assert body["reasons"] == ["slot_unavailable"]


@SQLITE_ONLY
def test_calendar_busy_lookup_error(make_app, calendar_double):
    calendar_double.busy_error = IntegrationError("google", 401, "invalid_grant")
    client, components = make_app(calendar=calendar_double)
    body = submit(client, request("err-busy", rep="alice@ourco.example"))
    assert body["status"] == "escalated_on_error"
    assert body["reasons"] == ["api_error:google:401:invalid_grant"]
    booking = components.bookings.get_by_request(body["request_id"])
    assert booking is not None and booking.status == BookingStatus.RELEASED  # held, let go
    assert calendar_double.create_calls == 0


@SQLITE_ONLY
def test_broken_sandbox_calendar_from_the_example_config(make_app):
    client, _ = make_app()
    # Tuesday 10:00 in Sydney, inside Dmitri's day; the example sandbox refuses his calendar.
    body = submit(
        client,
        request(
            "err-dmitri",
            timezone="Australia/Sydney",
            requested_start="2026-12-01T10:00:00",
            rep="dmitri@ourco.example",
        ),
    )
    assert body["status"] == "escalated_on_error"
    assert body["reasons"] == ["api_error:google:403:insufficientPermissions"]


def test_unexpected_calendar_crash_is_escalated_not_500(make_app, calendar_double):
    calendar_double.create_error = RuntimeError("socket closed")
    client, components = make_app(calendar=calendar_double)
    body = submit(client, request("err-2"))
    assert body["status"] == "escalated_on_error"
    assert body["reasons"] == ["internal_error:RuntimeError"]
    booking = components.bookings.get_by_request(body["request_id"])
    assert booking is not None and booking.status == BookingStatus.RELEASED
    escalation = components.escalations.get_by_request(body["request_id"])
    assert escalation is not None and escalation.kind == "on_error"
    assert components.requests.get(body["request_id"]).status == "escalated_on_error"


def test_email_failure_after_the_event_exists(make_app, sandbox_email):
    error = IntegrationError("postmark", 422, "406", "inactive recipient")
    client, components = make_app(email=EmailDouble(sandbox_email, error))
    body = submit(client, request("err-3"))
    assert body["status"] == "escalated_on_error"
    assert body["reasons"] == ["api_error:postmark:422:406"]
    assert body["booking"]["rep"] == "alice@ourco.example"
    assert body["booking"]["start"] == "2026-12-01T21:00:00Z"
    assert body["booking"]["event_id"]
    request_id = body["request_id"]

    booking = components.bookings.get_by_request(request_id)
    assert booking is not None and booking.status == BookingStatus.CONFIRMED
    assert booking.confirmation_sent_at is None
    assert len(outbox(components, service="calendar", request_id=request_id)) == 1
    assert outbox(components, service="email") == []
    escalation = components.escalations.get_by_request(request_id)
    assert escalation is not None and escalation.kind == "on_error"
    assert escalation.detail == EMAIL_FAILED_DETAIL.format(error=error)
    assert "NOT confirmed" in escalation.detail
    (message,) = slack_messages(components, request_id)
    assert "NOT confirmed" in str(message["blocks"])
    assert_decisions(components, request_id, ("auto", []), ("escalated_on_error", body["reasons"]))


def test_unexpected_email_failure_after_the_event_exists(make_app, sandbox_email):
    client, components = make_app(email=EmailDouble(sandbox_email, TimeoutError("timed out")))
    body = submit(client, request("err-4"))
    assert body["status"] == "escalated_on_error"
    assert body["booking"]["start"] == "2026-12-01T21:00:00Z"
    escalation = components.escalations.get_by_request(body["request_id"])
    assert escalation is not None and "NOT confirmed" in (escalation.detail or "")


@SQLITE_ONLY
@pytest.mark.parametrize(
    "error", [IntegrationError("slack", 200, "channel_not_found"), RuntimeError("slack is down")]
)
def test_slack_failure_keeps_the_escalation(make_app, error):
    chat = ChatDouble(error)
    client, components = make_app(chat=chat)
    body = submit(client, request("chat-1", notes="urgent"))
    assert body["status"] == "escalated_manual_review"
    assert body["reasons"] == ["keyword:urgent"]
    escalation = components.escalations.get_by_request(body["request_id"])
    assert escalation is not None
    assert escalation.notify_error
    assert escalation.notified_at is None
    assert chat.calls == ["post_message"]
    assert components.requests.get(body["request_id"]).status == "escalated_manual_review"


def test_slack_failure_on_a_vip_with_a_known_owner(make_app):
    client, components = make_app(chat=ChatDouble(RuntimeError("slack is down")))
    body = submit(client, request("chat-2", email="dana@majorclient.com"))
    assert body["status"] == "escalated_vip"
    escalation = components.escalations.get_by_request(body["request_id"])
    assert escalation is not None
    assert escalation.assignee == "U0OLIVIA" and escalation.notify_error


@SQLITE_ONLY
def test_slack_integration_error_on_owner_lookup(make_app):
    client, components = make_app(chat=ChatDouble(IntegrationError("slack", 200, "ratelimited")))
    body = submit(client, request("chat-3", email="pat@bigcorp.net"))
    assert body["status"] == "escalated_vip"
    escalation = components.escalations.get_by_request(body["request_id"])
    assert escalation is not None
    assert escalation.assignee is None
    assert "marcus@ourco.example" in (escalation.detail or "")
    assert escalation.notify_error


def test_slack_crash_on_owner_lookup_keeps_the_escalation(make_app):
    client, components = make_app(chat=ChatDouble(RuntimeError("slack is down")))
    body = submit(client, request("chat-4", email="pat@bigcorp.net"))
    assert body["status"] == "escalated_vip"
    escalation = components.escalations.get_by_request(body["request_id"])
    assert escalation is not None and escalation.notify_error


def test_long_provider_error_message_is_still_escalated(make_app, calendar_double):
    calendar_double.create_error = IntegrationError(
        "google", 500, "backendError", "<html>" + "x" * 3000 + "</html>"
    )
    client, components = make_app(calendar=calendar_double)
    body = submit(client, request("err-long"))
    assert body["status"] == "escalated_on_error"
    assert body["reasons"] == ["api_error:google:500:backendError"]
    escalation = components.escalations.get_by_request(body["request_id"])
    assert escalation is not None and escalation.detail
