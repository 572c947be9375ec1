"""GET /sandbox over the HTTP app: a request's messages grouped into one timeline with its
status, a Slack update joined to the message it updates, an SMS reminder drawn as a phone
bubble, the request and service filters, and a real send listed without its content."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import post_signed

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

BOOKED: dict[str, Any] = {
    "submission_id": "timeline-1",
    "name": "Jonas Okafor",
    "email": "jonas@northwind.example",
    "phone": "+12125552319",
    "sms_opt_in": True,
    "timezone": "America/Phoenix",
    "requested_start": "2026-12-01T08:00:00-07:00",
    "rep": "alice@ourco.example",
}
REVIEW: dict[str, Any] = {
    "submission_id": "timeline-2",
    "name": "Priya Nair",
    "email": "priya@brightpath.example",
    "notes": "Urgent: *please* call `first` <https://evil.example|x>",
    "timezone": "America/Phoenix",
    "requested_start": "2026-12-01T09:00:00-07:00",
}


@SQLITE_ONLY
def test_each_request_is_one_timeline_with_its_status(make_app, clock):
    client, components = make_app()
    booked = post_signed(client, BOOKED).json()
    review = post_signed(client, REVIEW).json()
    assert (booked["status"], review["status"]) == ("booked_auto", "escalated_manual_review")
    # The SMS reminder, due a day before the meeting.
    clock.now = clock.now.replace(year=2026, month=11, day=30, hour=16) + timedelta(minutes=1)
    assert components.dispatcher.tick()["sent"] >= 1
    # Claimed by Alice (the ops group is empty in the sandbox: she is made the assignee).
    escalation = components.escalations.get_by_request(review["request_id"])
    components.escalations.reassign(review["request_id"], "U0ALICE")
    assert escalation is not None
    components.triage.claim(review["request_id"], "U0ALICE")

    page = client.get("/sandbox").text
    assert page.count('<article class="request"') == 2
    assert "Booked automatically" in page
    assert "Manual review: handed to a person · claimed by @alice" in page

    one = client.get("/sandbox", params={"request": review["request_id"]}).text
    assert one.count('<article class="request"') == 1
    assert "Slack message updated" in one  # the chat.update joined its request
    assert "Claimed by @alice" in one
    assert "Notes mention <strong>urgent</strong>" in one  # the reason, in words
    assert '<code class="reason">keyword:urgent</code>' in one
    assert 'href="https://evil.example"' not in one  # a client's note is never markup

    sms = client.get("/sandbox", params={"request": booked["request_id"], "service": "sms"}).text
    assert '<div class="phone">' in sms and '<div class="bubble">' in sms
    assert "To +12125552319" in sms
    assert "Confirmation email" not in sms  # the filter keeps the SMS only

    other = client.get("/sandbox", params={"service": "calendar"}).text
    assert other.count('<article class="request"') == 1 and booked["request_id"] in other


@SQLITE_ONLY
def test_bad_filters_are_a_clear_4xx(make_app):
    client, _ = make_app()
    for params in ({"service": "fax"}, {"request": "<script>"}, {"limit": "0"}):
        response = client.get("/sandbox", params=params)
        assert response.status_code == 422, params
        assert response.json()["error"] == "validation_failed"
    assert client.get("/sandbox", params={"tz": "Mars/Olympus"}).status_code == 200
