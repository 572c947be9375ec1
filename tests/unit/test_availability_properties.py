"""Guarantees of the availability engine (SPEC §5) for random reps in zones with every kind of
clock change: no free slot overlaps busy time plus buffer or leaves working hours, none on
the grid is missed, and working hours keep their wall-clock times across each DST change.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from freezegun import freeze_time
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.availability_query import parse_availability_args, query_window
from bot.domain.config import WEEKDAYS, Rep
from bot.domain.intervals import Interval
from bot.domain.slots import free_slots, local_instant, slot_problem, working_windows
from bot.messages.availability import render_availability
from tests.unit._support import make_booking, make_rep

NY = "America/New_York"
PHOENIX = "America/Phoenix"
BERLIN = "Europe/Berlin"
SYDNEY = "Australia/Sydney"
KOLKATA = "Asia/Kolkata"
CHATHAM = "Pacific/Chatham"  # +12:45 / +13:45, clocks change at 02:45 standard time
ST_JOHNS = "America/St_Johns"  # -03:30 / -02:30
# The Sundays of 2026 on which each zone's clocks change; the zones without DST borrow all.
TRANSITION_DAYS = {
    NY: (date(2026, 3, 8), date(2026, 11, 1)),
    ST_JOHNS: (date(2026, 3, 8), date(2026, 11, 1)),
    BERLIN: (date(2026, 3, 29), date(2026, 10, 25)),
    SYDNEY: (date(2026, 4, 5), date(2026, 10, 4)),
    CHATHAM: (date(2026, 4, 5), date(2026, 9, 27)),
}
ALL_TRANSITION_DAYS = tuple(sorted({day for days in TRANSITION_DAYS.values() for day in days}))
ZONES = (NY, PHOENIX, BERLIN, SYDNEY, KOLKATA, CHATHAM, ST_JOHNS)
MINUTE = timedelta(minutes=1)
PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None)


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# An independent model of working hours ----------------------------------------------------


def _first_reading(zone: ZoneInfo, wall: datetime) -> datetime:
    """The first instant (UTC) at which the zone's clocks read the naive `wall` or later,
    found by trying every offset the zone uses around it, and by walking minute by minute
    through a spring-forward gap (every transition of these zones falls on a minute).
    """
    around = wall.replace(tzinfo=UTC)
    offsets = {
        offset
        for hours in range(-30, 31, 3)
        if (offset := (around + timedelta(hours=hours)).astimezone(zone).utcoffset()) is not None
    }
    readings = sorted(
        moment
        for offset in offsets
        if (moment := around - offset).astimezone(zone).replace(tzinfo=None) == wall
    )
    if readings:
        return readings[0]
    moment = around - max(offsets)  # before the jump, the clocks read earlier than `wall`
    while moment.astimezone(zone).replace(tzinfo=None) < wall:
        moment += MINUTE
    return moment


def _model_windows(rep: Rep, start: datetime, end: datetime) -> list[Interval]:
    """The same days as `working_windows`, each range from the moment the clocks first read
    its opening to the moment they first read its closing, touching ranges joined; in UTC.
    """
    day = start.astimezone(rep.zone).date() - timedelta(days=1)
    windows: list[Interval] = []
    while day <= end.astimezone(rep.zone).date():
        for opens, closes in rep.hours_by_weekday.get(day.weekday(), ()):
            closing_day = day + timedelta(days=1) if closes == time.max else day
            closing = time(0) if closes == time.max else closes
            window = Interval(
                _first_reading(rep.zone, datetime.combine(day, opens)),
                _first_reading(rep.zone, datetime.combine(closing_day, closing)),
            )
            if window.end <= window.start:
                continue
            if windows and windows[-1].end >= window.start:
                windows[-1] = Interval(windows[-1].start, max(windows[-1].end, window.end))
            else:
                windows.append(window)
        day += timedelta(days=1)
    return windows


# Random reps, calendars and rules ---------------------------------------------------------


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"  # 1440 is "24:00"


@st.composite
def _day_hours(draw: st.DrawFn) -> str:
    # Quarter hours anywhere in the day, and often between 01:00 and 04:00, where the
    # clocks of these zones change (Chatham's gap is 02:45-03:45).
    quarter = st.one_of(st.integers(0, 96), st.integers(4, 16)).map(lambda q: q * 15)
    points = draw(st.lists(quarter, min_size=2, max_size=4, unique=True).map(sorted))
    ranges = list(itertools.pairwise(points))[::2]
    if len(ranges) == 2 and draw(st.booleans()):
        ranges[1] = (ranges[0][1], ranges[1][1])  # touching: "09:00-12:00, 12:00-17:00"
    return ", ".join(f"{_clock(opens)}-{_clock(closes)}" for opens, closes in ranges)


@st.composite
def _reps(draw: st.DrawFn) -> Rep:
    zone = draw(st.sampled_from(ZONES))
    # Any weekday may be off but Sunday, the day every one of these zones changes its clocks.
    hours = {day: text for day in WEEKDAYS[:6] if (text := draw(st.none() | _day_hours()))}
    return make_rep(zone, working_hours={**hours, "sun": draw(_day_hours())})


@st.composite
def _busy(draw: st.DrawFn, start: datetime, span_minutes: int) -> list[list[Interval]]:
    """One list per calendar, each interval written in some zone, as providers report."""
    calendars = []
    for _ in range(draw(st.integers(1, 3))):
        blocks = []
        for offset, length, zone in draw(
            st.lists(
                st.tuples(
                    st.integers(-180, span_minutes + 180),
                    st.integers(1, 300),
                    st.sampled_from((*ZONES, "UTC")),
                ),
                max_size=8,
            )
        ):
            begins = start + timedelta(minutes=offset)
            blocks.append(
                Interval(
                    begins.astimezone(ZoneInfo(zone)),
                    (begins + timedelta(minutes=length)).astimezone(ZoneInfo(zone)),
                )
            )
        calendars.append(blocks)
    return calendars


@PROPERTY_SETTINGS
@given(data=st.data())
def test_free_slots_are_bookable_on_the_grid_and_complete(data: st.DataObject) -> None:
    rep = data.draw(_reps(), label="rep")
    days = TRANSITION_DAYS.get(rep.timezone, ALL_TRANSITION_DAYS)
    sunday = data.draw(st.sampled_from(days), label="transition Sunday")
    # From two days before the Sunday (UTC) to its end, an hour to three days long: most
    # windows hold the change, some stop short of it or start after it.
    start = datetime.combine(sunday, time(0), tzinfo=UTC) + timedelta(
        minutes=5 * data.draw(st.integers(-2 * 288, 288), label="start, 5 minutes from Sunday")
    )
    span_minutes = 5 * data.draw(st.integers(12, 3 * 288), label="length in 5 minutes")
    end = start + timedelta(minutes=span_minutes)
    calendars = data.draw(_busy(start, span_minutes), label="busy by calendar")
    busy = [block for calendar in calendars for block in calendar]  # consolidated
    now = start + timedelta(minutes=data.draw(st.integers(-2 * 1440, 2 * 1440), label="now"))
    duration = timedelta(
        minutes=data.draw(st.sampled_from([5, 15, 30, 45, 60, 90, 240]), label="duration")
    )
    step = timedelta(minutes=data.draw(st.sampled_from([5, 15, 30, 60]), label="step"))
    booking = make_booking(
        buffer_minutes=data.draw(st.integers(0, 30), label="buffer"),
        min_notice_minutes=data.draw(st.integers(0, 600), label="notice"),
        horizon_days=data.draw(st.integers(1, 5), label="horizon"),
    )
    buffer = timedelta(minutes=booking.buffer_minutes)

    slots = free_slots(
        rep, busy, start=start, end=end, duration=duration, now=now, booking=booking, step=step
    )

    # The engine's working hours are the model's: opening and closing when the clocks first
    # read them, a time skipped by spring-forward being the moment of the jump.
    windows = _model_windows(rep, start, end)
    engine_windows = working_windows(rep, start, end)
    assert [Interval(w.start.astimezone(UTC), w.end.astimezone(UTC)) for w in engine_windows] == (
        windows
    )
    for slot in slots:
        assert slot.start.tzinfo is UTC
        assert slot.end - slot.start == duration
        assert start <= slot.start and slot.end <= end
        assert now + timedelta(minutes=booking.min_notice_minutes) <= slot.start
        assert slot.start <= now + timedelta(days=booking.horizon_days)
        # Inside one working window, on the grid of its opening.
        (window,) = [w for w in windows if w.start <= slot.start and slot.end <= w.end]
        assert (slot.start - window.start) % step == timedelta(0)
        # A buffer away from every busy interval of every calendar.
        for block in busy:
            assert slot.end + buffer <= block.start or block.end + buffer <= slot.start
    assert all(a.start < b.start for a, b in itertools.pairwise(slots))

    # Complete: every grid start the booking path would accept is offered. The grid starts
    # at each window's opening, so a start between grid points is not offered even when
    # free, and that is by design (slots read 09:00, 09:15, ... in the rep's zone).
    offered = set(slots)
    for window in windows:
        moment = window.start
        while moment + duration <= min(window.end, end):
            candidate = Interval(moment, moment + duration)
            if moment >= start and (
                slot_problem(rep, moment, moment + duration, busy, now=now, booking=booking) is None
            ):
                assert candidate in offered, f"missed {moment.astimezone(rep.zone)}"
                offered.discard(candidate)
            moment += step
    assert offered == set()  # and nothing is offered that the booking path refuses


# local_instant and the spring-forward gap -------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "at", "expected"),
    [
        (NY, date(2026, 3, 8), time(1, 59), _utc(2026, 3, 8, 6, 59)),  # EST, before the gap
        (NY, date(2026, 3, 8), time(2, 0), _utc(2026, 3, 8, 7)),  # skipped: 03:00 EDT
        (NY, date(2026, 3, 8), time(2, 30), _utc(2026, 3, 8, 7)),  # skipped: 03:00 EDT
        (NY, date(2026, 3, 8), time(3, 0), _utc(2026, 3, 8, 7)),
        (NY, date(2026, 11, 1), time(1, 30), _utc(2026, 11, 1, 5, 30)),  # first: EDT
        (BERLIN, date(2026, 3, 29), time(2, 30), _utc(2026, 3, 29, 1)),  # 03:00 CEST
        (SYDNEY, date(2026, 10, 4), time(2, 30), _utc(2026, 10, 3, 16)),  # 03:00 AEDT
        (SYDNEY, date(2026, 4, 5), time(2, 30), _utc(2026, 4, 4, 15, 30)),  # first: AEDT
        (CHATHAM, date(2026, 9, 27), time(3, 0), _utc(2026, 9, 26, 14)),  # 03:45 +1345
        (ST_JOHNS, date(2026, 3, 8), time(2, 15), _utc(2026, 3, 8, 5, 30)),  # 03:00 NDT
        (KOLKATA, date(2026, 3, 8), time(2, 30), _utc(2026, 3, 7, 21)),
    ],
)
def test_local_instant(zone: str, day: date, at: time, expected: datetime) -> None:
    moment = local_instant(day, at, ZoneInfo(zone))
    assert moment.astimezone(UTC) == expected
    assert moment.astimezone(UTC) == _first_reading(ZoneInfo(zone), datetime.combine(day, at))


def _sunday_slots(zone: str, hours: str, sunday: date, minutes: int = 30) -> list[str]:
    rep = make_rep(zone, working_hours={"sun": hours})
    start = datetime.combine(sunday, time(0), tzinfo=rep.zone)
    slots = free_slots(
        rep,
        [],
        start=start,
        end=start + timedelta(days=1),
        duration=timedelta(minutes=minutes),
        now=start - timedelta(days=1),
        booking=make_booking(),
        step=timedelta(minutes=minutes),
    )
    return [f"{slot.start.astimezone(rep.zone):%H:%M %Z}" for slot in slots]


# Found by the property test: a closing time inside the spring-forward gap used to be read
# with the winter offset, an hour into the new time, so a rep who stops at 02:30 was offered
# 03:00-03:30 EDT; an opening there started an hour late, and a range wholly inside the gap
# became an hour of work that never happens.


def test_closing_inside_the_gap_closes_when_the_clocks_jump() -> None:
    assert _sunday_slots(NY, "00:00-02:30", date(2026, 3, 8)) == [
        "00:00 EST",
        "00:30 EST",
        "01:00 EST",
        "01:30 EST",  # and no 03:00 EDT
    ]
    rep = make_rep(NY, working_hours={"sun": "00:00-02:30"})
    at = _utc(2026, 3, 8, 7)  # 03:00 EDT
    problem = slot_problem(
        rep, at, at + timedelta(minutes=30), [], now=at - timedelta(days=1), booking=make_booking()
    )
    assert problem is not None and "outside" in problem


def test_opening_inside_the_gap_opens_when_the_clocks_jump() -> None:
    assert _sunday_slots(NY, "02:30-05:00", date(2026, 3, 8), minutes=60) == [
        "03:00 EDT",  # not 03:30
        "04:00 EDT",
    ]


def test_hours_wholly_inside_the_gap_never_happen() -> None:
    rep = make_rep(NY, working_hours={"sun": "02:15-02:45"})
    start = datetime(2026, 3, 8, tzinfo=rep.zone)
    assert working_windows(rep, start, start + timedelta(hours=12)) == []
    assert _sunday_slots(NY, "02:15-02:45", date(2026, 3, 8), minutes=15) == []
    # A week later the same hours are real.
    assert _sunday_slots(NY, "02:15-02:45", date(2026, 3, 15), minutes=15) == [
        "02:15 EDT",
        "02:30 EDT",
    ]


def test_chatham_closes_at_its_quarter_to_three_jump() -> None:
    # Chatham's clocks leap from 02:45 to 03:45: a 01:00-03:00 shift lasts 1 h 45 min.
    assert _sunday_slots(CHATHAM, "01:00-03:00", date(2026, 9, 27), minutes=45) == [
        "01:00 +1245",
        "01:45 +1245",
    ]


# Example days at each DST edge, through the whole /availability path ---------------------

EDGES = [
    # (rep zone, the Sunday, UTC offset in hours of a weekday before it, and after it)
    (NY, date(2026, 3, 8), -5, -4),
    (NY, date(2026, 11, 1), -4, -5),
    (BERLIN, date(2026, 3, 29), 1, 2),
    (BERLIN, date(2026, 10, 25), 2, 1),
    (SYDNEY, date(2026, 4, 5), 11, 10),
    (SYDNEY, date(2026, 10, 4), 10, 11),
    *[(PHOENIX, day, -7, -7) for zone in (NY, BERLIN, SYDNEY) for day in TRANSITION_DAYS[zone]],
]


@pytest.mark.parametrize(("zone", "sunday", "before", "after"), EDGES)
def test_working_hours_keep_their_wall_clock_across_the_change(
    zone: str, sunday: date, before: int, after: int
) -> None:
    rep = make_rep(zone, working_hours=dict.fromkeys(WEEKDAYS[:5], "09:00-17:00"))
    friday = sunday - timedelta(days=2)
    # Friday 06:00 at the rep's desk, asking for their own next five working days.
    with freeze_time(datetime.combine(friday, time(6), tzinfo=rep.zone).astimezone(UTC)):
        now = datetime.now(UTC)
        query = parse_availability_args(
            "", today=datetime.now(rep.zone).date(), default_duration=30
        )
        start, end = query_window(query, rep.zone)
        slots = free_slots(
            rep,
            [],
            start=start,
            end=end,
            duration=query.duration,
            now=now,
            booking=make_booking(),
            step=timedelta(minutes=30),
        )
        text = render_availability("Mine", slots, rep.zone, max_per_day=1, days=query.days)

    assert query.days[0] == friday and query.days[1] == sunday + timedelta(days=1)
    by_day: dict[date, list[datetime]] = {}
    for slot in slots:
        by_day.setdefault(slot.start.astimezone(rep.zone).date(), []).append(slot.start)
    assert list(by_day) == list(query.days)
    for day, starts in by_day.items():
        first, last = starts[0].astimezone(rep.zone), starts[-1].astimezone(rep.zone)
        assert (f"{first:%H:%M}", f"{last:%H:%M}", len(starts)) == ("09:00", "16:30", 16)
        offset = before if day < sunday else after
        assert starts[0] == datetime.combine(day, time(9), tzinfo=UTC) - timedelta(hours=offset)
    # The title names the zone in force on Friday; a day after a change names its own.
    friday_nine = datetime.combine(friday, time(9), tzinfo=rep.zone)
    monday_nine = datetime.combine(sunday + timedelta(days=1), time(9), tzinfo=rep.zone)
    changed = friday_nine.tzname() != monday_nine.tzname()
    assert changed == (zone != PHOENIX)
    later = f" {monday_nine.tzname()}" if changed else ""
    more = "\N{HORIZONTAL ELLIPSIS} (+15 more)"
    assert text.splitlines() == [
        f"*Mine* ({friday_nine.tzname()})",
        *[
            f"*{day:%a} {day.day} {day:%b}*: 9:00 AM{'' if day < sunday else later}, {more}"
            for day in query.days
        ],
    ]
