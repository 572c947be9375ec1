"""The Home tab view: validates through slack_sdk.models, says what the viewer owns, shows
the KPI periods, and gives every configured rep's calendar connection its state.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
from slack_sdk.models.views import View

from bot.domain.config import Config
from bot.messages.connections import RECONNECT_MICROSOFT
from bot.messages.home import (
    CONNECTIONS,
    KPIS_UNAVAILABLE,
    MAX_CONNECTION_SECTIONS,
    MAX_YOURS_SECTIONS,
    MORE_YOURS,
    NOTHING_FOR_YOU,
    YOURS,
    connection_line,
    home_view,
    yours_line,
)
from bot.reports.dashboard import ConnectionState, Period, RepConnection, rep_connections
from bot.services.home import recent_kpis
from bot.settings import Settings
from handlers.slack_context import SlackServices
from storage.models import StoredEscalation
from storage.repositories.connections import Connection
from tests.unit.kpi_builders import kpis

AT = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
PUBLIC_URL = "https://frontdesk.ourco.example/"
PUBLIC = Settings(frontdesk_public_url=PUBLIC_URL)


def _escalation(request_id: str, kind: str) -> StoredEscalation:
    return StoredEscalation(id=1, request_id=request_id, kind=kind, assignee="U0OLIVIA")


def _long_mine(count: int) -> list[tuple[StoredEscalation, str, str | None]]:
    """Escalations with 200-character client names (the column's limit, full of characters
    escaping lengthens) and long permalinks: a few lines fill a section.
    """
    return [
        (
            _escalation(f"req_{n:03d}", "manual_review"),
            (f"Client {n:03d} <Holdings & Partners> " * 10)[:200],
            f"https://ourco-frontdesk.slack.com/archives/C0ESCALATE{n:03d}/"
            f"p17{n:014d}?thread_ts=17{n:08d}.{n:06d}&cid=C0ESCALATE{n:03d}",
        )
        for n in range(count)
    ]


def _yours_sections(payload: dict[str, Any]) -> list[str]:
    """The sections from *Yours* up to the divider before the connections."""
    blocks = payload["blocks"]
    first = next(
        i for i, b in enumerate(blocks) if b.get("text", {}).get("text", "").startswith(YOURS)
    )
    sections = []
    for block in blocks[first:]:
        if block["type"] != "section":
            break
        sections.append(block["text"]["text"])
    return sections


def _connection(rep: str, provider: str, status: str, reason: str | None = None) -> Connection:
    return Connection(rep, provider, status, (), None, AT, reason, AT if reason else None)


def _empty_period(label: str, days: int) -> Period:
    return Period(label, kpis(since=AT - timedelta(days=days), days=days))


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

    found = {c.rep_email: c for c in rep_connections(example_config, stored, PUBLIC)}

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

    [bruno] = [
        c
        for c in rep_connections(example_config, stored, Settings(frontdesk_public_url=""))
        if c.provider == "microsoft"
    ]

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
        PUBLIC,
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


def test_a_long_list_of_yours_is_split_across_sections_with_every_line_intact() -> None:
    mine = _long_mine(20)
    periods = [_empty_period("Last 7 days", 7), _empty_period("Last 30 days", 30)]

    payload = validated(home_view(mine, 20, 0, periods, []))

    sections = _yours_sections(payload)
    assert 1 < len(sections) <= MAX_YOURS_SECTIONS
    assert sections[0].splitlines()[0] == YOURS
    assert all(len(text) <= 3000 for text in sections)
    shown = [line for text in sections for line in text.splitlines()][1:]
    assert shown == [yours_line(*one) for one in mine]  # each whole, in order, none lost
    assert all(line.endswith("|open>") and "&amp;" in line for line in shown)


def test_more_of_yours_than_fit_are_counted_in_a_last_line() -> None:
    mine = _long_mine(300)
    periods = [_empty_period("Last 7 days", 7), _empty_period("Last 30 days", 30)]

    payload = validated(home_view(mine, 300, 0, periods, []))

    sections = _yours_sections(payload)
    assert len(sections) == MAX_YOURS_SECTIONS
    lines = [line for text in sections for line in text.splitlines()][1:]
    *shown, more = lines
    assert shown == [yours_line(*one) for one in mine[: len(shown)]]
    assert more == MORE_YOURS.format(count=300 - len(shown))


def test_kpis_that_fail_leave_a_note_and_the_rest_of_the_tab(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken() -> list[Period]:
        raise RuntimeError("statement timeout")

    services = cast(SlackServices, SimpleNamespace(dashboard=SimpleNamespace(recent=broken)))
    with caplog.at_level(logging.ERROR, logger="frontdesk.home"):
        periods = recent_kpis(services)
    assert periods is None
    [record] = caplog.records
    assert record.exc_info is not None and "statement timeout" in str(record.exc_info[1])

    mine = [(_escalation("req_1", "vip"), "Dana", None)]
    payload = validated(home_view(mine, 1, 1, periods, []))
    texts = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]
    assert KPIS_UNAVAILABLE in texts
    assert any("Dana — `req_1`" in text for text in texts)
    assert "Last 7 days" not in str(payload)
