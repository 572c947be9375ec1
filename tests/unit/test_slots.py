"""The slot engine behind the Book modal and `/availability` (SPEC §4, §5): free slots on a
grid anchored to local opening hours in every kind of zone, buffers, notice, horizon, team
availability, and how slots read in the viewer's zone.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.config import BookingConfig, Rep
from bot.domain.intervals import Interval
from bot.domain.slots import (
    first_free_rep,
    format_slot,
    free_slots,
    merge_busy,
    slot_problem,
    slots_by_local_day,
    working_windows,
)
from tests.unit._support import make_booking, make_rep

NY = "America/New_York"
PHOENIX = "America/Phoenix"
BERLIN = "Europe/Berlin"
SYDNEY = "Australia/Sydney"
KOLKATA = "Asia/Kolkata"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
BOOKING = make_booking()
DASH = "\N{EN DASH}"


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _local(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


def _slots(
    rep: Rep,
    start: datetime,
    end: datetime,
    busy: tuple[Interval, ...] = (),
    *,
    now: datetime | None = None,
    booking: BookingConfig = BOOKING,
    minutes: int = 30,
    step: int = 15,
) -> list[Interval]:
    return free_slots(
        rep,
        busy,
        start=start,
        end=end,
        duration=timedelta(minutes=minutes),
        now=now or start - timedelta(days=1),
        booking=booking,
        step=timedelta(minutes=step),
    )


def _local_day(rep: Rep, day: date, days: int = 1) -> tuple[datetime, datetime]:
    """[local midnight of `day`, local midnight `days` later) in the rep's zone."""
    start = datetime(day.year, day.month, day.day, tzinfo=rep.zone)
    return start, start + timedelta(days=days)


def _starts(slots: list[Interval], zone: str) -> list[str]:
    return [f"{s.start.astimezone(ZoneInfo(zone)):%a %H:%M %Z}" for s in slots]


# Working hours in the rep's own zone, across DST --------------------------------------------


@pytest.mark.parametrize(
    ("day", "opens", "closes"),
    [
        (date(2026, 12, 1), _utc(2026, 12, 1, 14), _utc(2026, 12, 1, 22)),  # EST
        (date(2027, 7, 13), _utc(2027, 7, 13, 13), _utc(2027, 7, 13, 21)),  # EDT
    ],
)
def test_new_york_day_in_winter_and_summer(day: date, opens: datetime, closes: datetime) -> None:
    rep = make_rep(NY)
    slots = _slots(rep, *_local_day(rep, day))
    assert slots[0] == Interval(opens, opens + timedelta(minutes=30))
    assert slots[-1].end == closes
    assert len(slots) == 31  # 09:00, 09:15, ... 16:30
    assert all(b.start - a.start == timedelta(minutes=15) for a, b in itertools.pairwise(slots))
    assert all(s.start.tzinfo is UTC and s.end.tzinfo is UTC for s in slots)


def _first_and_last_by_day(rep: Rep, slots: list[Interval]) -> dict[date, tuple[datetime, ...]]:
    days: dict[date, list[Interval]] = {}
    for slot in slots:
        days.setdefault(slot.start.astimezone(rep.zone).date(), []).append(slot)
    return {day: (group[0].start, group[-1].end) for day, group in days.items()}


@pytest.mark.parametrize(
    ("zone", "hours", "first_day", "expected"),
    [
        # New York springs forward on Sun 2027-03-14: 09:00 moves from 14:00Z to 13:00Z.
        (
            NY,
            "09:00-17:00",
            date(2027, 3, 11),
            {
                date(2027, 3, 11): (_utc(2027, 3, 11, 14), _utc(2027, 3, 11, 22)),
                date(2027, 3, 12): (_utc(2027, 3, 12, 14), _utc(2027, 3, 12, 22)),
                date(2027, 3, 15): (_utc(2027, 3, 15, 13), _utc(2027, 3, 15, 21)),
            },
        ),
        # Phoenix keeps MST through the same week.
        (
            PHOENIX,
            "08:00-16:00",
            date(2027, 3, 11),
            {
                date(2027, 3, 11): (_utc(2027, 3, 11, 15), _utc(2027, 3, 11, 23)),
                date(2027, 3, 12): (_utc(2027, 3, 12, 15), _utc(2027, 3, 12, 23)),
                date(2027, 3, 15): (_utc(2027, 3, 15, 15), _utc(2027, 3, 15, 23)),
            },
        ),
        # Berlin springs forward on Sun 2027-03-28: 08:30 CET then 08:30 CEST.
        (
            BERLIN,
            "08:30-16:30",
            date(2027, 3, 25),
            {
                date(2027, 3, 25): (_utc(2027, 3, 25, 7, 30), _utc(2027, 3, 25, 15, 30)),
                date(2027, 3, 26): (_utc(2027, 3, 26, 7, 30), _utc(2027, 3, 26, 15, 30)),
                date(2027, 3, 29): (_utc(2027, 3, 29, 6, 30), _utc(2027, 3, 29, 14, 30)),
            },
        ),
        # Sydney springs forward on Sun 2026-10-04 (AEST +10 -> AEDT +11): the day before
        # in UTC, an hour earlier after the change.
        (
            SYDNEY,
            "09:00-17:00",
            date(2026, 10, 1),
            {
                date(2026, 10, 1): (_utc(2026, 9, 30, 23), _utc(2026, 10, 1, 7)),
                date(2026, 10, 2): (_utc(2026, 10, 1, 23), _utc(2026, 10, 2, 7)),
                date(2026, 10, 5): (_utc(2026, 10, 4, 22), _utc(2026, 10, 5, 6)),
            },
        ),
        # Kolkata: +05:30 all year.
        (
            KOLKATA,
            "09:00-17:00",
            date(2027, 3, 11),
            {
                date(2027, 3, 11): (_utc(2027, 3, 11, 3, 30), _utc(2027, 3, 11, 11, 30)),
                date(2027, 3, 12): (_utc(2027, 3, 12, 3, 30), _utc(2027, 3, 12, 11, 30)),
                date(2027, 3, 15): (_utc(2027, 3, 15, 3, 30), _utc(2027, 3, 15, 11, 30)),
            },
        ),
    ],
)
def test_opening_hour_is_local_across_the_dst_change(
    zone: str, hours: str, first_day: date, expected: dict[date, tuple[datetime, ...]]
) -> None:
    # Thursday to Monday inclusive, one call straddling the change.
    rep = make_rep(zone, working_hours=dict.fromkeys(WEEKDAYS, hours))
    slots = _slots(rep, *_local_day(rep, first_day, days=5))
    assert _first_and_last_by_day(rep, slots) == expected


def test_grid_is_anchored_to_the_local_opening_not_to_utc() -> None:
    # 09:00 IST is 03:30Z: hourly slots fall on the local hour, i.e. half past in UTC.
    rep = make_rep(KOLKATA, working_hours={"thu": "09:00-12:00"})
    slots = _slots(rep, *_local_day(rep, date(2027, 3, 11)), minutes=60, step=60)
    assert [s.start for s in slots] == [
        _utc(2027, 3, 11, 3, 30),
        _utc(2027, 3, 11, 4, 30),
        _utc(2027, 3, 11, 5, 30),
    ]


def test_spring_forward_gap_leaves_two_real_hours() -> None:
    rep = make_rep(NY, working_hours={"sun": "01:00-04:00"})
    slots = _slots(rep, *_local_day(rep, date(2027, 3, 14)), minutes=60, step=60)
    assert [s.start for s in slots] == [_utc(2027, 3, 14, 6), _utc(2027, 3, 14, 7)]
    assert _starts(slots, NY) == ["Sun 01:00 EST", "Sun 03:00 EDT"]


def test_fall_back_hour_gives_four_real_hours() -> None:
    rep = make_rep(NY, working_hours={"sun": "01:00-04:00"})
    slots = _slots(rep, *_local_day(rep, date(2026, 11, 1)), minutes=60, step=60)
    assert _starts(slots, NY) == [
        "Sun 01:00 EDT",
        "Sun 01:00 EST",
        "Sun 02:00 EST",
        "Sun 03:00 EST",
    ]
    assert all(b.start - a.start == timedelta(hours=1) for a, b in itertools.pairwise(slots))


# Rendering in the viewer's zone -----------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "viewer", "text"),
    [
        (date(2026, 12, 1), NY, f"Tue 1 Dec 09:00{DASH}09:30 EST"),
        (date(2026, 12, 1), PHOENIX, f"Tue 1 Dec 07:00{DASH}07:30 MST"),
        (date(2026, 12, 1), SYDNEY, f"Wed 2 Dec 01:00{DASH}01:30 AEDT"),
        (date(2027, 7, 13), NY, f"Tue 13 Jul 09:00{DASH}09:30 EDT"),
        (date(2027, 7, 13), PHOENIX, f"Tue 13 Jul 06:00{DASH}06:30 MST"),
        (date(2027, 7, 13), KOLKATA, f"Tue 13 Jul 18:30{DASH}19:00 IST"),
    ],
)
def test_new_york_reps_first_slot_seen_from_other_zones(day: date, viewer: str, text: str) -> None:
    rep = make_rep(NY)
    first = _slots(rep, *_local_day(rep, day))[0]
    assert format_slot(first, ZoneInfo(viewer)) == text


@pytest.mark.parametrize(
    ("day", "text"),
    [
        (date(2026, 12, 3), f"Thu 3 Dec 16:00{DASH}16:30 EST"),
        (date(2027, 7, 15), f"Thu 15 Jul 17:00{DASH}17:30 EDT"),
    ],
)
def test_phoenix_reps_two_pm_is_never_an_hour_off_in_new_york(day: date, text: str) -> None:
    rep = make_rep(PHOENIX)
    slots = _slots(rep, *_local_day(rep, day))
    (two_pm,) = [s for s in slots if f"{s.start.astimezone(rep.zone):%H:%M}" == "14:00"]
    assert format_slot(two_pm, ZoneInfo(PHOENIX)).endswith(f"14:00{DASH}14:30 MST")
    assert format_slot(two_pm, ZoneInfo(NY)) == text


def test_slot_across_the_viewers_fall_back_names_both_abbreviations() -> None:
    slot = Interval(_utc(2026, 11, 1, 5, 45), _utc(2026, 11, 1, 6, 15))
    assert format_slot(slot, ZoneInfo(NY)) == f"Sun 1 Nov 01:45 EDT{DASH}01:15 EST"
    assert format_slot(slot, ZoneInfo(PHOENIX)) == f"Sat 31 Oct 22:45{DASH}23:15 MST"


def test_late_evening_slots_fall_on_the_next_day_for_a_viewer_east_of_the_rep() -> None:
    rep = make_rep(NY, working_hours={"tue": "14:00-20:00"})
    slots = _slots(rep, *_local_day(rep, date(2026, 12, 1)), minutes=60, step=60)
    assert len(slots) == 6  # 14:00 ... 19:00 EST, i.e. 20:00 ... 01:00 CET
    in_berlin = slots_by_local_day(slots, ZoneInfo(BERLIN))
    assert list(in_berlin) == [date(2026, 12, 1), date(2026, 12, 2)]
    assert in_berlin[date(2026, 12, 1)] == slots[:4]
    assert in_berlin[date(2026, 12, 2)] == slots[4:]  # 18:00 EST is 00:00 CET
    assert slots_by_local_day(slots, rep.zone) == {date(2026, 12, 1): slots}
    assert slots_by_local_day(slots, ZoneInfo(PHOENIX)) == {date(2026, 12, 1): slots}
    assert slots_by_local_day([], rep.zone) == {}


# Range, notice and horizon ----------------------------------------------------------------


def test_range_bounds_the_whole_slot_and_the_grid_stays_on_the_window() -> None:
    rep = make_rep(NY)
    slots = _slots(rep, _local(NY, 2026, 12, 1, 10, 5), _local(NY, 2026, 12, 1, 12, 10))
    assert _starts(slots, NY)[0] == "Tue 10:15 EST"  # not 10:05: the grid is 09:00-based
    assert _starts(slots, NY)[-1] == "Tue 11:30 EST"  # 11:45 would end after 12:10


@pytest.mark.parametrize(
    ("now", "first"),
    [
        (_local(NY, 2026, 12, 1, 10, 0), "Tue 12:00 EST"),  # exactly the notice: allowed
        (_local(NY, 2026, 12, 1, 10, 7), "Tue 12:15 EST"),  # next grid point after 12:07
        (_local(NY, 2026, 12, 1, 16, 0), "Wed 09:00 EST"),  # nothing left today
    ],
)
def test_minimum_notice(now: datetime, first: str) -> None:
    rep = make_rep(NY)
    slots = _slots(rep, *_local_day(rep, date(2026, 12, 1), days=2), now=now)
    assert _starts(slots, NY)[0] == first


def test_horizon_allows_a_start_exactly_at_its_end() -> None:
    rep = make_rep(NY)
    now = _local(NY, 2026, 12, 1, 9, 0)
    booking = make_booking(min_notice_minutes=0, horizon_days=1)
    slots = _slots(rep, *_local_day(rep, date(2026, 12, 1), days=3), now=now, booking=booking)
    starts = _starts(slots, NY)
    assert starts[0] == "Tue 09:00 EST"
    assert starts[-1] == "Wed 09:00 EST"
    assert len(slots) == 32
    assert _slots(rep, *_local_day(rep, date(2026, 12, 3)), now=now, booking=booking) == []


def test_window_already_closed_by_notice_or_horizon_gives_nothing() -> None:
    rep = make_rep(NY)
    start, end = _local_day(rep, date(2026, 12, 1))
    assert _slots(rep, start, end, now=end) == []
    assert _slots(rep, start, end, now=start - timedelta(days=30)) == []


# Buffers ----------------------------------------------------------------------------------

BUSY = (Interval(_local(NY, 2026, 12, 3, 15, 0), _local(NY, 2026, 12, 3, 16, 0)),)


def test_buffer_around_a_busy_block_to_the_minute() -> None:
    rep = make_rep(NY)
    slots = _slots(
        rep, _local(NY, 2026, 12, 3, 14, 0), _local(NY, 2026, 12, 3, 17, 0), BUSY, step=1
    )
    starts = _starts(slots, NY)
    # 14:20-14:50 ends exactly one buffer before 15:00; 14:21 is too close.
    assert "Thu 14:20 EST" in starts
    assert "Thu 14:21 EST" not in starts
    assert "Thu 16:09 EST" not in starts
    assert "Thu 16:10 EST" in starts
    assert starts.index("Thu 16:10 EST") == starts.index("Thu 14:20 EST") + 1
    assert len(slots) == 21 + 21  # 14:00 ... 14:20 and 16:10 ... 16:30


def test_zero_buffer_allows_back_to_back() -> None:
    rep = make_rep(NY)
    slots = _slots(
        rep,
        _local(NY, 2026, 12, 3, 14, 0),
        _local(NY, 2026, 12, 3, 17, 0),
        BUSY,
        booking=make_booking(buffer_minutes=0),
        step=30,
    )
    assert _starts(slots, NY) == [
        "Thu 14:00 EST",
        "Thu 14:30 EST",
        "Thu 16:00 EST",
        "Thu 16:30 EST",
    ]


def test_busy_block_longer_than_a_day_is_skipped_in_one_jump() -> None:
    rep = make_rep(NY)
    busy = (Interval(_local(NY, 2026, 11, 30, 12), _local(NY, 2026, 12, 2, 11)),)
    slots = _slots(rep, *_local_day(rep, date(2026, 11, 30), days=3), busy)
    assert _starts(slots, NY)[0] == "Mon 09:00 EST"
    assert "Mon 11:15 EST" in _starts(slots, NY)
    assert "Mon 11:30 EST" not in _starts(slots, NY)
    assert next(s for s in _starts(slots, NY) if not s.startswith("Mon")) == "Wed 11:15 EST"


def test_bad_arguments_are_refused() -> None:
    rep = make_rep(NY)
    start, end = _local_day(rep, date(2026, 12, 1))
    with pytest.raises(ValueError, match="positive"):
        _slots(rep, start, end, minutes=0)
    with pytest.raises(ValueError, match="positive"):
        _slots(rep, start, end, step=0)
    with pytest.raises(ValueError, match="naive"):
        _slots(rep, start.replace(tzinfo=None), end)


# merge_busy -------------------------------------------------------------------------------


def _at(hour: int, minute: int = 0) -> datetime:
    return _utc(2026, 12, 3, hour, minute)


def test_merge_busy_widens_sorts_and_merges() -> None:
    busy = [
        Interval(_at(13), _at(13, 5)),
        Interval(_at(11), _at(11, 30)),
        Interval(_at(9), _at(10)),
        Interval(_at(9, 30), _at(9, 45)),  # inside the one before
        Interval(_at(10, 20), _at(10, 40)),  # 20 minutes apart: touching once widened
    ]
    assert merge_busy(busy, timedelta(minutes=10)) == [
        Interval(_at(8, 50), _at(11, 40)),
        Interval(_at(12, 50), _at(13, 15)),
    ]
    assert merge_busy(busy, timedelta(0)) == [
        Interval(_at(9), _at(10)),
        Interval(_at(10, 20), _at(10, 40)),
        Interval(_at(11), _at(11, 30)),
        Interval(_at(13), _at(13, 5)),
    ]


def test_merge_busy_merges_touching_and_keeps_a_one_minute_gap() -> None:
    busy = [
        Interval(_at(9), _at(10)),
        Interval(_at(10), _at(10, 30)),
        Interval(_at(10, 31), _at(11)),
    ]
    assert merge_busy(busy, timedelta(0)) == [
        Interval(_at(9), _at(10, 30)),
        Interval(_at(10, 31), _at(11)),
    ]
    assert merge_busy([], timedelta(minutes=10)) == []


def test_merge_busy_orders_instants_across_zones() -> None:
    # 10:00 CET is 09:00Z, earlier than 09:30Z though its wall clock reads later.
    busy = [
        Interval(_at(9, 30), _at(9, 45)),
        Interval(_local(BERLIN, 2026, 12, 3, 10), _local(BERLIN, 2026, 12, 3, 10, 15)),
    ]
    assert merge_busy(busy, timedelta(0)) == [
        Interval(_at(9), _at(9, 15)),
        Interval(_at(9, 30), _at(9, 45)),
    ]
    assert all(b.start.tzinfo is UTC for b in merge_busy(busy, timedelta(0)))


# first_free_rep ---------------------------------------------------------------------------

ALICE = make_rep(NY, email="alice@ourco.example")
BRUNO = make_rep(BERLIN, email="bruno@ourco.example", working_hours={"tue": "08:30-16:30"})
# Tue 2026-12-01 10:00 EST is 16:00 CET: inside both reps' hours.
AT = _local(NY, 2026, 12, 1, 10)
UNTIL = AT + timedelta(minutes=30)
NOW = AT - timedelta(days=1)
BLOCK = [Interval(AT, UNTIL)]


def _first(reps: list[Rep], busy: dict[str, list[Interval]], start: datetime = AT) -> Rep | None:
    return first_free_rep(
        reps, busy, start, start + timedelta(minutes=30), now=NOW, booking=BOOKING
    )


def test_first_free_rep_follows_the_given_order() -> None:
    free: dict[str, list[Interval]] = {ALICE.email: [], BRUNO.email: []}
    assert _first([ALICE, BRUNO], free) == ALICE
    assert _first([BRUNO, ALICE], free) == BRUNO


def test_first_free_rep_skips_a_busy_rep() -> None:
    assert _first([ALICE, BRUNO], {ALICE.email: BLOCK, BRUNO.email: []}) == BRUNO


def test_first_free_rep_skips_a_rep_outside_their_hours() -> None:
    # 10:45 EST is 16:45 CET, after Bruno's 16:30.
    late = AT + timedelta(minutes=45)
    assert _first([BRUNO, ALICE], {ALICE.email: [], BRUNO.email: []}, late) == ALICE


def test_first_free_rep_skips_a_rep_whose_calendar_is_unknown() -> None:
    assert _first([ALICE, BRUNO], {BRUNO.email: []}) == BRUNO


def test_first_free_rep_is_none_when_everyone_is_busy() -> None:
    assert _first([ALICE, BRUNO], {ALICE.email: BLOCK, BRUNO.email: BLOCK}) is None
    assert _first([], {}) is None


# Property: every slot offered is one the booking path accepts, and none is missed ---------

# Every rep works in the small hours of Sunday, so the spring-forward gap and the repeated
# fall-back hour fall inside working hours; Phoenix works from Saturday 18:00 across midnight.
PROPERTY_CASES = [
    (
        make_rep(
            NY, working_hours={**dict.fromkeys(WEEKDAYS, "09:00-17:00"), "sun": "01:00-04:00"}
        ),
        (_utc(2027, 3, 14, 7), _utc(2026, 11, 1, 6)),
    ),
    (
        make_rep(
            BERLIN,
            working_hours={
                **dict.fromkeys(WEEKDAYS, "08:30-12:00, 13:00-16:30"),
                "sun": "01:00-04:00",
            },
        ),
        (_utc(2027, 3, 28, 1), _utc(2026, 10, 25, 1)),
    ),
    (
        make_rep(
            PHOENIX,
            working_hours={
                "mon": "08:00-16:00",
                "wed": "08:00-16:00",
                "sat": "18:00-24:00",
                "sun": "00:00-04:00",
            },
        ),
        (_utc(2027, 3, 14, 10), _utc(2026, 11, 1, 9)),
    ),
    (
        make_rep(SYDNEY, working_hours={"tue": "09:00-12:00, 13:00-17:00", "sun": "01:00-04:00"}),
        (_utc(2026, 10, 3, 16), _utc(2027, 4, 3, 16)),
    ),
    (
        make_rep(KOLKATA, working_hours={"thu": "10:00-18:30", "sun": "01:00-04:00"}),
        (_utc(2027, 3, 14, 7), _utc(2026, 11, 1, 6)),
    ),
]
SPAN = timedelta(days=21)


def _naive_slots(
    rep: Rep,
    busy: list[Interval],
    start: datetime,
    end: datetime,
    duration: timedelta,
    step: timedelta,
    now: datetime,
    booking: BookingConfig,
) -> list[Interval]:
    """The definition, spelled out: every grid point of every window, asked one by one."""
    slots = []
    for window in working_windows(rep, start, end):
        slot = window.start.astimezone(UTC)
        while slot + duration <= window.end:
            if (
                start <= slot
                and slot + duration <= end
                and slot_problem(rep, slot, slot + duration, busy, now=now, booking=booking) is None
            ):
                slots.append(Interval(slot, slot + duration))
            slot += step
    return slots


@settings(max_examples=150, deadline=None)
@given(
    case=st.sampled_from(PROPERTY_CASES),
    which=st.sampled_from([0, 1]),
    # (which working window, minutes from its opening, length): busy time near working
    # hours, where it decides something, including just before and after them.
    busy_spec=st.lists(
        st.tuples(st.integers(0, 100), st.integers(-120, 600), st.integers(1, 480)),
        min_size=0,
        max_size=30,
    ),
    trim=st.tuples(st.integers(0, 4 * 24 * 12), st.integers(0, 4 * 24 * 12)),
    now_offset=st.integers(-3 * 24 * 60, 5 * 24 * 60),
    duration=st.sampled_from([15, 30, 45, 60, 90]),
    step=st.sampled_from([10, 15, 30, 60]),
    buffer=st.integers(0, 30),
    notice=st.integers(0, 600),
    horizon=st.integers(3, 21),
)
def test_every_slot_is_bookable_and_none_is_missed(
    case: tuple[Rep, tuple[datetime, datetime]],
    which: int,
    busy_spec: list[tuple[int, int, int]],
    trim: tuple[int, int],
    now_offset: int,
    duration: int,
    step: int,
    buffer: int,
    notice: int,
    horizon: int,
) -> None:
    rep, transitions = case
    base = transitions[which] - timedelta(days=10)  # three weeks around a DST change
    # In UTC: aware datetimes of one zone add and subtract as wall clocks, which would
    # make "busy until 02:59" ambiguous on a fall-back night.
    openings = [
        w.start.astimezone(UTC) for w in working_windows(rep, base, base + SPAN) if w.start >= base
    ]
    busy = [
        Interval(opening, opening + timedelta(minutes=length))
        for pick, offset, length in busy_spec
        for opening in [openings[pick % len(openings)] + timedelta(minutes=offset)]
    ]
    start = base + timedelta(minutes=5 * trim[0])
    end = base + SPAN - timedelta(minutes=5 * trim[1])
    now = base + timedelta(minutes=now_offset)
    length, pad = timedelta(minutes=duration), timedelta(minutes=buffer)
    booking = make_booking(buffer_minutes=buffer, min_notice_minutes=notice, horizon_days=horizon)

    slots = free_slots(
        rep,
        busy,
        start=start,
        end=end,
        duration=length,
        now=now,
        booking=booking,
        step=timedelta(minutes=step),
    )

    windows = working_windows(rep, start, end)
    for slot in slots:
        # (a) clear of every busy interval widened by the buffer
        assert all(b.end + pad <= slot.start or slot.end <= b.start - pad for b in busy)
        # (b) inside one working window
        assert any(w.start <= slot.start and slot.end <= w.end for w in windows)
        # (c) notice and horizon, and the asked-for range
        assert now + timedelta(minutes=notice) <= slot.start <= now + timedelta(days=horizon)
        assert start <= slot.start and slot.end <= end
        # (d) exactly the requested duration
        assert slot.end - slot.start == length
        # (e) the booking path agrees
        assert slot_problem(rep, slot.start, slot.end, busy, now=now, booking=booking) is None
    # Nothing bookable on the grid is left out, nothing is offered twice, all in order.
    step_delta = timedelta(minutes=step)
    assert slots == _naive_slots(rep, busy, start, end, length, step_delta, now, booking)
    assert all(a.start < b.start for a, b in itertools.pairwise(slots))
