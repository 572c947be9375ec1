"""The availability engine (SPEC §5): working hours in the rep's zone, buffers, notice,
horizon, and DST in every kind of zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.config import Rep
from bot.domain.intervals import Interval
from bot.domain.slots import slot_problem, working_windows
from tests.unit._support import make_booking, make_rep

NY = "America/New_York"
BOOKING = make_booking()


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def _local(zone: str, *args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(zone))  # type: ignore[misc]


def _problem(
    rep: Rep,
    start: datetime,
    minutes: int = 30,
    busy: tuple[Interval, ...] = (),
    now: datetime | None = None,
) -> str | None:
    return slot_problem(
        rep,
        start,
        start + timedelta(minutes=minutes),
        busy,
        now=now or start - timedelta(days=1),
        booking=BOOKING,
    )


def _windows_on(rep: Rep, day: date) -> list[Interval]:
    """The rep's windows opening on a local day, in UTC.

    UTC because Python never calls an instant inside a repeated (fall-back) hour equal to
    one in another zone, so comparing the engine's local datetimes with `==` would mislead.
    """
    start = datetime.combine(day, time(0), tzinfo=rep.zone)
    windows = working_windows(rep, start, start + timedelta(hours=1))
    return [
        Interval(w.start.astimezone(UTC), w.end.astimezone(UTC))
        for w in windows
        if w.start.astimezone(rep.zone).date() == day
    ]


# Working hours ----------------------------------------------------------------------------


def test_inside_working_hours_in_the_reps_zone() -> None:
    rep = make_rep(NY)
    assert _problem(rep, _local(NY, 2026, 12, 1, 9, 0)) is None  # a Tuesday
    assert _problem(rep, _local(NY, 2026, 12, 1, 16, 30)) is None  # ends exactly at 17:00


@pytest.mark.parametrize(("hour", "minute"), [(8, 45), (8, 59), (17, 0), (20, 0), (3, 0)])
def test_outside_working_hours(hour: int, minute: int) -> None:
    problem = _problem(make_rep(NY), _local(NY, 2026, 12, 1, hour, minute))
    assert problem is not None
    assert "outside rep@ourco.example's working hours" in problem
    assert f"Tue {hour:02d}:{minute:02d} {NY}" in problem


def test_same_instant_judged_in_the_reps_own_zone() -> None:
    # 15:00 UTC is 10:00 in New York (working) but 16:00 in Berlin on a Friday (after 14:00).
    instant = _utc(2026, 12, 4, 15, 0)
    assert _problem(make_rep(NY), instant) is None
    berlin = make_rep("Europe/Berlin", working_hours={"fri": "08:30-14:00"})
    assert _problem(berlin, instant) is not None


def test_meeting_crossing_the_end_of_the_day_is_refused() -> None:
    rep = make_rep(NY)
    assert _problem(rep, _local(NY, 2026, 12, 1, 16, 45)) is not None
    assert _problem(rep, _local(NY, 2026, 12, 1, 16, 31)) is not None
    assert _problem(rep, _local(NY, 2026, 12, 1, 16, 0), minutes=60) is None


def test_day_off_is_refused() -> None:
    rep = make_rep(NY)
    saturday, sunday = _local(NY, 2026, 12, 5, 10), _local(NY, 2026, 12, 6, 10)
    assert "Sat 10:00" in (_problem(rep, saturday) or "")
    assert "Sun 10:00" in (_problem(rep, sunday) or "")
    assert _windows_on(rep, saturday.date()) == []


def test_friday_short_hours() -> None:
    rep = make_rep(NY)
    assert _problem(rep, _local(NY, 2026, 12, 4, 11, 30)) is None
    assert _problem(rep, _local(NY, 2026, 12, 4, 11, 45)) is not None
    assert _problem(rep, _local(NY, 2026, 12, 4, 13, 0)) is not None
    # The same time on Thursday is fine.
    assert _problem(rep, _local(NY, 2026, 12, 3, 13, 0)) is None


def test_split_day_needs_the_meeting_inside_one_range() -> None:
    rep = make_rep(NY, working_hours={"tue": "09:00-12:00, 13:00-17:00"})
    assert _problem(rep, _local(NY, 2026, 12, 1, 11, 30)) is None
    assert _problem(rep, _local(NY, 2026, 12, 1, 13, 0)) is None
    assert _problem(rep, _local(NY, 2026, 12, 1, 11, 45)) is not None  # into lunch
    assert _problem(rep, _local(NY, 2026, 12, 1, 12, 15)) is not None  # at lunch


@pytest.mark.parametrize(
    ("hours", "start"),
    [
        ({"tue": "09:00-12:00, 12:00-17:00"}, (2026, 12, 1, 11, 45)),
        ({"tue": "18:00-24:00", "wed": "00:00-02:00"}, (2026, 12, 1, 23, 45)),
    ],
)
def test_meeting_across_touching_ranges_is_inside_working_hours(
    hours: dict[str, str], start: tuple[int, ...]
) -> None:
    rep = make_rep(NY, working_hours=hours)
    assert _problem(rep, _local(NY, *start)) is None


def test_hours_until_midnight() -> None:
    rep = make_rep(NY, working_hours={"tue": "20:00-24:00"})
    assert _windows_on(rep, date(2026, 12, 1)) == [
        Interval(_utc(2026, 12, 2, 1), _utc(2026, 12, 2, 5))
    ]
    assert _problem(rep, _local(NY, 2026, 12, 1, 23, 30)) is None
    assert _problem(rep, _local(NY, 2026, 12, 1, 23, 45)) is not None


# Buffers, notice, horizon -----------------------------------------------------------------

BUSY = (Interval(_local(NY, 2026, 12, 3, 15, 0), _local(NY, 2026, 12, 3, 16, 0)),)


@pytest.mark.parametrize(
    ("hour", "minute", "free"),
    [
        (14, 20, True),  # ends exactly one buffer before the block
        (14, 21, False),  # ends 9 minutes before it
        (14, 45, False),  # overlaps its start
        (15, 15, False),  # inside it
        (16, 0, False),  # touches its end: no buffer left
        (16, 9, False),  # one minute short of the buffer
        (16, 10, True),  # exactly one buffer after it
        (11, 0, True),  # far away
    ],
)
def test_buffers_around_busy_blocks(hour: int, minute: int, free: bool) -> None:
    problem = _problem(make_rep(NY), _local(NY, 2026, 12, 3, hour, minute), busy=BUSY)
    if free:
        assert problem is None
    else:
        assert problem == (
            "overlaps busy time from Thu 15:00 America/New_York (with a 10-minute buffer)"
        )


def test_zero_buffer_allows_back_to_back() -> None:
    rep = make_rep(NY)
    start = _local(NY, 2026, 12, 3, 16, 0)
    problem = slot_problem(
        rep,
        start,
        start + timedelta(minutes=30),
        BUSY,
        now=start - timedelta(days=1),
        booking=make_booking(buffer_minutes=0),
    )
    assert problem is None


def test_busy_blocks_in_other_zones_are_instants() -> None:
    # A block reported in UTC still blocks the same instant for a New York rep.
    busy = (Interval(_utc(2026, 12, 3, 20, 0), _utc(2026, 12, 3, 21, 0)),)  # 15:00 EST
    assert _problem(make_rep(NY), _local(NY, 2026, 12, 3, 15, 30), busy=busy) is not None
    assert _problem(make_rep(NY), _local(NY, 2026, 12, 3, 16, 10), busy=busy) is None


def test_minimum_notice() -> None:
    rep = make_rep(NY)
    start = _local(NY, 2026, 12, 3, 11, 0)
    assert _problem(rep, start, now=start - timedelta(minutes=120)) is None
    assert _problem(rep, start, now=start - timedelta(minutes=119)) == (
        "starts in less than 120 minutes"
    )
    assert _problem(rep, start, now=start + timedelta(hours=1)) is not None


def test_horizon() -> None:
    rep = make_rep(NY)
    start = _local(NY, 2026, 12, 3, 11, 0)
    assert _problem(rep, start, now=start - timedelta(days=21)) is None
    assert _problem(rep, start, now=start - timedelta(days=21, minutes=1)) == (
        "is more than 21 days ahead"
    )


# DST: the same local hour is a different instant ----------------------------------------


@pytest.mark.parametrize(
    ("zone", "hours", "day", "opens_utc", "closes_utc"),
    [
        # New York, spring forward on Sun 2027-03-14.
        (NY, "09:00-17:00", date(2027, 3, 11), _utc(2027, 3, 11, 14), _utc(2027, 3, 11, 22)),
        (NY, "09:00-17:00", date(2027, 3, 15), _utc(2027, 3, 15, 13), _utc(2027, 3, 15, 21)),
        # New York, fall back on Sun 2026-11-01.
        (NY, "09:00-17:00", date(2026, 10, 29), _utc(2026, 10, 29, 13), _utc(2026, 10, 29, 21)),
        (NY, "09:00-17:00", date(2026, 11, 2), _utc(2026, 11, 2, 14), _utc(2026, 11, 2, 22)),
        # Berlin, spring forward on Sun 2027-03-28.
        (
            "Europe/Berlin",
            "08:30-16:30",
            date(2027, 3, 25),
            _utc(2027, 3, 25, 7, 30),
            _utc(2027, 3, 25, 15, 30),
        ),
        (
            "Europe/Berlin",
            "08:30-16:30",
            date(2027, 3, 29),
            _utc(2027, 3, 29, 6, 30),
            _utc(2027, 3, 29, 14, 30),
        ),
        # Phoenix: MST all year.
        ("America/Phoenix", "08:00-16:00", date(2027, 1, 14), _utc(2027, 1, 14, 15), None),
        ("America/Phoenix", "08:00-16:00", date(2027, 7, 15), _utc(2027, 7, 15, 15), None),
        # Sydney, spring forward on Sun 2026-10-04 (AEST +10 -> AEDT +11).
        (
            "Australia/Sydney",
            "09:00-17:00",
            date(2026, 10, 2),
            _utc(2026, 10, 1, 23),
            _utc(2026, 10, 2, 7),
        ),
        (
            "Australia/Sydney",
            "09:00-17:00",
            date(2026, 10, 5),
            _utc(2026, 10, 4, 22),
            _utc(2026, 10, 5, 6),
        ),
        # Kolkata: +05:30, no DST.
        ("Asia/Kolkata", "09:00-17:00", date(2027, 1, 14), _utc(2027, 1, 14, 3, 30), None),
        ("Asia/Kolkata", "09:00-17:00", date(2027, 7, 15), _utc(2027, 7, 15, 3, 30), None),
    ],
)
def test_working_window_instants_across_dst(
    zone: str, hours: str, day: date, opens_utc: datetime, closes_utc: datetime | None
) -> None:
    rep = make_rep(zone, working_hours={d: hours for d in ("mon", "tue", "wed", "thu", "fri")})
    windows = _windows_on(rep, day)
    assert len(windows) == 1
    assert windows[0].start == opens_utc
    assert windows[0].end - windows[0].start == timedelta(hours=8)
    if closes_utc is not None:
        assert windows[0].end == closes_utc
    # The engine agrees: the opening instant is bookable, half an hour earlier is not.
    assert _problem(rep, opens_utc) is None
    assert _problem(rep, opens_utc - timedelta(minutes=30)) is not None


def test_new_york_nine_oclock_winter_and_summer() -> None:
    rep = make_rep(NY)
    assert _problem(rep, _utc(2027, 3, 11, 14)) is None  # Thu 09:00 EST
    assert _problem(rep, _utc(2027, 3, 11, 13)) is not None  # Thu 08:00 EST
    assert _problem(rep, _utc(2027, 3, 15, 13)) is None  # Mon 09:00 EDT
    assert _problem(rep, _utc(2027, 3, 15, 12, 30)) is not None  # Mon 08:30 EDT
    assert _problem(rep, _utc(2026, 10, 29, 13)) is None  # Thu 09:00 EDT
    assert _problem(rep, _utc(2026, 11, 2, 13)) is not None  # Mon 08:00 EST
    assert _problem(rep, _utc(2026, 11, 2, 14)) is None  # Mon 09:00 EST


def test_window_across_the_spring_forward_gap_is_shorter() -> None:
    rep = make_rep(NY, working_hours={"sun": "01:00-04:00"})
    (window,) = _windows_on(rep, date(2027, 3, 14))
    assert window == Interval(_utc(2027, 3, 14, 6), _utc(2027, 3, 14, 8))
    assert _problem(rep, _utc(2027, 3, 14, 6), minutes=120) is None
    assert _problem(rep, _utc(2027, 3, 14, 6), minutes=121) is not None


def test_window_across_the_fall_back_hour_is_longer() -> None:
    rep = make_rep(NY, working_hours={"sun": "01:00-04:00"})
    (window,) = _windows_on(rep, date(2026, 11, 1))
    assert window == Interval(_utc(2026, 11, 1, 5), _utc(2026, 11, 1, 9))
    # Both 01:30s are inside working hours.
    assert _problem(rep, _utc(2026, 11, 1, 5, 30)) is None  # 01:30 EDT
    assert _problem(rep, _utc(2026, 11, 1, 6, 30)) is None  # 01:30 EST
    assert _problem(rep, _utc(2026, 11, 1, 5), minutes=240) is None


def test_sydney_window_on_the_spring_forward_day() -> None:
    rep = make_rep("Australia/Sydney", working_hours={"sun": "01:00-04:00"})
    (window,) = _windows_on(rep, date(2026, 10, 4))
    # 01:00 AEST is 15:00Z the day before; 04:00 AEDT is 17:00Z: two real hours.
    assert window == Interval(_utc(2026, 10, 3, 15), _utc(2026, 10, 3, 17))


def test_phoenix_client_and_new_york_rep_never_an_hour_off() -> None:
    # 14:00 MST is 16:00 EST in winter and 17:00 EDT in summer: the instant decides.
    rep = make_rep(NY)
    winter = _local("America/Phoenix", 2026, 12, 3, 14)
    summer = _local("America/Phoenix", 2027, 7, 15, 14)
    assert winter.astimezone(rep.zone).hour == 16
    assert summer.astimezone(rep.zone).hour == 17
    assert _problem(rep, winter) is None  # 16:00-16:30 EST
    assert _problem(rep, summer) is not None  # 17:00 EDT is after hours


# Property ---------------------------------------------------------------------------------

PROPERTY_REPS = [
    make_rep(NY),
    make_rep("Europe/Berlin", working_hours={"mon": "08:30-16:30", "fri": "08:30-14:00"}),
    make_rep("America/Phoenix", working_hours={d: "08:00-16:00" for d in ("mon", "wed", "sat")}),
    make_rep("Australia/Sydney", working_hours={"tue": "09:00-12:00, 13:00-17:00"}),
    make_rep("Asia/Kolkata", working_hours={"thu": "10:00-18:30", "sun": "07:15-09:45"}),
]
# Spans the US and EU spring-forward and Sydney's fall-back (Sun 2027-04-04).
PROPERTY_BASE = _utc(2027, 3, 1)


def _inside_local_hours(rep: Rep, start: datetime, end: datetime) -> bool:
    local_start, local_end = start.astimezone(rep.zone), end.astimezone(rep.zone)
    if local_start.date() != local_end.date():
        return False
    ranges = rep.hours_by_weekday.get(local_start.weekday(), ())
    return any(
        opens <= local_start.time() and local_end.time() <= closes for opens, closes in ranges
    )


@settings(max_examples=300, deadline=None)
@given(
    rep=st.sampled_from(PROPERTY_REPS),
    start_minutes=st.integers(0, 40 * 24 * 12).map(lambda n: n * 5),
    duration=st.sampled_from([15, 30, 45, 60, 90]),
    buffer=st.integers(0, 30),
    busy_spec=st.lists(
        st.tuples(st.integers(-300, 300), st.integers(1, 180)), min_size=0, max_size=6
    ),
)
def test_bookable_means_free_with_buffers_and_inside_hours(
    rep: Rep,
    start_minutes: int,
    duration: int,
    buffer: int,
    busy_spec: list[tuple[int, int]],
) -> None:
    start = PROPERTY_BASE + timedelta(minutes=start_minutes)
    end = start + timedelta(minutes=duration)
    busy = [
        Interval(start + timedelta(minutes=offset), start + timedelta(minutes=offset + length))
        for offset, length in busy_spec
    ]
    pad = timedelta(minutes=buffer)
    problem = slot_problem(
        rep,
        start,
        end,
        busy,
        now=start - timedelta(days=1),
        booking=make_booking(buffer_minutes=buffer),
    )
    clear = all(b.end + pad <= start or end <= b.start - pad for b in busy)
    inside = _inside_local_hours(rep, start, end)
    if problem is None:
        assert clear
        assert inside
    else:
        # And the converse: a free slot in working hours is never refused.
        assert not (clear and inside), problem
