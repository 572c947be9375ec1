"""The Home tab view: validates through slack_sdk.models, says what the viewer owns, shows
the KPI periods, and gives every configured rep's calendar connection its state.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.models.views import View

from bot.config import Config
from bot.connection_health import RECONNECT_MICROSOFT
from bot.dashboard import ConnectionState, Period, RepConnection, rep_connections
from bot.kpis import Kpis, Meetings
from handlers.home import (
    CONNECTIONS,
    MAX_CONNECTION_SECTIONS,
    NOTHING_FOR_YOU,
    connection_line,
    home_view,
)
from storage.models import StoredEscalation
from storage.repositories.connections import Connection

AT = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
PUBLIC_URL = "https://frontdesk.ourco.example/"


def _escalation(request_id: str, kind: str) -> StoredEscalation:
    return StoredEscalation(id=1, request_id=request_id, kind=kind, assignee="U0OLIVIA")


def _connection(rep: str, provider: str, status: str, reason: str | None = None) -> Connection:
    return Connection(rep, provider, status, (), None, AT, reason, AT if reason else None)


def _empty_period(label: str, days: int) -> Period:
    kpis = Kpis(
        since=AT - timedelta(days=days),
        until=AT,
        as_of=AT,
        sla_minutes=15,
        requests=0,
        in_progress=0,
        by_route={"auto": 0, "vip": 0, "review": 0, "error": 0},
        escalations={},
        meetings={"auto": Meetings(), "human": Meetings()},
        weeks=(),
    )
    return Period(label, kpis)


def validated(view: View) -> dict[str, Any]:
    view.validate_json()
    payload = view.to_dict()
    assert View(**payload).to_dict() == payload  # parses back as slack_sdk reads it
    assert 0 < len(payload["blocks"]) <= 100
    return payload


def test_every_rep_gets_a_connection_state(example_config: Config) -> None:
    # The example config: alice, chen and dmitri on Google, bruno on Microsoft.
    stored = [
        _connection("alice@ourco.example", "google", "connected"),
        _connection("dmitri@ourco.example", "google", "broken", "invalid_grant"),
        _connection("someone-gone@ourco.example", "google", "connected"),  # not a rep now
    ]

    found = {c.rep_email: c for c in rep_connections(example_config, stored, PUBLIC_URL)}

    assert list(found) == [rep.email for rep in example_config.reps]
    assert found["alice@ourco.example"] == RepConnection(
        "alice@ourco.example", "google", ConnectionState.CONNECTED
    )
    assert found["bruno@ourco.example"] == RepConnection(
        "bruno@ourco.example", "microsoft", ConnectionState.CONNECTED
    )
    assert found["chen@ourco.example"] == RepConnection(
        "chen@ourco.example",
        "google",
        ConnectionState.NOT_CONNECTED,
        connect_url="https://frontdesk.ourco.example/oauth/google/start?rep=chen@ourco.example",
    )
    assert found["dmitri@ourco.example"] == RepConnection(
        "dmitri@ourco.example",
        "google",
        ConnectionState.BROKEN,
        "invalid_grant",
        "https://frontdesk.ourco.example/oauth/google/start?rep=dmitri@ourco.example",
    )


def test_a_broken_microsoft_connection_needs_an_admin(example_config: Config) -> None:
    stored = [_connection("bruno@ourco.example", "microsoft", "broken", "ErrorAccessDenied")]

    [bruno] = [c for c in rep_connections(example_config, stored, "") if c.provider == "microsoft"]

    assert bruno.state == ConnectionState.BROKEN and bruno.connect_url is None
    assert connection_line(bruno) == (
        "• :warning: bruno@ourco.example — Microsoft 365: *broken*: ErrorAccessDenied. "
        + RECONNECT_MICROSOFT
    )


def test_home_lists_kpis_the_viewers_escalations_and_every_connection(
    example_config: Config,
) -> None:
    connections = rep_connections(
        example_config,
        [
            _connection("alice@ourco.example", "google", "connected"),
            _connection("dmitri@ourco.example", "google", "broken", "invalid_grant"),
        ],
        PUBLIC_URL,
    )
    view = home_view(
        [
            (_escalation("req_1", "vip"), "Dana <Reyes>", "https://x.slack.com/archives/D1/p1"),
            (_escalation("req_2", "on_error"), "Sam", None),
        ],
        open_count=7,
        unclaimed=3,
        periods=[_empty_period("Last 7 days", 7), _empty_period("Last 30 days", 30)],
        connections=connections,
    )

    text = str(validated(view))
    assert "*7* open escalations, *3* not claimed yet." in text
    assert "*Last 7 days*" in text and "*Last 30 days*" in text
    link = "<https://x.slack.com/archives/D1/p1|open>"
    assert f":star: VIP request: Dana &lt;Reyes&gt; — {link}" in text
    assert ":rotating_light: Automation failed: Sam — `req_2`" in text
    assert "• :white_check_mark: alice@ourco.example — Google Calendar: connected" in text
    assert "• :white_check_mark: bruno@ourco.example — Microsoft 365: connected" in text
    assert (
        "• :heavy_minus_sign: chen@ourco.example — Google Calendar: not connected yet. "
        "<https://frontdesk.ourco.example/oauth/google/start?rep=chen@ourco.example|"
        "Connect the calendar>"
    ) in text
    assert (
        "• :warning: dmitri@ourco.example — Google Calendar: *broken*: invalid_grant. "
        "<https://frontdesk.ourco.example/oauth/google/start?rep=dmitri@ourco.example|Reconnect>"
    ) in text


def test_home_with_nothing_to_do() -> None:
    view = home_view([], open_count=0, unclaimed=0, periods=[], connections=[])
    text = str(validated(view))
    assert NOTHING_FOR_YOU in text
    assert "No reps configured." in text


def test_a_very_long_rep_list_stays_inside_slacks_limits() -> None:
    connections = [
        RepConnection(
            f"rep{n:04d}-with-a-long-address@a-rather-long-subsidiary.ourco.example",
            "google",
            ConnectionState.BROKEN,
            "invalid_grant: " + "token expired or revoked " * 10,
            f"https://frontdesk.ourco.example/oauth/google/start?rep=rep{n:04d}@ourco.example",
        )
        for n in range(2000)
    ]
    periods = [_empty_period("Last 7 days", 7), _empty_period("Last 30 days", 30)]

    payload = validated(home_view([], 0, 0, periods, connections))

    sections = [
        b["text"]["text"]
        for b in payload["blocks"]
        if b["type"] == "section" and "text" in b and "rep" in b["text"]["text"]
    ]
    assert sections[0].startswith(CONNECTIONS)
    assert len(sections) == MAX_CONNECTION_SECTIONS
    assert all(len(text) <= 3000 for text in sections)
    shown = sum(text.count("• :warning:") for text in sections)
    assert sections[-1].endswith(f"… and {2000 - shown} more: `frontdesk check` lists them all.")
