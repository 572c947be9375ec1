"""Issue #4 end to end: the signed intake webhook of the real app, with Google, Postmark and
Slack all real clients against our fake servers (Microsoft in sandbox), judged by what they got.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from icalendar import Calendar

from bot.app import create_app
from bot.components import Components, build_components
from bot.config import load_config
from bot.domain.reasons import KNOWN_REASONS, SLOT_UNAVAILABLE
from bot.messages.connections import RECONNECT_GOOGLE
from bot.providers import build_integrations
from bot.services.processing import EMAIL_FAILED_DETAIL
from integrations.google import MAX_ATTEMPTS
from integrations.slack import SlackChat
from storage.crypto import TokenCipher
from storage.db import Database
from storage.repositories import BookingRepository, ConnectionRepository, OutboxRepository
from testkit.fakes.google import MEET_BASE, FakeGoogle
from testkit.fakes.postmark import SEND, FakePostmark
from testkit.fakes.slack import FakeSlack
from tests.conftest import FixedClock, make_settings, post_signed
from tests.integration.one_rep_config import one_rep_config

ALICE = "alice@ourco.example"
ROOM = "room-2@resource.calendar.google.com"
TEAM = "sales-team@group.calendar.google.com"
CHANNEL = "C0ESCALATE"
CLIENT = "dana@northwind.example"
SENDER = "bookings@ourco.example"
PHOENIX = "America/Phoenix"
NEW_YORK = "America/New_York"
PUBLIC_URL = "http://testserver"  # the TestClient's host, so the consent callback comes back
KEY = Fernet.generate_key().decode()
SLACK_SIGNING_SECRET = "fake-slack-signing-secret"
MEETING = timedelta(minutes=30)

# Alice works until 18:00: a Phoenix client's 14:00 is 17:00 in a New York summer, and the
# example config's 17:00 close would turn that case away for the wrong reason.
CONFIG = one_rep_config(
    email=ALICE,
    slack_id="U0ALICE",
    zone=NEW_YORK,
    provider="google",
    calendars=[ALICE, TEAM, ROOM],
    channel=CHANNEL,
)

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
SLACK_DATE = re.compile(r"<!date\^(\d+)\^\{date_short_pretty\} \{time\}\|([^>]*)>")


@dataclass(frozen=True)
class Season:
    """A Phoenix client's 14:00 MST on a Tuesday, and what it is in New York that day."""

    name: str
    now: datetime  # the app's clock: a few days before, inside the booking horizon
    local: str  # requested_start as the form sends it: no offset, in the client's zone
    instant: datetime
    rep_time: str  # the instant as a New York viewer reads it


DECEMBER = Season(
    "december",
    datetime(2026, 11, 23, 15, 0, tzinfo=UTC),
    "2026-12-01T14:00:00",
    datetime(2026, 12, 1, 21, 0, tzinfo=UTC),
    "4:00 PM EST",
)
JULY = Season(
    "july",
    datetime(2027, 7, 9, 15, 0, tzinfo=UTC),
    "2027-07-13T14:00:00",
    datetime(2027, 7, 13, 21, 0, tzinfo=UTC),
    "5:00 PM EDT",
)


@dataclass
class Frontdesk:
    """The running app, its clock, and the three fake services it talks to."""

    client: TestClient
    components: Components
    clock: FixedClock
    google: FakeGoogle
    postmark: FakePostmark
    slack: FakeSlack
    refresh_token: str  # alice's, as the fake Google issued it at consent

    def submit(self, payload: dict[str, Any]) -> dict[str, Any]:
        response = post_signed(self.client, payload)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def posts(self) -> list[dict[str, Any]]:
        return self.slack.posts()

    def escalations(self) -> list[dict[str, Any]]:
        return self.slack.escalation_posts()

    def alerts(self) -> list[dict[str, Any]]:
        """Broken-connection alerts for alice: the ones naming her reconnect link."""
        link = RECONNECT_GOOGLE.format(url=PUBLIC_URL, rep=ALICE)
        return [post for post in self.posts() if link in post.get("text", "")]


def form(
    submission_id: str, season: Season, notes: str = "Looking forward to the demo."
) -> dict[str, Any]:
    return {
        "submission_id": submission_id,
        "name": "Dana Reyes",
        "email": CLIENT,
        "company": "Northwind",
        "notes": notes,
        "timezone": PHOENIX,
        "requested_start": season.local,
        "duration_minutes": 30,
        "rep": ALICE,
    }


def connect(client: TestClient) -> None:
    """Alice's consent through the app's routes, answered by the fake Google."""
    start = client.get("/oauth/google/start", params={"rep": ALICE}, follow_redirects=False)
    assert start.status_code == 302, start.text
    consent = requests.get(start.headers["location"], allow_redirects=False, timeout=5)
    assert consent.status_code == 302
    callback = client.get(str(consent.headers["location"]).removeprefix(PUBLIC_URL))
    assert callback.status_code == 200, callback.text


@pytest.fixture
def frontdesk(
    migrated_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Frontdesk]:
    # oauthlib refuses plain-http token endpoints unless told this is a local test.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    path = tmp_path / "frontdesk.toml"
    path.write_text(CONFIG)
    config = load_config(path)
    with ExitStack() as stack:
        google = stack.enter_context(FakeGoogle(calendars=[ALICE, TEAM, ROOM]))
        postmark = stack.enter_context(FakePostmark())
        slack = stack.enter_context(FakeSlack())
        settings = make_settings(
            migrated_db.url,
            **google.settings(),
            frontdesk_encryption_key=KEY,
            frontdesk_public_url=PUBLIC_URL,
            **postmark.settings(SENDER),
            **slack.settings(SLACK_SIGNING_SECRET),
        )
        clock = FixedClock(DECEMBER.now)
        integrations = build_integrations(
            settings,
            config,
            outbox=OutboxRepository(migrated_db),
            bookings=BookingRepository(migrated_db),
            connections=ConnectionRepository(migrated_db, TokenCipher(KEY)),
        )
        # The real SlackChat, without its one-post-a-second pacing per channel (tested in
        # test_slack_chat.py): here it would only make every second escalation wait.
        assert integrations.slack_client is not None
        chat = SlackChat(
            integrations.slack_client, OutboxRepository(migrated_db), post_interval=0.0
        )
        components = build_components(
            settings,
            config,
            db=migrated_db,
            clock=clock,
            integrations=replace(integrations, chat=chat),
        )
        client = stack.enter_context(TestClient(create_app(components, recover_on_start=False)))
        connect(client)
        (refresh_token,) = google.grants
        yield Frontdesk(client, components, clock, google, postmark, slack, refresh_token)


# --------------------------------------------------------------------------- helpers


def google_instant(when: dict[str, str]) -> datetime:
    """The instant of an event's start/end, read both ways Google could: the offset in
    dateTime, and the wall clock in timeZone. They must agree."""
    stamped = datetime.fromisoformat(when["dateTime"])
    walled = stamped.replace(tzinfo=ZoneInfo(when["timeZone"]))
    assert stamped.astimezone(UTC) == walled.astimezone(UTC), when
    return stamped.astimezone(UTC)


def invitation(email: dict[str, Any]) -> Any:
    """The VEVENT of the email's .ics attachment."""
    (attachment,) = email["Attachments"]
    assert attachment["ContentType"].startswith("text/calendar")
    calendar = Calendar.from_ical(base64.b64decode(attachment["Content"]))
    (event,) = calendar.walk("VEVENT")
    return event


def texts(value: Any) -> list[str]:
    """Every `text` string anywhere in a message's blocks."""
    if isinstance(value, list):
        return [text for item in value for text in texts(item)]
    if not isinstance(value, dict):
        return []
    found = [value["text"]] if isinstance(value.get("text"), str) else []
    return found + [text for item in value.values() for text in texts(item)]


def shown(post: dict[str, Any]) -> str:
    return "\n".join([post.get("text", ""), *texts(post.get("blocks") or [])])


def clock_label(instant: datetime, zone: str) -> str:
    local = instant.astimezone(ZoneInfo(zone))
    return f"{local:%I:%M %p}".lstrip("0") + f" {local.tzname()}"


# --------------------------------------------------------------------------- the wiring


@SQLITE_ONLY
def test_every_service_but_microsoft_is_the_real_client(frontdesk: Frontdesk) -> None:
    assert frontdesk.components.integrations.modes() == {
        "calendar:google": "google",
        "calendar:microsoft": "sandbox",
        "email": "postmark",
        "slack": "slack",
        "sms": "sandbox",
    }
    connection = frontdesk.components.connections.get(ALICE, "google")
    assert connection is not None and connection.refresh_token == frontdesk.refresh_token


# --------------------------------------------------------------------------- 1. Arizona


@SQLITE_ONLY
@pytest.mark.parametrize("season", [DECEMBER, JULY], ids=lambda season: season.name)
def test_a_phoenix_client_gets_the_same_instant_winter_and_summer(
    frontdesk: Frontdesk, season: Season
) -> None:
    frontdesk.clock.now = season.now

    result = frontdesk.submit(form(f"az-{season.name}", season))

    assert result["status"] == "booked_auto", result
    assert result["reasons"] == []
    (event,) = frontdesk.google.events_on(ALICE)
    assert event["start"]["timeZone"] == NEW_YORK
    assert google_instant(event["start"]) == season.instant
    assert google_instant(event["end"]) == season.instant + MEETING
    (insert,) = frontdesk.google.calls("events.insert")
    assert insert.query["sendUpdates"] == "none"
    assert insert.query["conferenceDataVersion"] == "1"
    assert [attendee["email"] for attendee in insert.body["attendees"]] == [CLIENT, ALICE]

    booking = result["booking"]
    assert booking["rep"] == ALICE
    assert booking["start"] == season.instant.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert booking["event_id"] == event["id"]
    assert booking["ical_uid"] == event["iCalUID"]
    assert booking["video_url"] == event["hangoutLink"]
    assert booking["video_url"].startswith(MEET_BASE)

    (email,) = frontdesk.postmark.sent
    assert email["To"] == CLIENT
    assert "2:00 PM MST" in email["Subject"]
    assert "2:00 PM MST" in email["TextBody"]
    assert booking["video_url"] in email["TextBody"]
    ics = invitation(email)
    assert str(ics["UID"]) == event["iCalUID"]
    assert ics.decoded("DTSTART") == season.instant
    assert frontdesk.escalations() == []


@SQLITE_ONLY
@pytest.mark.parametrize("season", [DECEMBER, JULY], ids=lambda season: season.name)
def test_an_urgent_phoenix_request_shows_every_viewer_the_same_instant(
    frontdesk: Frontdesk, season: Season
) -> None:
    frontdesk.clock.now = season.now
    notes = "Urgent: we need this before our board meeting."

    result = frontdesk.submit(form(f"az-urgent-{season.name}", season, notes))

    assert result["status"] == "escalated_manual_review"
    assert result["reasons"] == ["keyword:urgent"]
    (post,) = frontdesk.escalations()
    assert post["channel"] == CHANNEL
    ((unix, fallback),) = SLACK_DATE.findall(shown(post))
    assert int(unix) == int(season.instant.timestamp())
    assert clock_label(datetime.fromtimestamp(int(unix), UTC), NEW_YORK) == season.rep_time
    assert "14:00 MST" in fallback
    assert frontdesk.google.calls("events.insert") == []
    assert frontdesk.postmark.calls() == []


# --------------------------------------------------------------------------- 2. busy room


@SQLITE_ONLY
def test_busy_time_on_the_room_calendar_alone_blocks_the_slot(frontdesk: Frontdesk) -> None:
    frontdesk.google.add_busy(ROOM, DECEMBER.instant, DECEMBER.instant + MEETING)

    result = frontdesk.submit(form("room-busy", DECEMBER))

    assert result["status"] == "escalated_manual_review"
    assert result["reasons"] == ["slot_unavailable"]
    assert "booking" not in result
    (query,) = frontdesk.google.calls("freeBusy")
    assert {item["id"] for item in query.body["items"]} == {ALICE, TEAM, ROOM}
    assert frontdesk.google.calls("events.insert") == []
    assert frontdesk.google.events_on(ALICE) == []
    assert frontdesk.postmark.calls() == []
    (post,) = frontdesk.escalations()
    assert SLOT_UNAVAILABLE in shown(post)


# --------------------------------------------------------------------------- 3. missing scope


def test_a_missing_scope_escalates_alerts_once_and_sends_no_email(frontdesk: Frontdesk) -> None:
    frontdesk.google.fail_next("events.insert", 403, "insufficientPermissions")

    first = frontdesk.submit(form("scope-1", DECEMBER))

    assert first["status"] == "escalated_on_error"
    assert first["reasons"] == ["api_error:google:403:insufficientPermissions"]
    assert "booking" not in first
    assert frontdesk.google.events_on(ALICE) == []
    # No meeting was created, so the client must not be told one was.
    assert frontdesk.postmark.calls() == []
    (escalation,) = frontdesk.escalations()
    assert "Google Calendar refused: missing scope calendar.events" in shown(escalation)
    connection = frontdesk.components.connections.get(ALICE, "google")
    assert connection is not None and connection.broken
    (alert,) = frontdesk.alerts()
    assert alert["channel"] == CHANNEL
    google_calls = len(frontdesk.google.calls())

    second = frontdesk.submit(form("scope-2", DECEMBER))

    assert second["status"] == "escalated_manual_review"
    assert second["reasons"] == [f"connection_broken:google:{ALICE}"]
    assert len(frontdesk.alerts()) == 1
    assert len(frontdesk.escalations()) == 2
    assert len(frontdesk.google.calls()) == google_calls  # a broken rep is not asked again
    assert frontdesk.postmark.calls() == []


# --------------------------------------------------------------------------- 4. revoked token


@SQLITE_ONLY
def test_a_revoked_refresh_token_escalates_on_error_and_alerts_once(
    frontdesk: Frontdesk,
) -> None:
    frontdesk.google.revoke(frontdesk.refresh_token)

    first = frontdesk.submit(form("revoked-1", DECEMBER))

    assert first["status"] == "escalated_on_error"
    assert first["reasons"] == ["api_error:google:400:invalid_grant"]
    refresh = frontdesk.google.calls("token")[-1]
    assert refresh.body["grant_type"] == "refresh_token"
    assert frontdesk.google.calls("freeBusy") == []
    assert frontdesk.postmark.calls() == []
    (escalation,) = frontdesk.escalations()
    assert KNOWN_REASONS["invalid_grant"] in shown(escalation)
    (alert,) = frontdesk.alerts()
    assert alert["channel"] == CHANNEL

    second = frontdesk.submit(form("revoked-2", DECEMBER))

    assert second["reasons"] == [f"connection_broken:google:{ALICE}"]
    assert len(frontdesk.alerts()) == 1


# --------------------------------------------------------------------------- 5. email refused


def test_a_refused_email_after_the_event_says_the_client_was_not_confirmed(
    frontdesk: Frontdesk,
) -> None:
    frontdesk.postmark.reject_next(406)

    result = frontdesk.submit(form("inactive-1", DECEMBER))

    assert result["status"] == "escalated_on_error"
    assert result["reasons"] == ["api_error:postmark:422:406"]
    (event,) = frontdesk.google.events_on(ALICE)
    assert result["booking"]["event_id"] == event["id"]
    assert result["booking"]["start"] == "2026-12-01T21:00:00Z"
    (send,) = frontdesk.postmark.calls(SEND)
    assert send.body is not None and send.body["To"] == CLIENT
    assert frontdesk.postmark.sent == []
    (escalation,) = frontdesk.escalations()
    text = shown(escalation)
    assert EMAIL_FAILED_DETAIL.split("{error}")[0].strip() in text
    assert f"Postmark refused: {KNOWN_REASONS['406']}" in text
    assert frontdesk.alerts() == []  # an email problem is not a broken calendar


# --------------------------------------------------------------------------- 6. lost answer


@SQLITE_ONLY
def test_an_insert_whose_answer_was_lost_makes_one_event_and_one_email(
    frontdesk: Frontdesk,
) -> None:
    # Google stores the event, then the answer is lost (a 503 after the work).
    frontdesk.google.fail_next("events.insert", 503, "backendError", retry_after=0, commit=True)
    payload = form("lost-answer", DECEMBER)

    first = frontdesk.submit(payload)
    replay = post_signed(frontdesk.client, payload)

    assert first["status"] == "booked_auto", first
    assert replay.status_code == 200
    assert replay.headers["Idempotent-Replay"] == "true"
    assert replay.json() == first
    (event,) = frontdesk.google.events_on(ALICE)
    assert first["booking"]["event_id"] == event["id"]
    assert len(frontdesk.google.calls("events.insert")) == 2  # the retry met the stored event
    assert len(frontdesk.postmark.calls(SEND)) == 1
    (email,) = frontdesk.postmark.sent
    assert str(invitation(email)["UID"]) == event["iCalUID"]


@SQLITE_ONLY
def test_an_event_google_stored_behind_server_errors_is_not_orphaned(
    frontdesk: Frontdesk,
) -> None:
    # Google stores the event but answers 503, and keeps answering 503 to every retry.
    google = frontdesk.google
    google.fail_next("events.insert", 503, "backendError", retry_after=0, commit=True)
    google.fail_next("events.insert", 503, "backendError", retry_after=0, times=MAX_ATTEMPTS - 1)

    result = frontdesk.submit(form("stored-behind-5xx", DECEMBER))

    assert len(google.calls("events.insert")) == MAX_ATTEMPTS
    (event,) = google.events_on(ALICE)  # on alice's calendar, with the client invited
    assert result.get("booking", {}).get("event_id") == event["id"], result
