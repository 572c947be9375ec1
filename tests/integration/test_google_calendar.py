"""GoogleCalendar through the real google-auth and google-api-python-client against our fake
Google (tests/fakes/google.py), reached the way production reaches Google: GOOGLE_API_URL,
GOOGLE_TOKEN_URL and a refresh token stored encrypted by the connection repository.

The database only holds the connection here, so these run on SQLite; the consent tests
(test_google_oauth.py) cover both databases.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cryptography.fernet import Fernet

from bot.domain.config import Config, Rep
from bot.domain.intervals import Interval
from bot.domain.slots import slot_problem
from integrations.base import ConnectionBrokenError, EventDraft, IntegrationError
from integrations.google import (
    FREEBUSY_MAX_RANGE,
    MAX_ATTEMPTS,
    MEET_POLLS,
    GoogleCalendar,
    event_id_for,
)
from storage.crypto import TokenCipher
from storage.db import Database
from storage.migrate import upgrade
from storage.repositories import ConnectionRepository
from testkit.fakes.google import EVENTS_SCOPE, FREEBUSY_SCOPE, MEET_BASE, FakeGoogle
from tests.conftest import make_settings

ALICE = "alice@ourco.example"
ROOM = "room-2@resource.calendar.google.com"
TEAM = "sales-team@group.calendar.google.com"
CLIENT = "dana@northwind.example"
DAY = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
KEY = Fernet.generate_key().decode()


class Sleeps:
    """The injected sleep: records the waits instead of taking them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    upgrade(sqlite_url)
    db = Database(sqlite_url)
    yield db
    db.dispose()


@pytest.fixture
def connections(sqlite_db: Database) -> ConnectionRepository:
    return ConnectionRepository(sqlite_db, TokenCipher(KEY))


@pytest.fixture
def alice(example_config: Config) -> Rep:
    rep = example_config.rep(ALICE)
    assert rep is not None
    return rep


@pytest.fixture
def fake(alice: Rep) -> Iterator[FakeGoogle]:
    with FakeGoogle(calendars=alice.calendars) as server:
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_calendar(
    db: Database,
    connections: ConnectionRepository,
    fake: FakeGoogle,
    sleeps: Sleeps,
    **overrides: object,
) -> GoogleCalendar:
    settings = make_settings(
        db.url,
        frontdesk_encryption_key=KEY,
        frontdesk_public_url="https://frontdesk.example",
        **{**fake.settings(), **overrides},
    )
    return GoogleCalendar(settings, connections, timeout=5, sleep=sleeps)


@pytest.fixture
def calendar(
    sqlite_db: Database, connections: ConnectionRepository, fake: FakeGoogle, sleeps: Sleeps
) -> GoogleCalendar:
    return make_calendar(sqlite_db, connections, fake, sleeps)


def connect(
    fake: FakeGoogle,
    connections: ConnectionRepository,
    rep: Rep,
    scopes: tuple[str, ...] = (EVENTS_SCOPE, FREEBUSY_SCOPE),
) -> str:
    token = fake.issue_refresh_token(scopes)
    connections.save_connected(rep.email, "google", refresh_token=token, scopes=list(scopes))
    return token


def draft(start: datetime, *, request_id: str = "req_01", video: bool = False) -> EventDraft:
    return EventDraft(
        request_id=request_id,
        calendar_id=ALICE,
        start=start,
        end=start + timedelta(minutes=30),
        summary="Demo with Dana Reyes",
        description="Booked by Frontdesk",
        attendees=(CLIENT, ALICE),
        client_timezone="America/Phoenix",
        rep_timezone="America/New_York",
        video=video,
    )


def hour(h: int, minutes: int = 0) -> datetime:
    return DAY + timedelta(hours=h, minutes=minutes)


# ------------------------------------------------------------------------ credentials


def test_access_token_is_refreshed_once_and_reused(calendar, fake, connections, alice):
    refresh_token = connect(fake, connections, alice)
    calendar.busy(alice, hour(0), hour(24))
    calendar.busy(alice, hour(0), hour(24))

    tokens = fake.calls("token")
    assert len(tokens) == 1
    assert tokens[0].body["grant_type"] == "refresh_token"
    assert tokens[0].body["refresh_token"] == refresh_token
    bearers = {call.headers["authorization"] for call in fake.calls("freeBusy")}
    assert len(bearers) == 1
    assert bearers.pop().removeprefix("Bearer ") in fake.access_tokens


def test_a_reconnected_rep_is_served_with_the_new_token(calendar, fake, connections, alice):
    old = connect(fake, connections, alice)
    calendar.busy(alice, hour(0), hour(24))
    fake.revoke(old)
    new = connect(fake, connections, alice)

    calendar.busy(alice, hour(0), hour(24))

    assert [call.body["refresh_token"] for call in fake.calls("token")] == [old, new]


def test_revoked_token_is_a_broken_connection(calendar, fake, connections, alice):
    fake.revoke(connect(fake, connections, alice))

    with pytest.raises(ConnectionBrokenError) as caught:
        calendar.busy(alice, hour(0), hour(24))

    error = caught.value
    assert (error.status, error.reason, error.rep_email) == (400, "invalid_grant", ALICE)
    assert "https://frontdesk.example/oauth/google/start?rep=alice@ourco.example" in error.message
    assert fake.calls("freeBusy") == []
    # Marking the connection broken is the booking path's decision, not the integration's.
    stored = connections.get(ALICE, "google")
    assert stored is not None and not stored.broken


def test_no_stored_connection_says_how_to_connect(calendar, fake, alice):
    with pytest.raises(ConnectionBrokenError) as caught:
        calendar.busy(alice, hour(0), hour(24))

    assert caught.value.reason == "not_connected"
    assert "oauth/google/start?rep=alice@ourco.example" in caught.value.message
    assert fake.calls() == []


def test_a_broken_connection_is_not_used(calendar, fake, connections, alice):
    connect(fake, connections, alice)
    connections.mark_broken(ALICE, "google", "invalid_grant at refresh")

    with pytest.raises(ConnectionBrokenError) as caught:
        calendar.create_event(alice, draft(hour(21)))

    assert "invalid_grant at refresh" in caught.value.message
    assert fake.calls() == []


def test_scope_missing_at_refresh_is_a_broken_connection(calendar, fake, connections, alice):
    connect(fake, connections, alice, scopes=(FREEBUSY_SCOPE,))

    with pytest.raises(ConnectionBrokenError) as caught:
        calendar.create_event(alice, draft(hour(21)))

    error = caught.value
    assert error.code == "api_error:google:403:insufficientPermissions"
    assert "lacks scope calendar.events" in error.message
    assert len(fake.calls("token")) == 1
    assert fake.calls("events.insert") == []


def test_api_insufficient_permissions_is_a_broken_connection(calendar, fake, connections, alice):
    connect(fake, connections, alice)
    fake.fail_next("events.insert", 403, "insufficientPermissions")

    with pytest.raises(ConnectionBrokenError) as caught:
        calendar.create_event(alice, draft(hour(21)))

    assert caught.value.code == "api_error:google:403:insufficientPermissions"
    assert caught.value.rep_email == ALICE
    assert "calendar.events" in caught.value.message
    assert len(fake.calls("events.insert")) == 1  # not retried


# ------------------------------------------------------------------------ busy time


def test_busy_time_from_every_calendar_comes_back_together(calendar, fake, connections, alice):
    connect(fake, connections, alice)
    fake.add_busy(ALICE, hour(14), hour(15))
    fake.add_busy(ROOM, hour(17), hour(18))
    fake.add_busy(TEAM, hour(19), hour(20))

    busy = calendar.busy(alice, hour(0), hour(24))

    assert busy == [
        Interval(hour(14), hour(15)),
        Interval(hour(17), hour(18)),
        Interval(hour(19), hour(20)),
    ]
    (call,) = fake.calls("freeBusy")
    assert [item["id"] for item in call.body["items"]] == list(alice.calendars)
    assert (call.body["timeMin"], call.body["timeMax"]) == (
        "2026-12-01T00:00:00Z",
        "2026-12-02T00:00:00Z",
    )


def test_busy_room_alone_blocks_the_slot(calendar, fake, connections, alice, example_config):
    connect(fake, connections, alice)
    fake.add_busy(ROOM, hour(17), hour(18))  # 12:00-13:00 in New York
    busy = calendar.busy(alice, hour(0), hour(24))
    now = DAY - timedelta(days=1)
    booking = example_config.booking

    assert slot_problem(alice, hour(17), hour(17, 30), busy, now=now, booking=booking)
    assert slot_problem(alice, hour(15), hour(15, 30), busy, now=now, booking=booking) is None


def test_sixty_calendars_take_exactly_two_queries(calendar, fake, connections, alice):
    many = tuple(f"cal-{n:02d}@group.calendar.google.com" for n in range(60))
    rep = alice.model_copy(update={"calendars": many})
    fake.add_calendar(*many)
    fake.add_busy(many[3], hour(14), hour(15))
    fake.add_busy(many[55], hour(16), hour(17))
    connect(fake, connections, rep)
    fake.expect_parallel("freeBusy", 2)

    busy = calendar.busy(rep, hour(0), hour(24))

    calls = fake.calls("freeBusy")
    assert len(calls) == 2
    asked = [[item["id"] for item in call.body["items"]] for call in calls]
    assert sorted(len(ids) for ids in asked) == [10, 50]
    assert sorted(ids for batch in asked for ids in batch) == sorted(many)
    assert busy == [Interval(hour(14), hour(15)), Interval(hour(16), hour(17))]


def test_a_hundred_days_are_queried_in_bounded_ranges(calendar, fake, connections, alice):
    connect(fake, connections, alice)
    early, late = hour(14), hour(14) + timedelta(days=90)
    fake.add_busy(ALICE, early, early + timedelta(hours=1))
    fake.add_busy(ROOM, late, late + timedelta(hours=1))
    fake.expect_parallel("freeBusy", 2)

    busy = calendar.busy(alice, DAY, DAY + timedelta(days=100))

    ranges = sorted(
        (datetime.fromisoformat(c.body["timeMin"]), datetime.fromisoformat(c.body["timeMax"]))
        for c in fake.calls("freeBusy")
    )
    assert len(ranges) == 2
    assert ranges[0][0] == DAY and ranges[-1][1] == DAY + timedelta(days=100)
    assert ranges[0][1] == ranges[1][0]
    assert all(end - start <= FREEBUSY_MAX_RANGE for start, end in ranges)
    assert busy == [
        Interval(early, early + timedelta(hours=1)),
        Interval(late, late + timedelta(hours=1)),
    ]


def test_an_unknown_calendar_is_an_error_naming_it(calendar, fake, connections, alice):
    rep = alice.model_copy(
        update={"calendars": (*alice.calendars, "gone@group.calendar.google.com")}
    )
    connect(fake, connections, rep)

    with pytest.raises(IntegrationError) as caught:
        calendar.busy(rep, hour(0), hour(24))

    error = caught.value
    assert not isinstance(error, ConnectionBrokenError)
    assert error.code == "api_error:google:404:notFound"
    assert "gone@group.calendar.google.com" in error.message


# ------------------------------------------------------------------------ events


@pytest.mark.parametrize(
    ("client_local", "rep_local"),
    [
        ("2026-12-01T14:00:00-07:00", "2026-12-01T16:00:00-05:00"),  # EST
        ("2026-07-14T14:00:00-07:00", "2026-07-14T17:00:00-04:00"),  # EDT
    ],
)
def test_the_event_starts_at_the_exact_instant(
    calendar, fake, connections, alice, client_local, rep_local
):
    connect(fake, connections, alice)
    start = datetime.fromisoformat(client_local)  # a Phoenix client's 14:00 MST

    created = calendar.create_event(alice, draft(start))

    (call,) = fake.calls("events.insert")
    sent = call.body
    assert sent["start"] == {"dateTime": rep_local, "timeZone": "America/New_York"}
    assert datetime.fromisoformat(sent["start"]["dateTime"]).astimezone(UTC).hour == 21
    assert datetime.fromisoformat(sent["end"]["dateTime"]) - start == timedelta(minutes=30)
    assert call.query["sendUpdates"] == "none"
    assert call.query["conferenceDataVersion"] == "1"
    assert [a["email"] for a in sent["attendees"]] == [CLIENT, ALICE]
    assert sent["id"] == created.event_id == event_id_for(draft(start).idempotency_key)
    assert created.ical_uid == f"{created.event_id}@google.com"


def test_event_ids_are_base32hex_and_deterministic():
    first = event_id_for(draft(hour(21)).idempotency_key)
    assert first == event_id_for(draft(hour(21)).idempotency_key)
    assert first != event_id_for(draft(hour(21), request_id="req_02").idempotency_key)
    # A person booking the same request at another time gets a new event, not the old one.
    assert first != event_id_for(draft(hour(22)).idempotency_key)
    assert 5 <= len(first) <= 1024
    assert set(first) <= set("0123456789abcdefghijklmnopqrstuv")


def test_a_retry_after_a_crash_adopts_the_event(
    sqlite_db, connections, fake, sleeps, calendar, alice
):
    connect(fake, connections, alice)
    first = calendar.create_event(alice, draft(hour(21)))
    # The process died before recording the booking; a new one retries the same request.
    restarted = make_calendar(sqlite_db, connections, fake, sleeps)

    again = restarted.create_event(alice, draft(hour(21)))

    assert again == first
    assert len(fake.events_on(ALICE)) == 1
    assert len(fake.calls("events.insert")) == 2
    assert len(fake.calls("events.get")) == 1


def test_a_lost_answer_is_retried_into_the_same_event(calendar, fake, connections, alice, sleeps):
    connect(fake, connections, alice)
    fake.fail_next("events.insert", 503, "backendError", commit=True)

    created = calendar.create_event(alice, draft(hour(21)))

    assert len(fake.events_on(ALICE)) == 1
    assert created.event_id == event_id_for(draft(hour(21)).idempotency_key)
    assert len(fake.calls("events.insert")) == 2
    assert sleeps.waits == [0.5]


def test_meet_link_is_awaited_while_pending(calendar, fake, connections, alice, sleeps):
    connect(fake, connections, alice)
    fake.meet_pending_next(still_pending_gets=1)

    created = calendar.create_event(alice, draft(hour(21), video=True))

    assert created.video_url is not None and created.video_url.startswith(MEET_BASE)
    (insert,) = fake.calls("events.insert")
    request = insert.body["conferenceData"]["createRequest"]
    assert request == {
        "requestId": created.event_id,
        "conferenceSolutionKey": {"type": "hangoutsMeet"},
    }
    assert len(fake.calls("events.get")) == 2
    assert len(sleeps.waits) == 2


def test_a_meet_link_that_never_comes_leaves_the_event_booked_without_one(
    calendar, fake, connections, alice, sleeps
):
    # The event exists with the client invited: no orphan event, no "nothing was booked".
    connect(fake, connections, alice)
    fake.meet_pending_next(still_pending_gets=MEET_POLLS + 5)

    created = calendar.create_event(alice, draft(hour(21), video=True))

    assert created.video_url is None
    assert [e["id"] for e in fake.events_on(ALICE)] == [created.event_id]
    assert len(fake.calls("events.get")) == MEET_POLLS


def test_without_video_no_meet_is_requested(calendar, fake, connections, alice):
    connect(fake, connections, alice)

    created = calendar.create_event(alice, draft(hour(21)))

    assert created.video_url is None
    assert "conferenceData" not in fake.calls("events.insert")[0].body


def test_rate_limit_honours_retry_after(calendar, fake, connections, alice, sleeps):
    connect(fake, connections, alice)
    fake.rate_limit_next("events.insert", retry_after=2)

    created = calendar.create_event(alice, draft(hour(21)))

    assert sleeps.waits == [2.0]
    assert len(fake.calls("events.insert")) == 2
    assert len(fake.events_on(ALICE)) == 1
    assert created.event_id == event_id_for(draft(hour(21)).idempotency_key)


def test_user_rate_limit_403_is_retried_with_backoff(calendar, fake, connections, alice, sleeps):
    connect(fake, connections, alice)
    fake.fail_next("freeBusy", 403, "userRateLimitExceeded")

    calendar.busy(alice, hour(0), hour(24))

    assert sleeps.waits == [0.5]
    assert len(fake.calls("freeBusy")) == 2


def test_server_errors_give_up_after_bounded_attempts(calendar, fake, connections, alice, sleeps):
    connect(fake, connections, alice)
    fake.fail_next("events.insert", 500, "backendError", times=MAX_ATTEMPTS)

    with pytest.raises(IntegrationError) as caught:
        calendar.create_event(alice, draft(hour(21)))

    assert caught.value.code == "api_error:google:500:backendError"
    assert len(fake.calls("events.insert")) == MAX_ATTEMPTS
    assert sleeps.waits == [0.5, 1.0]
    assert fake.events_on(ALICE) == []


def test_a_client_error_is_not_retried(calendar, fake, connections, alice, sleeps):
    connect(fake, connections, alice)
    fake.fail_next("events.insert", 404, "notFound")

    with pytest.raises(IntegrationError) as caught:
        calendar.create_event(alice, draft(hour(21)))

    assert caught.value.code == "api_error:google:404:notFound"
    assert sleeps.waits == []


def test_a_silent_server_is_a_timeout(sqlite_db, connections, fake, sleeps, alice) -> None:
    connect(fake, connections, alice)
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        settings = make_settings(
            sqlite_db.url,
            frontdesk_encryption_key=KEY,
            **{**fake.settings(), "google_api_url": f"http://127.0.0.1:{port}/"},
        )
        calendar = GoogleCalendar(settings, connections, timeout=0.3, sleep=sleeps)

        with pytest.raises(IntegrationError) as caught:
            calendar.busy(alice, hour(0), hour(24))

    assert (caught.value.status, caught.value.provider) == ("timeout", "google")


def test_an_unreachable_api_is_a_network_error(sqlite_db, connections, fake, sleeps, alice):
    connect(fake, connections, alice)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, not listening: connections are refused
        settings = make_settings(
            sqlite_db.url,
            frontdesk_encryption_key=KEY,
            **{**fake.settings(), "google_api_url": f"http://127.0.0.1:{port}/"},
        )
        calendar = GoogleCalendar(settings, connections, timeout=2, sleep=sleeps)

        with pytest.raises(IntegrationError) as caught:
            calendar.busy(alice, hour(0), hour(24))

    assert caught.value.status == "network"
    assert caught.value.reason == "ConnectionRefusedError"


# ------------------------------------------------------------------------ probe


def test_probe_all_good(calendar, fake, connections, alice):
    connect(fake, connections, alice)

    probes = calendar.probe(alice)

    assert [(p.subject, p.check, p.ok) for p in probes] == [
        (ALICE, "token", True),
        (ALICE, "scopes", True),
        *[(c, "calendar", True) for c in alice.calendars],
    ]


def test_probe_revoked_token(calendar, fake, connections, alice):
    fake.revoke(connect(fake, connections, alice))

    (probe,) = calendar.probe(alice)

    assert (probe.check, probe.ok) == ("token", False)
    assert "invalid_grant" in probe.detail and "reconnect at" in probe.detail


def test_probe_names_a_missing_calendar_and_a_missing_scope(calendar, fake, connections, alice):
    rep = alice.model_copy(
        update={"calendars": (*alice.calendars, "gone@group.calendar.google.com")}
    )
    connect(fake, connections, rep, scopes=(FREEBUSY_SCOPE,))

    probes = {(p.subject, p.check): p for p in calendar.probe(rep)}

    assert probes[(ALICE, "token")].ok
    scopes = probes[(ALICE, "scopes")]
    assert not scopes.ok and "calendar.events" in scopes.detail
    missing = probes[("gone@group.calendar.google.com", "calendar")]
    assert not missing.ok and "notFound" in missing.detail
    assert all(probes[(c, "calendar")].ok for c in alice.calendars)


def test_probe_never_raises_when_not_connected(calendar, alice):
    (probe,) = calendar.probe(alice)

    assert (probe.check, probe.ok) == ("token", False)
    assert "not connected" in probe.detail


def test_rep_zone_is_used_even_when_the_draft_comes_in_utc(calendar, fake, connections, alice):
    connect(fake, connections, alice)
    start = datetime(2026, 3, 8, 14, 0, tzinfo=ZoneInfo("America/New_York"))  # spring forward

    calendar.create_event(alice, draft(start.astimezone(UTC)))

    sent = fake.calls("events.insert")[0].body["start"]
    assert sent == {"dateTime": "2026-03-08T14:00:00-04:00", "timeZone": "America/New_York"}
