"""The Home tab view: validates through slack_sdk.models and says what the viewer owns."""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.home import NOTHING_FOR_YOU, home_view
from storage.models import StoredEscalation
from storage.repositories.connections import Connection


def _escalation(request_id: str, kind: str) -> StoredEscalation:
    return StoredEscalation(id=1, request_id=request_id, kind=kind, assignee="U0OLIVIA")


def _connection(rep: str, status: str, reason: str | None = None) -> Connection:
    at = datetime(2026, 11, 23, tzinfo=UTC)
    return Connection(rep, "google", status, (), None, at, reason, at if reason else None)


def _text(view) -> str:
    return str(view.to_dict())


def test_home_lists_the_viewers_escalations_and_broken_connections() -> None:
    view = home_view(
        [
            (_escalation("req_1", "vip"), "Dana <Reyes>", "https://x.slack.com/archives/D1/p1"),
            (_escalation("req_2", "on_error"), "Sam", None),
        ],
        open_count=7,
        unclaimed=3,
        connections=[
            _connection("alice@ourco.example", "connected"),
            _connection("dmitri@ourco.example", "broken", "invalid_grant"),
        ],
    )
    view.validate_json()
    text = _text(view)
    assert "*7* open escalations, *3* not claimed yet." in text
    link = "<https://x.slack.com/archives/D1/p1|open>"
    assert f":star: VIP request: Dana &lt;Reyes&gt; — {link}" in text
    assert ":rotating_light: Automation failed: Sam — `req_2`" in text
    assert "google of dmitri@ourco.example: invalid_grant" in text
    assert "alice@ourco.example" not in text


def test_home_with_nothing_to_do() -> None:
    view = home_view([], open_count=0, unclaimed=0, connections=[])
    view.validate_json()
    assert NOTHING_FOR_YOU in _text(view)
    assert "All calendar connections OK." in _text(view)
