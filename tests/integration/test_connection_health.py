"""A rep's connection going bad (SPEC §5): the first failure escalates on error and alerts
the channel once; that rep's later requests go to review until the rep reconnects."""

from __future__ import annotations

from typing import Any

import pytest

from integrations.base import ConnectionBrokenError
from tests.conftest import post_signed
from tests.integration.doubles import CalendarDouble, outbox, quiet

CHANNEL = "C0ESCALATE"
REP = "alice@ourco.example"


def revoked() -> ConnectionBrokenError:
    return ConnectionBrokenError(
        "google",
        400,
        "invalid_grant",
        f"Google refused {REP}'s refresh token (invalid_grant): reconnect",
        rep_email=REP,
    )


def request(submission_id: str, hour: int) -> dict[str, Any]:
    return {
        "submission_id": submission_id,
        "name": "Dana Reyes",
        "email": "dana@northwind.example",
        "timezone": "America/New_York",
        "requested_start": f"2026-12-01T{hour:02d}:00:00",
        "rep": REP,
    }


def submit(client, payload: dict[str, Any]) -> dict[str, Any]:
    response = post_signed(quiet(client), payload)
    assert response.status_code == 200, response.text
    return response.json()


def alerts(components) -> list[dict[str, Any]]:
    return [
        m.payload
        for m in outbox(components, service="slack")
        if "connection of" in m.payload.get("text", "")
    ]


def test_broken_connection_alerts_once_and_routes_the_rep_to_review(
    make_app, sandbox_calendar
) -> None:
    calendar = CalendarDouble(sandbox_calendar)
    calendar.busy_error = revoked()
    client, components = make_app(calendar=calendar)

    first = submit(client, request("health-1", 10))
    assert first["status"] == "escalated_on_error"
    assert first["reasons"] == ["api_error:google:400:invalid_grant"]

    second = submit(client, request("health-2", 11))
    assert second["status"] == "escalated_manual_review"
    assert second["reasons"] == [f"connection_broken:google:{REP}"]
    assert calendar.busy_calls == 1  # a broken rep's calendar is not asked again

    sent = alerts(components)
    assert len(sent) == 1
    assert sent[0]["channel"] == CHANNEL
    assert "/oauth/google/start?rep=alice@ourco.example" in sent[0]["text"]
    connection = components.connections.get(REP, "google")
    assert connection is not None and connection.broken

    # Reconnecting (what the OAuth callback does) heals it: requests book again.
    components.connections.save_connected(REP, "google", refresh_token=None, scopes=[])
    calendar.busy_error = None
    assert submit(client, request("health-3", 14))["status"] == "booked_auto"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_unnamed_requests_skip_a_broken_rep(make_app, sandbox_calendar) -> None:
    calendar = CalendarDouble(sandbox_calendar)
    client, components = make_app(calendar=calendar)
    components.connections.mark_broken(REP, "google", "invalid_grant")
    payload = request("health-4", 10)
    del payload["rep"]
    result = submit(client, payload)
    assert result["status"] == "booked_auto"
    assert result["booking"]["rep"] != REP


def test_mark_broken_tells_exactly_one_caller(migrated_db) -> None:
    from storage.repositories import ConnectionRepository

    connections = ConnectionRepository(migrated_db)
    results = [connections.mark_broken(REP, "google", "invalid_grant") for _ in range(3)]
    assert results == [True, False, False]
    assert connections.broken_reps() == {REP: "invalid_grant"}


def test_a_failure_from_before_a_reconnect_does_not_break_the_new_consent(migrated_db) -> None:
    from storage.repositories import ConnectionRepository

    connections = ConnectionRepository(migrated_db)
    connections.save_connected(REP, "google", refresh_token=None, scopes=[])
    old = connections.get(REP, "google")
    assert old is not None
    connections.save_connected(REP, "google", refresh_token=None, scopes=[])  # reconnected

    # A call that began with the old consent fails late: the new consent stays connected.
    assert not connections.mark_broken(
        REP, "google", "invalid_grant", connected_at=old.connected_at
    )
    assert connections.broken_reps() == {}
    current = connections.get(REP, "google")
    assert current is not None
    assert connections.mark_broken(
        REP, "google", "invalid_grant", connected_at=current.connected_at
    )
