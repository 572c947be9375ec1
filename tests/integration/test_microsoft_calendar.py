"""MicrosoftCalendar through the real msal and requests against our fake Entra authority and
Graph (tests/fakes/graph.py), served over TLS from a CA made for the test run.
"""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme

from bot.domain.config import Rep
from bot.domain.intervals import Interval
from integrations.base import ConnectionBrokenError, EventDraft, IntegrationError
from integrations.microsoft import MicrosoftCalendar
from testkit.fakes.graph import CLIENT_SECRET, EVENTS, GET_SCHEDULE, OPENID, TOKEN, FakeGraph
from tests.conftest import make_settings

ALICE = "alice@ourco.example"
CLIENT = "dana.reyes@majorclient.example"
T0 = datetime(2026, 1, 12, 14, 0, tzinfo=UTC)  # a Monday, 09:00 in New York

StartFake = Callable[..., FakeGraph]


@pytest.fixture(scope="session")
def ca_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[trustme.CA, Path]:
    """One CA for the run: the fakes' certificates come from it, and clients trust only it."""
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("tls") / "fake-microsoft-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, path


@pytest.fixture
def start_fake(
    ca_bundle: tuple[trustme.CA, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[StartFake]:
    ca, path = ca_bundle
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(path))
    started: list[FakeGraph] = []

    def start(**options: Any) -> FakeGraph:
        options.setdefault("mailboxes", {ALICE})
        fake = FakeGraph(ca=ca, **options).start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


@pytest.fixture
def fake(start_fake: StartFake) -> FakeGraph:
    return start_fake()


@pytest.fixture
def sleeps() -> list[float]:
    return []


def make_calendar(
    fake: FakeGraph, sleeps: list[float] | None = None, *, timeout: float = 5.0, **settings: Any
) -> MicrosoftCalendar:
    values = {**fake.settings(), **settings}
    sink = sleeps if sleeps is not None else []
    return MicrosoftCalendar(
        make_settings("sqlite://", **values), timeout=timeout, sleep=sink.append
    )


def make_rep(*calendars: str, email: str = ALICE, timezone: str = "America/New_York") -> Rep:
    return Rep(
        email=email,
        timezone=timezone,
        working_hours={"mon": "09:00-17:00"},
        provider="microsoft",
        booking_calendar=email,
        calendars=calendars,
    )


def make_draft(
    start: datetime = T0,
    *,
    minutes: int = 30,
    request_id: str = "req_01HZX",
    zone: str = "America/New_York",
    video: bool = True,
) -> EventDraft:
    return EventDraft(
        request_id=request_id,
        calendar_id=ALICE,
        start=start,
        end=start + timedelta(minutes=minutes),
        summary="Dana Reyes (Major Client)",
        description="Wants to talk about the renewal.",
        attendees=(CLIENT, ALICE),
        client_timezone="America/Phoenix",
        rep_timezone=zone,
        video=video,
    )


def graph_instant(value: dict[str, str]) -> datetime:
    """A dateTimeTimeZone the fake answered, as an aware UTC datetime."""
    assert value["timeZone"] == "UTC"
    return datetime.fromisoformat(value["dateTime"]).replace(tzinfo=UTC)


# ------------------------------------------------------------------ the app token


def test_the_token_comes_from_the_tenant_with_the_graph_scope_and_is_reused(
    fake: FakeGraph,
) -> None:
    calendar = make_calendar(fake)

    calendar.busy(make_rep(), T0, T0 + timedelta(days=1))
    calendar.busy(make_rep(), T0, T0 + timedelta(days=2))

    [discovery] = fake.calls(OPENID)
    assert discovery.path == f"/{fake.tenant_id}/v2.0/.well-known/openid-configuration"
    [token_call] = fake.calls(TOKEN)
    assert token_call.body["grant_type"] == "client_credentials"
    assert token_call.body["client_id"] == fake.client_id
    assert token_call.body["scope"] == f"{fake.origin}/.default"  # no /v1.0 in the scope
    graph_calls = fake.calls(GET_SCHEDULE)
    assert len(graph_calls) == 2
    assert {call.headers["authorization"] for call in graph_calls} == {
        f"Bearer {token}" for token in fake.tokens
    }
    assert len(fake.tokens) == 1


@pytest.mark.parametrize("graph_path", ["/v1.0", "/beta"])
@pytest.mark.parametrize("trailing_slash", ["", "/"])
def test_the_scope_is_the_origin_of_the_graph_url_whatever_its_path(
    start_fake: StartFake, graph_path: str, trailing_slash: str
) -> None:
    fake = start_fake(graph_path=graph_path)
    calendar = make_calendar(fake, ms_graph_url=fake.graph_url + trailing_slash)

    calendar.busy(make_rep(), T0, T0 + timedelta(hours=8))

    [token_call] = fake.calls(TOKEN)
    assert token_call.body["scope"] == f"{fake.origin}/.default"
    [call] = fake.calls(GET_SCHEDULE)
    assert call.path == f"{graph_path}/users/{ALICE}/calendar/getSchedule"


def test_an_invalid_client_secret_is_invalid_client_and_says_what_to_check(
    fake: FakeGraph,
) -> None:
    calendar = make_calendar(fake, ms_client_secret="an-expired-secret")

    with pytest.raises(IntegrationError) as caught:
        calendar.busy(make_rep(), T0, T0 + timedelta(hours=8))

    assert not isinstance(caught.value, ConnectionBrokenError)
    assert caught.value.code == "api_error:microsoft:401:invalid_client"
    assert "AADSTS7000215" in caught.value.message
    assert "MS_CLIENT_SECRET" in caught.value.message
    assert "admin" in caught.value.message
    assert "Correlation ID" not in caught.value.message
    assert fake.calls(GET_SCHEDULE) == []


def test_an_unknown_tenant_names_ms_tenant_id(fake: FakeGraph) -> None:
    calendar = make_calendar(fake, ms_tenant_id="not-our-tenant")

    with pytest.raises(IntegrationError) as caught:
        calendar.busy(make_rep(), T0, T0 + timedelta(hours=8))

    assert caught.value.code == "api_error:microsoft:400:invalid_authority"
    assert "MS_TENANT_ID" in caught.value.message
    assert "AADSTS90002: Tenant 'not-our-tenant' not found" in caught.value.message
    assert fake.calls(TOKEN) == []


def test_secrets_and_tokens_never_reach_the_logs(
    fake: FakeGraph, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # msal's own level too: a test that ran the CLI's log setup earlier in this process
    # leaves it at INFO (the setup's guard against its token dumps).
    caplog.set_level(logging.DEBUG, logger="msal")
    calendar = make_calendar(fake)
    fake.deny_next(EVENTS)

    calendar.busy(make_rep(), T0, T0 + timedelta(hours=8))
    with pytest.raises(ConnectionBrokenError):
        calendar.create_event(make_rep(), make_draft())
    calendar.create_event(make_rep(), make_draft())

    assert any(r.name == "frontdesk.microsoft" for r in caplog.records)
    assert any(r.name.startswith("msal") for r in caplog.records)  # msal logged at DEBUG
    [token] = fake.tokens
    assert token not in caplog.text
    assert token.split(".")[1] not in caplog.text
    assert CLIENT_SECRET not in caplog.text


# ------------------------------------------------------------------ busy time


def test_busy_reads_every_calendar_in_one_call_in_utc(fake: FakeGraph) -> None:
    team, room = "team-cal@ourco.example", "room-4@ourco.example"
    fake.mailboxes |= {team, room}
    fake.add_busy(ALICE, T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    fake.add_busy(team, T0 + timedelta(hours=3), T0 + timedelta(hours=4), status="tentative")
    fake.add_busy(room, T0 + timedelta(hours=5), T0 + timedelta(hours=6), status="oof")
    fake.add_busy(room, T0 + timedelta(hours=6), T0 + timedelta(hours=7), status="free")
    fake.add_busy(team, T0, T0 + timedelta(hours=8), status="workingElsewhere")

    busy = make_calendar(fake).busy(make_rep(team, room), T0, T0 + timedelta(hours=8))

    assert busy == [
        Interval(T0 + timedelta(hours=h), T0 + timedelta(hours=h + 1)) for h in (1, 3, 5)
    ]
    [call] = fake.calls(GET_SCHEDULE)
    assert call.body["schedules"] == [ALICE, team, room]
    assert call.body["startTime"] == {"dateTime": "2026-01-12T14:00:00", "timeZone": "UTC"}
    assert call.body["endTime"] == {"dateTime": "2026-01-12T22:00:00", "timeZone": "UTC"}
    assert call.headers["prefer"] == 'outlook.timezone="UTC"'


def test_busy_time_comes_back_as_the_same_instants_from_any_zone(fake: FakeGraph) -> None:
    berlin = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 02:30 CET -> 03:30 CEST
    fake.add_busy(ALICE, berlin, berlin + timedelta(hours=1))
    start = berlin.astimezone(make_rep(timezone="Europe/Berlin").zone) - timedelta(hours=2)

    busy = make_calendar(fake).busy(
        make_rep(timezone="Europe/Berlin"), start, start + timedelta(hours=6)
    )

    assert busy == [Interval(berlin, berlin + timedelta(hours=1))]
    assert all(interval.start.utcoffset() == timedelta(0) for interval in busy)


def test_25_calendars_and_70_days_take_four_calls_and_one_token(fake: FakeGraph) -> None:
    calendars = tuple(f"shared-{n:02d}@ourco.example" for n in range(24))  # + the booking one
    fake.mailboxes |= set(calendars)
    end = T0 + timedelta(days=70)
    for n, calendar in enumerate((ALICE, *calendars)):
        fake.add_busy(calendar, T0 + timedelta(days=n), T0 + timedelta(days=n, hours=1))
    fake.add_busy(ALICE, end - timedelta(hours=1), end)  # in the second window only

    busy = make_calendar(fake).busy(make_rep(*calendars), T0, end)

    assert len(busy) == 26
    assert busy[-1] == Interval(end - timedelta(hours=1), end)
    calls = fake.calls(GET_SCHEDULE)
    assert len(calls) == 4
    assert sorted(len(call.body["schedules"]) for call in calls) == [5, 5, 20, 20]
    windows = sorted(
        {(call.body["startTime"]["dateTime"], call.body["endTime"]["dateTime"]) for call in calls}
    )
    assert len(windows) == 2
    assert windows[0][0] == "2026-01-12T14:00:00"
    assert windows[0][1] == windows[1][0]  # contiguous, no gap between chunks
    assert windows[1][1] == "2026-03-23T14:00:00"
    for start, stop in windows:
        assert datetime.fromisoformat(stop) - datetime.fromisoformat(start) < timedelta(days=62)
    assert len(fake.calls(TOKEN)) == 1  # concurrent chunks share one token request


def test_a_calendar_graph_cannot_read_fails_loudly_naming_it(fake: FakeGraph) -> None:
    missing = "old-team@ourco.example"

    with pytest.raises(IntegrationError) as caught:
        make_calendar(fake).busy(make_rep(missing), T0, T0 + timedelta(hours=8))

    assert caught.value.code == "api_error:microsoft:200:ErrorMailRecipientNotFound"
    assert missing in caught.value.message
    assert "calendars" in caught.value.message


def test_a_rep_without_a_mailbox_is_a_404_that_points_at_the_config(fake: FakeGraph) -> None:
    rep = make_rep(email="bob@ourco.example")

    with pytest.raises(IntegrationError) as caught:
        make_calendar(fake).busy(rep, T0, T0 + timedelta(hours=8))

    assert not isinstance(caught.value, ConnectionBrokenError)
    assert caught.value.code == "api_error:microsoft:404:ErrorInvalidUser"
    assert "bob@ourco.example" in caught.value.message
    assert "config" in caught.value.message


# ------------------------------------------------------------------ retries


def test_a_429_is_retried_after_its_retry_after(fake: FakeGraph, sleeps: list[float]) -> None:
    fake.throttle_next(GET_SCHEDULE, retry_after=7)
    fake.add_busy(ALICE, T0, T0 + timedelta(hours=1))

    busy = make_calendar(fake, sleeps).busy(make_rep(), T0, T0 + timedelta(hours=8))

    assert sleeps == [7.0]
    assert len(fake.calls(GET_SCHEDULE)) == 2
    assert busy == [Interval(T0, T0 + timedelta(hours=1))]


def test_throttling_without_retry_after_backs_off_exponentially(
    fake: FakeGraph, sleeps: list[float]
) -> None:
    fake.throttle_next(GET_SCHEDULE, retry_after=None)
    fake.server_error_next(GET_SCHEDULE, status=503)
    fake.server_error_next(GET_SCHEDULE, status=504)

    busy = make_calendar(fake, sleeps).busy(make_rep(), T0, T0 + timedelta(hours=8))

    assert busy == []
    assert sleeps == [1.0, 2.0, 4.0]
    assert len(fake.calls(GET_SCHEDULE)) == 4


def test_throttling_that_never_ends_gives_up_after_three_retries(
    fake: FakeGraph, sleeps: list[float]
) -> None:
    fake.throttle_next(GET_SCHEDULE, retry_after=2, times=10)

    with pytest.raises(IntegrationError) as caught:
        make_calendar(fake, sleeps).busy(make_rep(), T0, T0 + timedelta(hours=8))

    assert caught.value.code == "api_error:microsoft:429:ApplicationThrottled"
    assert "3 retries" in caught.value.message
    assert sleeps == [2.0, 2.0, 2.0]
    assert len(fake.calls(GET_SCHEDULE)) == 4


def test_a_retry_after_too_long_to_wait_gives_up_at_once(
    fake: FakeGraph, sleeps: list[float]
) -> None:
    fake.throttle_next(GET_SCHEDULE, retry_after=3600)

    with pytest.raises(IntegrationError) as caught:
        make_calendar(fake, sleeps).busy(make_rep(), T0, T0 + timedelta(hours=8))

    assert caught.value.status == 429
    assert "3600 s" in caught.value.message
    assert sleeps == []
    assert len(fake.calls(GET_SCHEDULE)) == 1


def test_a_500_is_reported_not_retried(fake: FakeGraph, sleeps: list[float]) -> None:
    fake.server_error_next(EVENTS, status=500)

    with pytest.raises(IntegrationError) as caught:
        make_calendar(fake, sleeps).create_event(make_rep(), make_draft())

    assert caught.value.code == "api_error:microsoft:500:unexpected_response"
    assert "status.cloud.microsoft" in caught.value.message
    assert sleeps == []
    assert len(fake.calls(EVENTS)) == 1


def test_an_unreachable_graph_is_a_network_error_after_retries(
    fake: FakeGraph, sleeps: list[float]
) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    fake.resources.add(f"https://127.0.0.1:{port}")  # Entra knows that Graph; it is down
    calendar = make_calendar(fake, sleeps, ms_graph_url=f"https://127.0.0.1:{port}/v1.0")

    with pytest.raises(IntegrationError) as caught:
        calendar.busy(make_rep(), T0, T0 + timedelta(hours=8))

    assert caught.value.status == "network"
    assert caught.value.reason == "ConnectionRefusedError"
    assert "MS_GRAPH_URL" in caught.value.message
    assert sleeps == [1.0, 2.0, 4.0]


def test_a_slow_graph_is_a_timeout(fake: FakeGraph) -> None:
    fake.stall_next(GET_SCHEDULE, 1.0)

    with pytest.raises(IntegrationError) as caught:
        make_calendar(fake, timeout=0.2).busy(make_rep(), T0, T0 + timedelta(hours=8))

    assert caught.value.status == "timeout"
    assert caught.value.reason == "ReadTimeout"


# ------------------------------------------------------------------ creating events

NEW_YORK, BERLIN = "America/New_York", "Europe/Berlin"


@pytest.mark.parametrize(
    ("zone", "start", "minutes", "wall_start", "wall_end"),
    [
        # New York in winter (EST, UTC-5) and in summer (EDT, UTC-4): 10:00 both times.
        (NEW_YORK, datetime(2026, 1, 15, 15, 0, tzinfo=UTC), 30, "10:00", "10:30"),
        (NEW_YORK, datetime(2026, 7, 15, 14, 0, tzinfo=UTC), 30, "10:00", "10:30"),
        # Berlin the Friday before and the Monday after clocks go forward on 29 March.
        (BERLIN, datetime(2026, 3, 27, 9, 0, tzinfo=UTC), 45, "10:00", "10:45"),
        (BERLIN, datetime(2026, 3, 30, 8, 0, tzinfo=UTC), 45, "10:00", "10:45"),
        # Across the jump: one real hour, two hours on the wall.
        (BERLIN, datetime(2026, 3, 29, 0, 30, tzinfo=UTC), 60, "01:30", "03:30"),
    ],
)
def test_an_event_names_the_wall_time_in_the_reps_zone_and_the_exact_instant(
    fake: FakeGraph, zone: str, start: datetime, minutes: int, wall_start: str, wall_end: str
) -> None:
    draft = make_draft(start, minutes=minutes, zone=zone)

    make_calendar(fake).create_event(make_rep(timezone=zone), draft)

    [event] = fake.events
    day = start.astimezone(make_rep(timezone=zone).zone).date().isoformat()
    assert event.body["start"] == {"dateTime": f"{day}T{wall_start}:00", "timeZone": zone}
    assert event.body["end"]["dateTime"].endswith(f"T{wall_end}:00")
    assert event.body["end"]["timeZone"] == zone
    # How Graph reads dateTime + timeZone gives back exactly the instants asked for.
    assert (event.start, event.end) == (draft.start, draft.end)


@pytest.mark.parametrize("utc_hour", [5, 6])  # 01:30 EDT, then 01:30 EST an hour later
def test_a_wall_time_in_the_fall_back_hour_is_sent_in_utc(fake: FakeGraph, utc_hour: int) -> None:
    draft = make_draft(datetime(2026, 11, 1, utc_hour, 30, tzinfo=UTC), zone=NEW_YORK)

    make_calendar(fake).create_event(make_rep(), draft)

    [event] = fake.events
    assert event.body["start"] == {"dateTime": f"2026-11-01T0{utc_hour}:30:00", "timeZone": "UTC"}
    assert (event.start, event.end) == (draft.start, draft.end)


def test_an_event_with_video_is_a_teams_meeting_and_returns_its_link(fake: FakeGraph) -> None:
    created = make_calendar(fake).create_event(make_rep(), make_draft())

    [event] = fake.events
    assert event.mailbox == ALICE
    assert event.body["subject"] == "Dana Reyes (Major Client)"
    assert event.body["body"] == {
        "contentType": "text",
        "content": "Wants to talk about the renewal.",
    }
    # Alice organises it from her own mailbox; only the client is invited.
    assert event.body["attendees"] == [{"emailAddress": {"address": CLIENT}, "type": "required"}]
    assert event.body["isOnlineMeeting"] is True
    assert event.body["onlineMeetingProvider"] == "teamsForBusiness"
    assert created.event_id == event.payload["id"]
    assert created.ical_uid == event.payload["iCalUId"]
    assert created.video_url == event.payload["onlineMeeting"]["joinUrl"]
    assert created.video_url and created.video_url.startswith("https://teams.microsoft.com/")


def test_an_event_without_video_has_no_online_meeting(fake: FakeGraph) -> None:
    created = make_calendar(fake).create_event(make_rep(), make_draft(video=False))

    [event] = fake.events
    assert event.body["isOnlineMeeting"] is False
    assert "onlineMeetingProvider" not in event.body
    assert created.video_url is None
    assert created.ical_uid == event.payload["iCalUId"]


def test_a_create_retried_with_the_same_request_id_makes_one_event(fake: FakeGraph) -> None:
    first = make_calendar(fake).create_event(make_rep(), make_draft())
    # After a restart: another process, another msal app, the same request.
    again = make_calendar(fake).create_event(make_rep(), make_draft())
    other = make_calendar(fake).create_event(make_rep(), make_draft(request_id="req_OTHER"))

    assert again == first
    assert other.event_id != first.event_id
    assert len(fake.events) == 2
    first_call, retry_call, other_call = fake.calls(EVENTS)
    transaction = first_call.body["transactionId"]
    assert retry_call.body["transactionId"] == transaction
    assert other_call.body["transactionId"] != transaction
    assert uuid.UUID(transaction).version == 5


def test_a_create_that_timed_out_is_retried_into_the_same_event(fake: FakeGraph) -> None:
    fake.stall_next(EVENTS, 0.6)  # Graph makes the event, but answers too late
    sleeps: list[float] = []

    created = make_calendar(fake, sleeps, timeout=0.2).create_event(make_rep(), make_draft())

    [event] = fake.events  # the retry named the same transactionId: no second event
    assert created.event_id == event.payload["id"]
    assert len(fake.calls(EVENTS)) == 2
    assert sleeps == [1.0]


def test_a_create_that_keeps_timing_out_is_a_timeout(fake: FakeGraph) -> None:
    fake.stall_next(EVENTS, 0.6, times=4)

    with pytest.raises(IntegrationError) as caught:
        make_calendar(fake, timeout=0.2).create_event(make_rep(), make_draft())

    assert caught.value.status == "timeout"
    assert len(fake.calls(EVENTS)) == 4
    deadline = time.monotonic() + 3
    while not fake.events and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(fake.events) == 1


# ------------------------------------------------------------------ permissions


@pytest.mark.parametrize(
    ("endpoint", "code"),
    [(EVENTS, "ErrorAccessDenied"), (GET_SCHEDULE, "Authorization_RequestDenied")],
)
def test_a_mailbox_the_app_may_not_touch_breaks_the_reps_connection(
    fake: FakeGraph, endpoint: str, code: str
) -> None:
    fake.deny_next(endpoint, code)
    calendar = make_calendar(fake)

    with pytest.raises(ConnectionBrokenError) as caught:
        if endpoint == EVENTS:
            calendar.create_event(make_rep(), make_draft())
        else:
            calendar.busy(make_rep(), T0, T0 + timedelta(hours=8))

    assert caught.value.code == f"api_error:microsoft:403:{code}"
    assert caught.value.rep_email == ALICE
    assert "Calendars.ReadWrite application permission" in caught.value.message
    assert "admin consent" in caught.value.message
    assert ALICE in caught.value.message
    assert fake.events == []


# ------------------------------------------------------------------ probe


def test_probe_reports_credentials_permission_and_every_calendar(fake: FakeGraph) -> None:
    fake.mailboxes.add("team-cal@ourco.example")

    rows = make_calendar(fake).probe(make_rep("team-cal@ourco.example"))

    assert [(r.subject, r.check, r.ok) for r in rows] == [
        ("-", "credentials", True),
        ("-", "scopes", True),
        (ALICE, "calendar", True),
        ("team-cal@ourco.example", "calendar", True),
    ]
    assert all(row.service == "microsoft" for row in rows)


def test_probe_flags_a_missing_mailbox_calendar_without_raising(fake: FakeGraph) -> None:
    rows = make_calendar(fake).probe(make_rep("gone@ourco.example"))

    by_subject = {row.subject: row for row in rows if row.check == "calendar"}
    assert by_subject[ALICE].ok
    assert not by_subject["gone@ourco.example"].ok
    assert "ErrorMailRecipientNotFound" in by_subject["gone@ourco.example"].detail


def test_probe_flags_bad_credentials_and_leaves_calendars_unchecked(fake: FakeGraph) -> None:
    rows = make_calendar(fake, ms_client_secret="wrong").probe(make_rep())

    assert [(r.check, r.ok) for r in rows] == [("credentials", False), ("calendar", False)]
    assert "invalid_client" in rows[0].detail
    assert "not checked" in rows[1].detail
    assert fake.calls(GET_SCHEDULE) == []


def test_probe_flags_a_token_without_calendars_readwrite(start_fake: StartFake) -> None:
    fake = start_fake(roles=("Calendars.Read", "User.Read.All"))

    rows = make_calendar(fake).probe(make_rep())

    [scopes] = [row for row in rows if row.check == "scopes"]
    assert not scopes.ok
    assert "Calendars.ReadWrite" in scopes.detail
    assert "Calendars.Read, User.Read.All" in scopes.detail


def test_probe_flags_a_denied_mailbox_without_raising(fake: FakeGraph) -> None:
    fake.deny_next(GET_SCHEDULE)

    rows = make_calendar(fake).probe(make_rep())

    [calendar_row] = [row for row in rows if row.check == "calendar"]
    assert not calendar_row.ok
    assert "Calendars.ReadWrite" in calendar_row.detail
