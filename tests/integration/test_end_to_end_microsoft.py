"""A Microsoft 365 rep end to end: the signed intake webhook of the real app, with Graph (fake
Entra and Graph over TLS), Postmark and Slack all real clients against our fakes (Google in
sandbox), judged by what the fakes got.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import trustme
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.components import Components, build_components
from bot.config import load_config
from bot.domain.reasons import SLOT_UNAVAILABLE
from bot.messages.confirmation import INVITE_FROM_REP
from bot.messages.connections import RECONNECT_MICROSOFT
from bot.providers import build_integrations
from integrations.microsoft import MicrosoftCalendar
from integrations.slack import SlackChat
from storage.db import Database
from storage.repositories import BookingRepository, ConnectionRepository, OutboxRepository
from testkit.fakes.graph import EVENTS, GET_SCHEDULE, FakeGraph
from testkit.fakes.postmark import SEND, FakePostmark
from testkit.fakes.slack import FakeSlack
from tests.conftest import FixedClock, make_settings, post_signed
from tests.integration.one_rep_config import one_rep_config

BOB = "bob@ourco.example"
ROOM = "room-spree@ourco.example"
CHANNEL = "C0ESCALATE"
CLIENT = "dana@northwind.example"
SENDER = "bookings@ourco.example"
BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
SLACK_SIGNING_SECRET = "fake-slack-signing-secret"
TEAMS_JOIN = "https://teams.microsoft.com/"
MEETING = timedelta(minutes=30)

# Monday 23 November 2026; the client asks for Tuesday 1 December, 10:00 in New York (EST),
# which is 16:00 in Berlin (CET): inside bob's hours, the notice and the horizon.
NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
REQUESTED_LOCAL = "2026-12-01T10:00:00"
INSTANT = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
CLIENT_TIME = "10:00 AM EST"
# Graph's Retry-After, unlike the 1 s the client would back off by on its own.
RETRY_AFTER = 2

CONFIG = one_rep_config(
    email=BOB,
    slack_id="U0BOB",
    zone=BERLIN,
    provider="microsoft",
    calendars=[BOB, ROOM],
    channel=CHANNEL,
)

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@dataclass
class Frontdesk:
    """The running app and the three fake services it talks to."""

    client: TestClient
    components: Components
    graph: FakeGraph
    postmark: FakePostmark
    slack: FakeSlack
    sleeps: list[float]  # what the Microsoft client waited before retrying, in seconds

    def submit(self, submission_id: str) -> dict[str, Any]:
        response = post_signed(self.client, form(submission_id))
        assert response.status_code == 200, response.text
        return dict(response.json())

    def posts(self) -> list[dict[str, Any]]:
        return self.slack.posts()

    def escalations(self) -> list[dict[str, Any]]:
        return self.slack.escalation_posts()

    def alerts(self) -> list[dict[str, Any]]:
        """Broken-connection alerts: the ones telling an Entra admin what to grant."""
        return [post for post in self.posts() if RECONNECT_MICROSOFT in post.get("text", "")]


def form(submission_id: str) -> dict[str, Any]:
    return {
        "submission_id": submission_id,
        "name": "Dana Reyes",
        "email": CLIENT,
        "company": "Northwind",
        "notes": "Looking forward to the demo.",
        "timezone": NEW_YORK,
        "requested_start": REQUESTED_LOCAL,
        "duration_minutes": 30,
        "rep": BOB,
    }


@pytest.fixture(scope="module")
def ca_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    """One CA for the module: the fake's certificates come from it, and clients trust it."""
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("tls") / "fake-microsoft-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


@pytest.fixture
def frontdesk(
    migrated_db: Database,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ca_bundle: tuple[trustme.CA, Path],
) -> Iterator[Frontdesk]:
    ca, bundle = ca_bundle
    # msal refuses a plain-http authority; both it and requests trust the fake's CA this way.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    path = tmp_path / "frontdesk.toml"
    path.write_text(CONFIG)
    config = load_config(path)
    with ExitStack() as stack:
        graph = stack.enter_context(FakeGraph(mailboxes={BOB, ROOM}, ca=ca))
        postmark = stack.enter_context(FakePostmark())
        slack = stack.enter_context(FakeSlack())
        settings = make_settings(
            migrated_db.url,
            **graph.settings(),
            **postmark.settings(SENDER),
            **slack.settings(SLACK_SIGNING_SECRET),
        )
        integrations = build_integrations(
            settings,
            config,
            outbox=OutboxRepository(migrated_db),
            bookings=BookingRepository(migrated_db),
            connections=ConnectionRepository(migrated_db),
        )
        assert isinstance(integrations.calendars["microsoft"], MicrosoftCalendar)
        assert integrations.modes() == {
            "calendar:google": "sandbox",
            "calendar:microsoft": "microsoft",
            "email": "postmark",
            "slack": "slack",
            "sms": "sandbox",
        }
        # The same Graph client the app builds, but its waits are recorded instead of slept,
        # so a Retry-After is checked without holding the test for it.
        sleeps: list[float] = []
        microsoft = MicrosoftCalendar(settings, sleep=sleeps.append)
        # The real SlackChat, without its one-post-a-second pacing per channel (tested in
        # test_slack_chat.py): here it would only make the alert wait behind the escalation.
        assert integrations.slack_client is not None
        chat = SlackChat(
            integrations.slack_client, OutboxRepository(migrated_db), post_interval=0.0
        )
        components = build_components(
            settings,
            config,
            db=migrated_db,
            clock=FixedClock(NOW),
            integrations=replace(
                integrations,
                calendars={**integrations.calendars, "microsoft": microsoft},
                chat=chat,
            ),
        )
        client = stack.enter_context(TestClient(create_app(components, recover_on_start=False)))
        yield Frontdesk(client, components, graph, postmark, slack, sleeps)


def graph_instant(value: dict[str, str]) -> datetime:
    """A dateTimeTimeZone as Graph reads it: a wall time without offset, in the named zone."""
    wall = datetime.fromisoformat(value["dateTime"])
    assert wall.tzinfo is None, value
    return wall.replace(tzinfo=ZoneInfo(value["timeZone"])).astimezone(UTC)


# --------------------------------------------------------------------------- 1. booked


def test_a_new_york_client_is_booked_on_teams_and_confirmed_without_an_ics(
    frontdesk: Frontdesk,
) -> None:
    result = frontdesk.submit("ny-10am")

    assert result["status"] == "booked_auto", result
    assert result["reasons"] == []
    (event,) = frontdesk.graph.events
    assert event.mailbox == BOB
    assert event.body["start"] == {"dateTime": "2026-12-01T16:00:00", "timeZone": BERLIN}
    assert graph_instant(event.body["start"]) == INSTANT
    assert graph_instant(event.body["end"]) == INSTANT + MEETING
    assert (event.start, event.end) == (INSTANT, INSTANT + MEETING)  # as the fake read them
    assert event.body["isOnlineMeeting"] is True
    assert event.body["onlineMeetingProvider"] == "teamsForBusiness"
    assert uuid.UUID(event.body["transactionId"])
    # Bob organises it from his mailbox; Graph invites the client itself.
    assert event.body["attendees"] == [{"emailAddress": {"address": CLIENT}, "type": "required"}]
    (schedule,) = frontdesk.graph.calls(GET_SCHEDULE)
    assert schedule.body["schedules"] == [BOB, ROOM]

    booking = result["booking"]
    assert booking["rep"] == BOB
    assert booking["start"] == "2026-12-01T15:00:00Z"
    assert booking["end"] == "2026-12-01T15:30:00Z"
    assert booking["event_id"] == event.payload["id"]
    assert booking["ical_uid"] == event.payload["iCalUId"]
    assert booking["video_url"] == event.payload["onlineMeeting"]["joinUrl"]
    assert booking["video_url"].startswith(TEAMS_JOIN)

    (email,) = frontdesk.postmark.sent
    assert email["To"] == CLIENT
    assert email["From"] == SENDER
    assert CLIENT_TIME in email["Subject"]
    assert CLIENT_TIME in email["TextBody"]
    assert booking["video_url"] in email["TextBody"]
    assert booking["video_url"] in email["HtmlBody"]
    # One invitation, never two: Graph sent it, so the email carries no .ics (SPEC §5).
    assert email["Attachments"] == []
    assert INVITE_FROM_REP.format(rep=BOB) in email["TextBody"]
    assert "BEGIN:VCALENDAR" not in email["TextBody"]
    assert frontdesk.escalations() == []
    assert frontdesk.sleeps == []


# --------------------------------------------------------------------------- 2. busy room


@SQLITE_ONLY
def test_busy_time_on_the_room_mailbox_alone_blocks_the_slot(frontdesk: Frontdesk) -> None:
    frontdesk.graph.add_busy(ROOM, INSTANT, INSTANT + MEETING)

    result = frontdesk.submit("room-busy")

    assert result["status"] == "escalated_manual_review"
    assert result["reasons"] == ["slot_unavailable"]
    assert "booking" not in result
    (schedule,) = frontdesk.graph.calls(GET_SCHEDULE)
    assert schedule.body["schedules"] == [BOB, ROOM]
    assert frontdesk.graph.calls(EVENTS) == []
    assert frontdesk.graph.events == []
    assert frontdesk.postmark.calls() == []
    (post,) = frontdesk.escalations()
    assert post["channel"] == CHANNEL
    assert SLOT_UNAVAILABLE in str(post["blocks"])


# --------------------------------------------------------------------------- 3. throttled


@SQLITE_ONLY
def test_a_throttled_get_schedule_is_retried_after_retry_after_and_books(
    frontdesk: Frontdesk,
) -> None:
    frontdesk.graph.throttle_next(GET_SCHEDULE, retry_after=RETRY_AFTER)

    result = frontdesk.submit("throttled")

    assert result["status"] == "booked_auto", result
    assert frontdesk.sleeps == [float(RETRY_AFTER)]
    assert len(frontdesk.graph.calls(GET_SCHEDULE)) == 2
    (event,) = frontdesk.graph.events
    assert result["booking"]["event_id"] == event.payload["id"]
    assert len(frontdesk.postmark.calls(SEND)) == 1
    assert frontdesk.escalations() == []


# --------------------------------------------------------------------------- 4. access denied


@SQLITE_ONLY
def test_access_denied_on_create_escalates_breaks_the_connection_and_alerts_once(
    frontdesk: Frontdesk,
) -> None:
    frontdesk.graph.deny_next(EVENTS, "ErrorAccessDenied")

    first = frontdesk.submit("denied-1")

    assert first["status"] == "escalated_on_error", first
    assert first["reasons"] == ["api_error:microsoft:403:ErrorAccessDenied"]
    assert "booking" not in first
    assert len(frontdesk.graph.calls(EVENTS)) == 1
    assert frontdesk.graph.events == []
    # No meeting was created, so the client must not be told one was.
    assert frontdesk.postmark.calls() == []
    connection = frontdesk.components.connections.get(BOB, "microsoft")
    assert connection is not None and connection.broken
    (alert,) = frontdesk.alerts()
    assert alert["channel"] == CHANNEL
    assert BOB in alert["text"]
    assert "Calendars.ReadWrite application permission" in alert["text"]
    assert len(frontdesk.escalations()) == 1
    graph_calls = len(frontdesk.graph.calls())

    second = frontdesk.submit("denied-2")

    assert second["status"] == "escalated_manual_review", second
    assert second["reasons"] == [f"connection_broken:microsoft:{BOB}"]
    assert len(frontdesk.graph.calls()) == graph_calls  # a broken rep is not asked again
    assert frontdesk.postmark.calls() == []
    assert len(frontdesk.alerts()) == 1
    assert len(frontdesk.escalations()) == 2
