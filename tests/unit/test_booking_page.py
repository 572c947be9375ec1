"""The booking page's pure parts: the slot list it shows (checked against lists worked out
by hand across the US and EU clock changes, in a no-DST zone), slots aligned to the hour,
the busy cache, the form token and the `[booking_page]` config.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from freezegun import freeze_time

from bot.config import ConfigError, load_config, parse_config
from bot.domain.config import Rep
from bot.domain.form_token import FormTokens, TokenError, derive_key
from bot.domain.intervals import Interval
from bot.domain.slots import free_slots
from bot.services.availability import AvailabilityService
from bot.services.booking_page import BookingPageService
from bot.services.busy_cache import BusyCache
from tests.unit._support import VALID_TOML, make_booking, make_rep

NY = "America/New_York"
PHOENIX = "America/Phoenix"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


class _Calendar:
    """A calendar provider with fixed busy time per calendar id (a unit-test stand-in)."""

    name = "stub"

    def __init__(self, busy: dict[str, list[Interval]]) -> None:
        self.by_calendar = busy
        self.reads = 0

    def busy(self, rep: Rep, start: datetime, end: datetime) -> list[Interval]:
        self.reads += 1
        return [
            block
            for calendar in rep.calendars
            for block in self.by_calendar.get(calendar, [])
            if block.start < end and block.end > start
        ]


class _Integrations:
    def __init__(self, calendar: _Calendar) -> None:
        self.calendar = calendar

    def calendar_for(self, rep: Rep) -> _Calendar:
        return self.calendar


class _Bookings:
    def held_by_reps(self, *_: Any) -> dict[str, list[tuple[datetime, datetime]]]:
        return {}

    def last_booked_at(self, _reps: Any = ()) -> dict[str, datetime]:
        return {}


def _config(reps: str, *, buffer: int = 10, notice: int = 120) -> Any:
    text = f"""
timezone = "America/New_York"
[slack]
escalation_channel = "C0ESCALATE"
{reps}
[booking]
buffer_minutes = {buffer}
min_notice_minutes = {notice}
horizon_days = 21
[booking_page]
durations = [30, 45]
slot_step_minutes = 30
"""
    import tomllib

    return parse_config(tomllib.loads(text))


def _service(config: Any, busy: dict[str, list[Interval]]) -> BookingPageService:
    finder = AvailabilityService(
        config,
        _Integrations(_Calendar(busy)),  # type: ignore[arg-type]
        bookings=_Bookings(),  # type: ignore[arg-type]
        clock=lambda: datetime.now(UTC),
    )
    return BookingPageService(
        config,
        finder,
        processor=None,  # type: ignore[arg-type]
        requests=None,  # type: ignore[arg-type]
        bookings=None,  # type: ignore[arg-type]
        tokens=FormTokens(b"k"),
        clock=lambda: datetime.now(UTC),
    )


def _by_day(data: dict[str, Any]) -> dict[str, list[str]]:
    return {day["date"]: [slot["label"] for slot in day["slots"]] for day in data["days"]}


NY_REP = """
[[reps]]
email = "alice@ourco.example"
timezone = "America/New_York"
working_hours.mon = "09:00-17:00"
working_hours.tue = "09:00-17:00"
working_hours.wed = "09:00-17:00"
working_hours.thu = "09:00-17:00"
working_hours.fri = "09:00-17:00"
provider = "google"
booking_calendar = "alice@ourco.example"
calendars = ["room-2@resource.calendar.google.com"]
"""


@freeze_time("2027-03-12 13:00:00")  # Fri 08:00 EST; US clocks spring forward on Sun 14 Mar
def test_us_dst_week_shown_in_phoenix() -> None:
    # The room is taken Tue 16 Mar 12:00-13:00 EDT (16:00-17:00 UTC, 09:00-10:00 MST).
    room = {
        "room-2@resource.calendar.google.com": [
            Interval(_utc(2027, 3, 16, 16), _utc(2027, 3, 16, 17))
        ]
    }
    service = _service(_config(NY_REP), room)
    data = service.api_slots("alice", "2027-03-12", "5", PHOENIX, "30")
    # Fri (EST, UTC-5): 09:00-17:00 EST is 07:00-15:00 MST, but notice (2 h from 08:00 EST)
    # opens it at 10:00 EST = 08:00 MST. Last start 14:30 MST.
    friday = [
        f"{h}:{m} {p} MST"
        for h, p in [(8, "AM"), (9, "AM"), (10, "AM"), (11, "AM"), (12, "PM"), (1, "PM"), (2, "PM")]
        for m in ("00", "30")
    ]
    # Mon (EDT, UTC-4): the same 09:00 New York is now 06:00 in Phoenix.
    monday = [
        f"{h}:{m} {p} MST"
        for h, p in [
            (6, "AM"),
            (7, "AM"),
            (8, "AM"),
            (9, "AM"),
            (10, "AM"),
            (11, "AM"),
            (12, "PM"),
            (1, "PM"),
        ]
        for m in ("00", "30")
    ]
    # Tue: the room, widened by the 10-minute buffer to 08:50-10:10 MST, takes 08:30-10:00.
    tuesday = [
        s for s in monday if s not in ("8:30 AM MST", "9:00 AM MST", "9:30 AM MST", "10:00 AM MST")
    ]
    assert _by_day(data) == {"2027-03-12": friday, "2027-03-15": monday, "2027-03-16": tuesday}
    assert data["slots"][0] == {
        "start": "2027-03-12T15:00:00Z",
        "end": "2027-03-12T15:30:00Z",
        "local": "2027-03-12T08:00:00-07:00",
        "label": "8:00 AM MST",
    }
    assert data["timezone"] == PHOENIX


BERLIN_REP = """
[[reps]]
email = "bruno@ourco.example"
timezone = "Europe/Berlin"
working_hours.mon = "08:45-12:00"
working_hours.tue = "08:45-12:00"
working_hours.wed = "08:45-12:00"
working_hours.thu = "08:45-12:00"
working_hours.fri = "08:45-12:00"
provider = "microsoft"
booking_calendar = "bruno@ourco.example"
calendars = ["room-berlin@ourco.example"]
"""


@freeze_time("2027-03-25 12:00:00")  # EU clocks spring forward on Sun 28 Mar (US did on 14th)
def test_eu_dst_week_shown_in_new_york_aligned_to_the_hour() -> None:
    # The Berlin room is busy Mon 29 Mar 10:00-10:30 CEST (08:00-08:30 UTC).
    room = {"room-berlin@ourco.example": [Interval(_utc(2027, 3, 29, 8), _utc(2027, 3, 29, 8, 30))]}
    service = _service(_config(BERLIN_REP), room)
    data = service.api_slots("bruno", "2027-03-26", "4", NY, "30")
    # Bruno opens at 08:45, but page slots start on the hour's grid: 09:00, ..., 11:30 Berlin.
    # Fri (CET, UTC+1; New York EDT, UTC-4): 09:00 Berlin is 04:00 in New York.
    friday = [
        "4:00 AM EDT",
        "4:30 AM EDT",
        "5:00 AM EDT",
        "5:30 AM EDT",
        "6:00 AM EDT",
        "6:30 AM EDT",
    ]
    # Mon (CEST, UTC+2): 09:00 Berlin is 03:00 New York. The room, widened to 09:50-10:40,
    # takes 09:30, 10:00 and 10:30 Berlin.
    monday = ["3:00 AM EDT", "5:00 AM EDT", "5:30 AM EDT"]
    assert _by_day(data) == {"2027-03-26": friday, "2027-03-29": monday}


def test_free_slots_can_align_to_the_hour_in_the_reps_zone() -> None:
    rep = make_rep("Asia/Kolkata", working_hours={day: "08:45-10:15" for day in WEEKDAYS})
    booking = make_booking(min_notice_minutes=0)
    now = _utc(2026, 11, 30)  # Monday 05:30 in Kolkata
    start, end = _utc(2026, 11, 30), _utc(2026, 12, 1)

    def starts(**kw: Any) -> list[str]:
        slots = free_slots(
            rep,
            [],
            start=start,
            end=end,
            duration=timedelta(minutes=30),
            now=now,
            booking=booking,
            step=timedelta(minutes=30),
            **kw,
        )
        return [f"{s.start.astimezone(rep.zone):%H:%M}" for s in slots]

    assert starts() == ["08:45", "09:15", "09:45"]
    # On the hour of Kolkata's clock (UTC+05:30), not of UTC's.
    assert starts(align_to_hour=True) == ["09:00", "09:30"]


def test_aligned_slots_after_a_busy_block_stay_on_the_grid() -> None:
    rep = make_rep(NY, working_hours={day: "09:00-17:00" for day in WEEKDAYS})
    booking = make_booking(min_notice_minutes=0, buffer_minutes=10)
    monday = _utc(2026, 11, 30, 14)  # 09:00 EST
    busy = [Interval(monday + timedelta(minutes=20), monday + timedelta(minutes=50))]
    slots = free_slots(
        rep,
        busy,
        start=monday,
        end=monday + timedelta(hours=3),
        duration=timedelta(minutes=30),
        now=monday - timedelta(hours=1),
        booking=booking,
        step=timedelta(minutes=30),
        align_to_hour=True,
    )
    assert [f"{s.start.astimezone(rep.zone):%H:%M}" for s in slots] == [
        "10:00",
        "10:30",
        "11:00",
        "11:30",
    ]


# ----------------------------------------------------------------------- the busy cache


def test_concurrent_misses_make_one_read() -> None:
    calls: list[float] = []
    release = threading.Event()

    def read(rep: Rep, start: datetime, end: datetime) -> list[Interval]:
        calls.append(time.monotonic())
        release.wait(5)
        return [Interval(start, start + timedelta(hours=1))]

    cache = BusyCache(read, 30)
    rep = make_rep()
    start, end = _utc(2026, 12, 1), _utc(2026, 12, 8)
    results: list[list[Interval]] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.busy(rep, start, end)))
        for _ in range(20)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    release.set()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(results) == 20 and all(r == results[0] for r in results)


def test_entries_expire_and_narrower_windows_are_served_from_a_wider_one() -> None:
    now = [0.0]
    reads: list[tuple[datetime, datetime]] = []

    def read(rep: Rep, start: datetime, end: datetime) -> list[Interval]:
        reads.append((start, end))
        return [Interval(_utc(2026, 12, 2, 15), _utc(2026, 12, 2, 16))]

    cache = BusyCache(read, 30, monotonic=lambda: now[0])
    rep = make_rep()
    wide = (_utc(2026, 12, 1), _utc(2026, 12, 22))
    assert cache.busy(rep, *wide)
    assert cache.busy(rep, _utc(2026, 12, 3), _utc(2026, 12, 4)) == []  # from the cache
    assert len(reads) == 1
    now[0] = 31.0
    cache.busy(rep, *wide)
    assert len(reads) == 2
    cache.busy(rep, _utc(2026, 11, 1), _utc(2026, 11, 2))  # outside what is held
    assert len(reads) == 3


def test_a_failed_read_is_not_cached() -> None:
    attempts = []

    def read(rep: Rep, start: datetime, end: datetime) -> list[Interval]:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("calendar down")
        return []

    cache = BusyCache(read, 30)
    rep = make_rep()
    with pytest.raises(RuntimeError):
        cache.busy(rep, _utc(2026, 12, 1), _utc(2026, 12, 2))
    assert cache.busy(rep, _utc(2026, 12, 1), _utc(2026, 12, 2)) == []
    assert len(attempts) == 2


# ----------------------------------------------------------------------- the form token


def test_form_tokens() -> None:
    tokens = FormTokens(derive_key("secret"))
    now = _utc(2026, 12, 1, 12)
    token = tokens.issue(now)
    assert tokens.read(token.text, now + timedelta(hours=1, minutes=59)).nonce == token.nonce
    assert token.idempotency_key == f"page:{token.nonce}"
    assert tokens.issue(now).text != token.text

    def reason(text: str | None, at: datetime = now) -> str:
        with pytest.raises(TokenError) as caught:
            tokens.read(text, at)
        return caught.value.reason

    assert reason(None) == "missing"
    assert reason("") == "missing"
    assert reason("a.b") == "forged"
    assert reason(token.text[:-2] + "xx") == "forged"
    assert reason(FormTokens(derive_key("other")).issue(now).text) == "forged"
    assert reason(token.text, now + timedelta(hours=2)) == "expired"
    # An expired token still names its request (the done page stays readable).
    assert tokens.read(token.text, now + timedelta(days=3), check_expiry=False).nonce == token.nonce


# ----------------------------------------------------------------------- the config


def test_booking_page_config_defaults_and_rep_slugs(write_toml: Any) -> None:
    config = load_config(write_toml(VALID_TOML))
    assert config.booking_page.durations == (30,)
    assert config.booking_page.slot_step_minutes == 30
    assert config.booking_page.cache_seconds == 30
    assert [rep.page_slug for rep in config.reps] == ["alice", "bruno"]
    assert config.rep_by_slug("bruno") is config.reps[1]
    assert config.reps[0].display_name == "alice"


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (
            "[booking_page]\ndurations = [30, 30]",
            "booking_page.durations: a duration is listed twice",
        ),
        ("[booking_page]\ndurations = [3]", "duration 3 must be 5 to 480 minutes"),
        ("[booking_page]\ndurations = []", "booking_page.durations"),
        ('[booking_page]\nembed_origins = ["www.ourco.example"]', "is not an origin"),
        ('[booking_page]\nembed_origins = ["https://ourco.example/page"]', "is not an origin"),
        ("[booking_page]\nslot_step_minutes = 2", "booking_page.slot_step_minutes"),
        ('[booking_page]\ncolour = "red"', "booking_page.colour"),
    ],
)
def test_booking_page_config_is_validated(write_toml: Any, extra: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_toml(VALID_TOML + "\n" + extra + "\n"))
    assert problem in str(caught.value)


def test_rep_slugs_are_unique_and_well_formed(write_toml: Any) -> None:
    twice = VALID_TOML.replace(
        'email = "bruno@ourco.example"', 'email = "bruno@ourco.example"\nslug = "alice"'
    )
    with pytest.raises(ConfigError, match=r"reps\[1\]\.slug: 'alice' is listed twice"):
        load_config(write_toml(twice))
    bad = VALID_TOML.replace(
        'email = "bruno@ourco.example"', 'email = "bruno@ourco.example"\nslug = "Bruno K"'
    )
    with pytest.raises(ConfigError, match="is not a page slug"):
        load_config(write_toml(bad))


def test_the_team_is_the_union_of_its_reps_with_the_round_robin_rep_first() -> None:
    config = _config(NY_REP + BERLIN_REP)
    clock = [_utc(2026, 11, 30, 6)]  # Monday 07:00 in Berlin, 01:00 in New York
    calendar = _Calendar({})
    finder = AvailabilityService(
        config,
        _Integrations(calendar),  # type: ignore[arg-type]
        bookings=_Bookings(),  # type: ignore[arg-type]
        clock=lambda: clock[0],
    )
    start, end = _utc(2026, 11, 30), _utc(2026, 12, 1)
    slots, unreadable = finder.offered_team_slots(
        start, end, timedelta(minutes=30), step=timedelta(minutes=30)
    )
    assert unreadable == []
    starts = [(f"{slot.start:%H:%M}", rep.page_slug) for slot, rep in slots]
    # Bruno (Berlin, 08:45-12:00; notice from 09:00) gives 09:00-11:30 CET = 08:00-10:30 UTC;
    # Alice (New York, 09:00-17:00) gives 14:00-21:30 UTC.
    assert starts[:6] == [(f"{h:02d}:{m}", "bruno") for h in (8, 9, 10) for m in ("00", "30")]
    assert starts[6:] == [(f"{h:02d}:{m}", "alice") for h in range(14, 22) for m in ("00", "30")]
    assert calendar.reads == 2  # one read per rep
    # Later within the cache window, past the hour: still served from the cache.
    clock[0] += timedelta(minutes=75)
    finder.offered_team_slots(start, end, timedelta(minutes=30), step=timedelta(minutes=30))
    finder.offered_rep_slots(
        config.reps[0], start, end, timedelta(minutes=30), step=timedelta(minutes=30)
    )
    assert calendar.reads == 2
