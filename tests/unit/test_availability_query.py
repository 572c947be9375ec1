"""The pure half of `/availability` (SPEC §4): its arguments, the caller's days as instants,
the reply's text in the caller's zone, and the team's free slots.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.availability_query import (
    AVAILABILITY_USAGE,
    BARE_NUMBER,
    DURATION_OUT_OF_RANGE,
    NOT_A_DATE,
    PAST_DATE,
    REPEATED_DURATION,
    REPEATED_PERSON,
    REPEATED_RANGE,
    UNKNOWN_ARGUMENT,
    AvailabilityQuery,
    AvailabilityUsageError,
    parse_availability_args,
    query_window,
)
from bot.domain.config import Rep
from bot.domain.intervals import Interval
from bot.domain.slots import free_slots, team_slots
from bot.messages.availability import (
    DAY_WITHOUT_SLOTS,
    MORE_SLOTS,
    NO_FREE_SLOTS,
    render_availability,
)
from tests.unit._support import make_booking, make_rep

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
KOLKATA = ZoneInfo("Asia/Kolkata")
PHOENIX = ZoneInfo("America/Phoenix")
WEDNESDAY = date(2026, 12, 2)
NEXT_WEEK = tuple(date(2026, 12, day) for day in range(7, 12))  # Mon 7 to Fri 11 Dec
BOOKING = make_booking()


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _parse(text: str, today: date = WEDNESDAY) -> AvailabilityQuery:
    return parse_availability_args(text, today=today, default_duration=30)


# Parsing ----------------------------------------------------------------------------------


def test_no_arguments_mean_the_caller_the_next_five_working_days_and_the_default_length() -> None:
    assert _parse("") == AvailabilityQuery(
        user_id=None,
        email=None,
        days=(
            date(2026, 12, 2),
            date(2026, 12, 3),
            date(2026, 12, 4),
            date(2026, 12, 7),  # the weekend is skipped
            date(2026, 12, 8),
        ),
        duration_minutes=30,
        explicit_range=False,
    )
    assert (
        parse_availability_args("  ", today=WEDNESDAY, default_duration=45).duration_minutes == 45
    )


@pytest.mark.parametrize(
    ("today", "first", "last"),
    [
        (date(2026, 12, 5), date(2026, 12, 7), date(2026, 12, 11)),  # Saturday: Mon to Fri
        (date(2026, 12, 6), date(2026, 12, 7), date(2026, 12, 11)),  # Sunday
        (date(2026, 12, 7), date(2026, 12, 7), date(2026, 12, 11)),  # Monday: this week
        (date(2026, 12, 4), date(2026, 12, 4), date(2026, 12, 10)),  # Friday: Fri, Mon-Thu
    ],
)
def test_default_range_starts_today_or_at_the_next_working_day(
    today: date, first: date, last: date
) -> None:
    query = _parse("", today)
    assert (query.first_day, query.last_day, len(query.days)) == (first, last, 5)
    assert all(day.weekday() < 5 for day in query.days)


@pytest.mark.parametrize(
    ("text", "user_id", "email"),
    [
        ("<@U0ALICE|alice>", "U0ALICE", None),
        ("<@U0ALICE>", "U0ALICE", None),
        ("<@W0BOB|Bob Smith>", "W0BOB", None),  # enterprise id, a label with a space
        ("<@u0alice|alice>", "U0ALICE", None),
        ("<mailto:Alice@OurCo.example|Alice@OurCo.example>", None, "alice@ourco.example"),
        ("<mailto:alice@ourco.example>", None, "alice@ourco.example"),
        ("Alice@OurCo.example", None, "alice@ourco.example"),
    ],
)
def test_the_person_as_slack_sends_them(text: str, user_id: str | None, email: str | None) -> None:
    query = _parse(text)
    assert (query.user_id, query.email) == (user_id, email)
    assert query.explicit_range is False


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("today", (WEDNESDAY,)),
        ("TODAY", (WEDNESDAY,)),
        ("Tomorrow", (date(2026, 12, 3),)),
        ("2026-12-02", (WEDNESDAY,)),  # today itself is not the past
        ("2027-01-15", (date(2027, 1, 15),)),
        ("2026-12-05", (date(2026, 12, 5),)),  # a Saturday, asked for by name
        ("next week", NEXT_WEEK),
        ("Next WEEK", NEXT_WEEK),
    ],
)
def test_every_range_form(text: str, days: tuple[date, ...]) -> None:
    query = _parse(text)
    assert query.days == days
    assert query.explicit_range is True


@pytest.mark.parametrize(
    ("today", "monday"),
    [
        (date(2026, 12, 6), date(2026, 12, 7)),  # Sunday: tomorrow's week
        (date(2026, 12, 7), date(2026, 12, 14)),  # Monday: not this week
        (date(2026, 12, 11), date(2026, 12, 14)),  # Friday
        (date(2026, 12, 30), date(2027, 1, 4)),  # across the year
    ],
)
def test_next_week_is_monday_to_friday_of_the_coming_week(today: date, monday: date) -> None:
    assert _parse("next week", today).days == tuple(monday + timedelta(days=n) for n in range(5))


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("30m", 30),
        ("45min", 45),
        ("45MIN", 45),
        ("90mins", 90),
        ("1h", 60),
        ("2hr", 120),
        ("1h30m", 90),
        ("1h30", 90),
        ("5m", 5),
        ("8h", 480),
    ],
)
def test_durations(text: str, minutes: int) -> None:
    query = _parse(text)
    assert query.duration_minutes == minutes
    assert query.duration == timedelta(minutes=minutes)


def test_arguments_in_any_order() -> None:
    expected = AvailabilityQuery(
        user_id="U0ALICE",
        email=None,
        days=(date(2026, 12, 3),),
        duration_minutes=60,
        explicit_range=True,
    )
    assert _parse("<@U0ALICE|alice> tomorrow 1h") == expected
    assert _parse("1h tomorrow <@U0ALICE|alice>") == expected
    assert _parse("TOMORROW   1H <@U0ALICE>") == expected


def _range_problem(token: str) -> str:
    return DURATION_OUT_OF_RANGE.format(token=token, low=5, high=480)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("banana", UNKNOWN_ARGUMENT.format(token="banana")),
        ("next", UNKNOWN_ARGUMENT.format(token="next")),
        ("next month", UNKNOWN_ARGUMENT.format(token="next")),
        ("tomorrow yesterday", UNKNOWN_ARGUMENT.format(token="yesterday")),
        ("12/03/2026", UNKNOWN_ARGUMENT.format(token="12/03/2026")),
        ("@alice", UNKNOWN_ARGUMENT.format(token="@alice")),  # not escaped by Slack
        ("<#C0GENERAL|general>", UNKNOWN_ARGUMENT.format(token="&lt;#C0GENERAL|general&gt;")),
        ("<mailto:nobody>", UNKNOWN_ARGUMENT.format(token="&lt;mailto:nobody&gt;")),
        ("1h75m", UNKNOWN_ARGUMENT.format(token="1h75m")),
        ("90", BARE_NUMBER.format(token="90")),
        ("2026-12-01", PAST_DATE.format(token="2026-12-01")),
        ("2026-02-30", NOT_A_DATE.format(token="2026-02-30")),
        ("4m", _range_problem("4m")),
        ("0h", _range_problem("0h")),
        ("8h15m", _range_problem("8h15m")),
        ("today tomorrow", REPEATED_RANGE.format(token="tomorrow")),
        ("2026-12-09 next week", REPEATED_RANGE.format(token="next week")),
        ("30m 1h", REPEATED_DURATION.format(token="1h")),
        ("<@U0ALICE> bob@ourco.example", REPEATED_PERSON.format(token="bob@ourco.example")),
        ("<@U0ALICE> <@U0BOB>", REPEATED_PERSON.format(token="&lt;@U0BOB&gt;")),
    ],
)
def test_bad_arguments_get_the_usage_line_naming_the_token(text: str, problem: str) -> None:
    with pytest.raises(AvailabilityUsageError) as caught:
        _parse(text)
    assert caught.value.problem == problem
    assert str(caught.value) == f"{problem}\n{AVAILABILITY_USAGE}"


def test_help_gets_the_usage_line_alone() -> None:
    with pytest.raises(AvailabilityUsageError) as caught:
        _parse("help")
    assert str(caught.value) == AVAILABILITY_USAGE


# The caller's days as instants ------------------------------------------------------------


def _window(days: tuple[date, ...], zone: ZoneInfo) -> tuple[datetime, datetime]:
    query = AvailabilityQuery(None, None, days, 30, explicit_range=True)
    return query_window(query, zone)


@pytest.mark.parametrize(
    ("day", "zone", "start", "hours"),
    [
        (date(2026, 3, 8), NY, _utc(2026, 3, 8, 5), 23),  # US spring forward
        (date(2026, 11, 1), NY, _utc(2026, 11, 1, 4), 25),  # US fall back
        (date(2026, 3, 29), BERLIN, _utc(2026, 3, 28, 23), 23),  # EU spring forward
        (date(2026, 10, 25), BERLIN, _utc(2026, 10, 24, 22), 25),  # EU fall back
        (date(2026, 12, 2), KOLKATA, _utc(2026, 12, 1, 18, 30), 24),  # +05:30, no DST
        (date(2026, 3, 8), KOLKATA, _utc(2026, 3, 7, 18, 30), 24),
        # Santiago's clocks jump from 00:00 to 01:00: the day starts when they read 01:00.
        (date(2026, 9, 6), ZoneInfo("America/Santiago"), _utc(2026, 9, 6, 4), 23),
    ],
)
def test_a_local_day_is_23_24_or_25_hours(
    day: date, zone: ZoneInfo, start: datetime, hours: int
) -> None:
    opens, closes = _window((day,), zone)
    assert opens == start
    assert closes - opens == timedelta(hours=hours)
    assert opens.tzinfo is UTC and closes.tzinfo is UTC


def test_window_runs_from_the_first_days_midnight_to_the_end_of_the_last() -> None:
    # Wed to Tue across a weekend and the US fall-back: 7 days and one hour.
    query = _parse("", date(2026, 10, 28))
    opens, closes = query_window(query, NY)
    assert query.days[-1] == date(2026, 11, 3)
    assert opens == _utc(2026, 10, 28, 4)  # 00:00 EDT
    assert closes == _utc(2026, 11, 4, 5)  # 00:00 EST
    assert closes - opens == timedelta(days=7, hours=1)


# Rendering --------------------------------------------------------------------------------


def _new_york_day(day: date, *, step: int = 30, hours: str = "09:00-17:00") -> list[Interval]:
    rep = make_rep("America/New_York", working_hours={f"{day:%a}".lower(): hours})
    start = datetime(day.year, day.month, day.day, tzinfo=NY)
    return free_slots(
        rep,
        [],
        start=start,
        end=start + timedelta(days=1),
        duration=timedelta(minutes=30),
        now=start - timedelta(days=1),
        booking=BOOKING,
        step=timedelta(minutes=step),
    )


def test_new_york_nine_am_seen_from_berlin_is_three_pm() -> None:
    slots = _new_york_day(date(2026, 12, 1), step=60)  # 9:00 AM ... 4:00 PM EST
    assert render_availability("Free slots of <@U0ALICE>", slots, BERLIN, max_per_day=5) == (
        "*Free slots of <@U0ALICE>* (CET)\n"
        "*Tue 1 Dec*: 3:00 PM, 4:00 PM, 5:00 PM, 6:00 PM, 7:00 PM, " + MORE_SLOTS.format(count=3)
    )


def test_new_york_afternoon_seen_from_kolkata_is_the_next_day_after_midnight() -> None:
    slots = _new_york_day(date(2026, 12, 1), step=60)
    assert render_availability("Alice", slots, KOLKATA) == (
        "*Alice* (IST)\n"
        "*Tue 1 Dec*: 7:30 PM, 8:30 PM, 9:30 PM, 10:30 PM, 11:30 PM\n"
        "*Wed 2 Dec*: 12:30 AM, 1:30 AM, 2:30 AM"
    )


def test_the_same_slots_in_the_reps_own_zone() -> None:
    slots = _new_york_day(date(2026, 12, 1), hours="11:00-13:00")
    assert render_availability("Alice", slots, NY) == (
        "*Alice* (EST)\n*Tue 1 Dec*: 11:00 AM, 11:30 AM, 12:00 PM, 12:30 PM"
    )


def test_more_than_max_per_day_says_how_many_more() -> None:
    slots = _new_york_day(date(2026, 12, 1))  # 9:00 to 4:30 every half hour: 16
    text = render_availability("Alice", slots, NY, max_per_day=8)
    assert text.splitlines()[1] == (
        "*Tue 1 Dec*: 9:00 AM, 9:30 AM, 10:00 AM, 10:30 AM, 11:00 AM, 11:30 AM, 12:00 PM, "
        "12:30 PM, \N{HORIZONTAL ELLIPSIS} (+8 more)"
    )
    assert "more" not in render_availability("Alice", slots, NY, max_per_day=16)


def test_no_slots_is_one_named_line() -> None:
    assert render_availability("Alice", [], NY) == f"*Alice*\n{NO_FREE_SLOTS}"
    days = (date(2026, 12, 7), date(2026, 12, 8))
    assert render_availability("Alice", [], NY, days=days) == f"*Alice*\n{NO_FREE_SLOTS}"
    # Slots that exist, but on none of the days asked for, are none.
    other = _new_york_day(date(2026, 12, 1))
    assert render_availability("Alice", other, NY, days=days) == f"*Alice*\n{NO_FREE_SLOTS}"


def test_given_days_each_get_a_line_and_others_are_left_out() -> None:
    tuesday, wednesday = date(2026, 12, 1), date(2026, 12, 2)
    slots = _new_york_day(tuesday, hours="09:00-10:00") + _new_york_day(
        date(2026, 12, 5), hours="09:00-10:00"
    )
    text = render_availability("Alice", slots, NY, days=(tuesday, wednesday))
    assert text == (
        "*Alice* (EST)\n"
        "*Tue 1 Dec*: 9:00 AM, 9:30 AM\n"
        f"*Wed 2 Dec*: {DAY_WITHOUT_SLOTS}"  # and Saturday's slots are not shown
    )


def test_slots_after_the_viewers_clock_change_carry_their_abbreviation() -> None:
    friday = _new_york_day(date(2026, 3, 6), hours="09:00-10:00")
    monday = _new_york_day(date(2026, 3, 9), hours="09:00-10:00")
    # Out of order on purpose: the reply is in time order whatever the input.
    assert render_availability("Alice", monday + friday, NY) == (
        "*Alice* (EST)\n*Fri 6 Mar*: 9:00 AM, 9:30 AM\n*Mon 9 Mar*: 9:00 AM EDT, 9:30 AM EDT"
    )
    # Phoenix keeps MST, so New York's 9:00 moves from 7:00 AM to 6:00 AM there.
    assert render_availability("Alice", friday + monday, PHOENIX) == (
        "*Alice* (MST)\n*Fri 6 Mar*: 7:00 AM, 7:30 AM\n*Mon 9 Mar*: 6:00 AM, 6:30 AM"
    )


def test_the_repeated_fall_back_hour_reads_unambiguously() -> None:
    first = Interval(_utc(2026, 11, 1, 5, 30), _utc(2026, 11, 1, 6))  # 1:30 AM EDT
    second = Interval(_utc(2026, 11, 1, 6, 30), _utc(2026, 11, 1, 7))  # 1:30 AM EST
    assert render_availability("Alice", [first, second], NY) == (
        "*Alice* (EDT)\n*Sun 1 Nov*: 1:30 AM, 1:30 AM EST"
    )


# Team availability ------------------------------------------------------------------------

ALICE = make_rep(
    "America/New_York", email="alice@ourco.example", working_hours={"tue": "09:00-17:00"}
)
BRUNO = make_rep("Europe/Berlin", email="bruno@ourco.example", working_hours={"tue": "08:30-16:30"})
# 10:15 IST is 04:45Z: Chitra's half-hour grid falls between the others'.
CHITRA = make_rep(
    "Asia/Kolkata", email="chitra@ourco.example", working_hours={"tue": "10:15-18:30"}
)
TEAM_START, TEAM_END = _utc(2026, 12, 1, 12), _utc(2026, 12, 1, 16)
BRUNO_BUSY = [Interval(_utc(2026, 12, 1, 12, 40), _utc(2026, 12, 1, 13))]


def _team(reps: list[tuple[Rep, list[Interval]]]) -> list[tuple[Interval, list[str]]]:
    return team_slots(
        reps,
        TEAM_START,
        TEAM_END,
        duration_minutes=30,
        booking=BOOKING,
        now=TEAM_START - timedelta(days=1),
        step=timedelta(minutes=30),
    )


def _starts(team: list[tuple[Interval, list[str]]]) -> list[tuple[str, list[str]]]:
    return [
        (f"{slot.start:%H:%M}", [email.split("@")[0] for email in emails]) for slot, emails in team
    ]


def test_team_slots_of_three_reps_in_three_zones() -> None:
    team = _team([(ALICE, []), (BRUNO, BRUNO_BUSY), (CHITRA, [])])
    # UTC: Alice works 14:00-22:00, Bruno 07:30-15:30, Chitra 04:45-13:00.
    assert _starts(team) == [
        ("12:00", ["bruno"]),  # ends 12:30, a 10-minute buffer before his 12:40
        ("12:15", ["chitra"]),  # her last: 12:45 would end after 18:30 IST
        ("13:30", ["bruno"]),  # 12:30 and 13:00 are inside his buffer
        ("14:00", ["alice", "bruno"]),
        ("14:30", ["alice", "bruno"]),
        ("15:00", ["alice", "bruno"]),  # Bruno's last: ends at 16:30 CET
        ("15:30", ["alice"]),
    ]
    assert all(slot.end - slot.start == timedelta(minutes=30) for slot, _ in team)
    assert all(slot.start.tzinfo is UTC for slot, _ in team)


def test_team_emails_follow_the_given_order() -> None:
    team = _team([(CHITRA, []), (BRUNO, BRUNO_BUSY), (ALICE, [])])
    assert dict(_starts(team))["14:00"] == ["bruno", "alice"]


def test_team_slots_agree_with_each_reps_own_free_slots() -> None:
    reps = [
        make_rep(
            zone,
            email=f"rep{n}@ourco.example",
            working_hours={"mon": hours, "tue": hours, "wed": hours, "thu": hours, "fri": hours},
        )
        for n, (zone, hours) in enumerate(
            [
                ("America/New_York", "09:00-17:00"),
                ("America/Phoenix", "08:00-12:00, 13:00-16:00"),
                ("Asia/Kolkata", "09:30-18:00"),
                ("Pacific/Chatham", "07:45-15:45"),
            ]
            * 13  # 52 reps
        )
    ]
    busy = {rep.email: [Interval(_utc(2026, 12, 2, 15), _utc(2026, 12, 2, 16))] for rep in reps}
    now, start, end = _utc(2026, 11, 30), _utc(2026, 11, 30, 12), _utc(2026, 12, 21)
    team = team_slots(
        [(rep, busy[rep.email]) for rep in reps],
        start,
        end,
        duration_minutes=45,
        booking=BOOKING,
        now=now,
    )
    expected: dict[datetime, list[str]] = {}
    for rep in reps:
        for slot in free_slots(
            rep,
            busy[rep.email],
            start=start,
            end=end,
            duration=timedelta(minutes=45),
            now=now,
            booking=BOOKING,
        ):
            expected.setdefault(slot.start, []).append(rep.email)
    assert [slot.start for slot, _ in team] == sorted(expected)
    assert all(emails == expected[slot.start] for slot, emails in team)
    assert len(team[0][1]) == 13  # one zone's thirteen reps share each start


def test_team_slots_of_nobody_or_of_reps_off_that_day() -> None:
    assert _team([]) == []
    weekend = make_rep(
        "America/New_York", email="sam@ourco.example", working_hours={"sat": "09:00-17:00"}
    )
    assert _team([(weekend, [])]) == []


@pytest.mark.parametrize(
    "text", ["\u0663\u0660m", "\uff11h", "\u0662\u0660\u0662\u0666-\u0661\u0662-\u0660\u0669"]
)
def test_other_scripts_digits_are_not_read_as_numbers(text: str) -> None:
    with pytest.raises(AvailabilityUsageError) as caught:
        _parse(text)
    assert caught.value.problem == UNKNOWN_ARGUMENT.format(token=text)
