"""The pure half of `/availability` (SPEC §4): its arguments parsed into a query, the query's
days as instants, free slots rendered one line per day, and the team's free slots. No I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.availability import free_slots, local_instant, slots_by_local_day
from bot.config import BookingConfig, Rep
from integrations.base import Interval

AVAILABILITY_USAGE = (
    "Usage: `/availability [@user|email] [today|tomorrow|YYYY-MM-DD|next week] [30m]`"
)
UNKNOWN_ARGUMENT = "I don't understand `{token}`."
REPEATED_PERSON = "`{token}`: name one person at most."
REPEATED_RANGE = "`{token}`: give one day or range at most."
REPEATED_DURATION = "`{token}`: give one duration at most."
BARE_NUMBER = "`{token}` needs a unit, like `{token}m`."
NOT_A_DATE = "`{token}` is not a date."
PAST_DATE = "`{token}` is in the past."
DURATION_OUT_OF_RANGE = "`{token}`: a meeting lasts {low} to {high} minutes."
NO_FREE_SLOTS = "No free slots in this range."
DAY_WITHOUT_SLOTS = "no free slots"
MORE_SLOTS = "\N{HORIZONTAL ELLIPSIS} (+{count} more)"

MIN_DURATION_MINUTES = 5
MAX_DURATION_MINUTES = 480
DEFAULT_WORKING_DAYS = 5

_TOKEN_RE = re.compile(r"<[^>]*>|\S+")
# Slack escapes a mention in command text as <@U123> or <@U123|name> (should_escape: true).
_MENTION_RE = re.compile(r"^<@([UW][A-Z0-9]{2,})(?:\|[^>]*)?>$", re.IGNORECASE)
# ...and auto-links an email address as <mailto:a@b.c|a@b.c>.
_MAILTO_RE = re.compile(r"^<mailto:([^|>]+)(?:\|[^>]*)?>$", re.IGNORECASE)
_EMAIL_RE = re.compile(r"^[^@\s<>|]+@[^@\s<>|]+\.[^@\s<>|]+$")
# re.ASCII: \d would also take other scripts' digits, which int() then quietly reads.
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
_DURATION_RE = re.compile(
    r"^(?:(?P<hours>\d{1,2})(?:h|hr|hrs)(?:(?P<extra>\d{1,2})(?:m|min|mins)?)?"
    r"|(?P<minutes>\d{1,3})(?:m|min|mins))$",
    re.ASCII,
)


class AvailabilityUsageError(ValueError):
    """Arguments `/availability` cannot read; the message names the token and ends with
    the usage line, ready to send back as is.
    """

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(f"{problem}\n{AVAILABILITY_USAGE}" if problem else AVAILABILITY_USAGE)


@dataclass(frozen=True)
class AvailabilityQuery:
    """Whose free slots, on which of the caller's local days, and how long a meeting.

    `user_id` and `email` are both None when the caller named nobody. `days` are dates in
    the caller's zone, in order; `explicit_range` says whether the caller chose them.
    """

    user_id: str | None
    email: str | None
    days: tuple[date, ...]
    duration_minutes: int
    explicit_range: bool

    @property
    def first_day(self) -> date:
        return self.days[0]

    @property
    def last_day(self) -> date:
        return self.days[-1]

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)


def working_days(first: date, count: int = DEFAULT_WORKING_DAYS) -> tuple[date, ...]:
    """`count` working days from `first` on, `first` included when it is one.

    A working day here is Monday to Friday whoever the rep is: each rep's own hours then
    decide which of those days have slots.
    """
    days: list[date] = []
    day = first
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return tuple(days)


def _mrkdwn(text: str) -> str:
    """Text echoed back to Slack, with the three characters mrkdwn reserves escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _email_address(token: str) -> str | None:
    mailto = _MAILTO_RE.match(token)
    address = mailto[1] if mailto else token
    return address.lower() if _EMAIL_RE.match(address) else None


def _duration_minutes(token: str) -> int | None:
    match = _DURATION_RE.match(token)
    if match is None:
        return None
    if match["minutes"] is not None:
        return int(match["minutes"])
    extra = int(match["extra"] or 0)
    if extra >= 60:
        return None
    return int(match["hours"]) * 60 + extra


def parse_availability_args(text: str, *, today: date, default_duration: int) -> AvailabilityQuery:
    """Read `[@user|email] [today|tomorrow|YYYY-MM-DD|next week] [30m]`, in any order and
    any case; `today` is the caller's local date.

    Without a range the query covers the next five working days starting today (see
    `working_days`); "next week" is Monday to Friday of the coming calendar week.
    Raise AvailabilityUsageError naming the first token that cannot be read.
    """
    tokens = _TOKEN_RE.findall(text)
    user_id: str | None = None
    email: str | None = None
    days: tuple[date, ...] | None = None
    duration: int | None = None
    index = 0
    while index < len(tokens):
        token = tokens[index]
        word = token.lower()
        shown = _mrkdwn(token)
        index += 1
        if word == "help":
            raise AvailabilityUsageError("")

        mention, address = _MENTION_RE.match(token), _email_address(token)
        if mention or address:
            if user_id is not None or email is not None:
                raise AvailabilityUsageError(REPEATED_PERSON.format(token=shown))
            user_id = mention[1].upper() if mention else None
            email = address
            continue

        chosen: tuple[date, ...] | None = None
        if word == "today":
            chosen = (today,)
        elif word == "tomorrow":
            chosen = (today + timedelta(days=1),)
        elif word == "next" and index < len(tokens) and tokens[index].lower() == "week":
            index += 1
            shown = f"{shown} {_mrkdwn(tokens[index - 1])}"
            chosen = working_days(today + timedelta(days=7 - today.weekday()))
        elif _DATE_RE.match(word):
            try:
                day = date.fromisoformat(word)
            except ValueError:
                raise AvailabilityUsageError(NOT_A_DATE.format(token=shown)) from None
            if day < today:
                raise AvailabilityUsageError(PAST_DATE.format(token=shown))
            chosen = (day,)
        if chosen is not None:
            if days is not None:
                raise AvailabilityUsageError(REPEATED_RANGE.format(token=shown))
            days = chosen
            continue

        minutes = _duration_minutes(word)
        if minutes is not None:
            if duration is not None:
                raise AvailabilityUsageError(REPEATED_DURATION.format(token=shown))
            if not MIN_DURATION_MINUTES <= minutes <= MAX_DURATION_MINUTES:
                raise AvailabilityUsageError(
                    DURATION_OUT_OF_RANGE.format(
                        token=shown, low=MIN_DURATION_MINUTES, high=MAX_DURATION_MINUTES
                    )
                )
            duration = minutes
            continue

        if word.isdigit():
            raise AvailabilityUsageError(BARE_NUMBER.format(token=shown))
        raise AvailabilityUsageError(UNKNOWN_ARGUMENT.format(token=shown))

    return AvailabilityQuery(
        user_id=user_id,
        email=email,
        days=days if days is not None else working_days(today),
        duration_minutes=duration if duration is not None else default_duration,
        explicit_range=days is not None,
    )


def query_window(query: AvailabilityQuery, viewer_zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start of the first day, end of the last day) in the viewer's zone, as UTC instants.

    A local day lasts 23 or 25 hours across a DST change; the instants say so.
    """
    start = local_instant(query.first_day, time(0), viewer_zone)
    end = local_instant(query.last_day + timedelta(days=1), time(0), viewer_zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def clock_label(moment: datetime) -> str:
    """ "2:00 PM": by hand rather than %I/%p, so no leading zero and no process locale."""
    hour = moment.hour % 12 or 12
    return f"{hour}:{moment.minute:02d} {'AM' if moment.hour < 12 else 'PM'}"


def day_label(day: date) -> str:
    """'Tue 1 Dec'."""
    return f"{day:%a} {day.day} {day:%b}"


def render_availability(
    title: str,
    slots: Sequence[Interval],
    viewer_zone: ZoneInfo,
    *,
    max_per_day: int = 8,
    days: Sequence[date] | None = None,
) -> str:
    """Free slots as Slack mrkdwn: the title (mrkdwn as given, so it may hold a mention)
    with the viewer's zone abbreviation, then one line per local day of slot start times.

    With `days`, only slots starting on those local days are shown and each of those days
    gets a line, saying so when it has no free slot. A slot whose abbreviation differs from
    the title's (after a DST change) carries its own.
    """
    ordered = sorted(slots, key=lambda slot: slot.start.astimezone(UTC))
    by_day = slots_by_local_day(ordered, viewer_zone)
    shown_days = list(days) if days is not None else list(by_day)
    if not any(by_day.get(day) for day in shown_days):
        return f"*{title}*\n{NO_FREE_SLOTS}"
    first = next(by_day[day][0] for day in shown_days if by_day.get(day))
    abbreviation = first.start.astimezone(viewer_zone).tzname()
    lines = [f"*{title}* ({abbreviation})"]
    for day in shown_days:
        group = by_day.get(day, [])
        if not group:
            lines.append(f"*{day_label(day)}*: {DAY_WITHOUT_SLOTS}")
            continue
        times = []
        for slot in group[:max_per_day]:
            local = slot.start.astimezone(viewer_zone)
            zone_name = local.tzname()
            times.append(
                clock_label(local) + ("" if zone_name == abbreviation else f" {zone_name}")
            )
        line = f"*{day_label(day)}*: {', '.join(times)}"
        if len(group) > max_per_day:
            line += ", " + MORE_SLOTS.format(count=len(group) - max_per_day)
        lines.append(line)
    return "\n".join(lines)


def team_slots(
    reps_with_busy: Sequence[tuple[Rep, Sequence[Interval]]],
    start: datetime,
    end: datetime,
    *,
    duration_minutes: int,
    booking: BookingConfig,
    now: datetime,
    step: timedelta = timedelta(minutes=15),
) -> list[tuple[Interval, list[str]]]:
    """Every slot start in [start, end) where at least one rep is free, in time order, with
    the emails of the reps free then, in the order given (say, round-robin order).

    Reps work on grids anchored to their own opening hours, so the starts are the union of
    each rep's `free_slots`: one sweep per rep, then one sort of the distinct starts.
    """
    duration = timedelta(minutes=duration_minutes)
    free_at: dict[datetime, list[str]] = {}
    for rep, busy in reps_with_busy:
        slots = free_slots(
            rep, busy, start=start, end=end, duration=duration, now=now, booking=booking, step=step
        )
        for slot in slots:
            free_at.setdefault(slot.start, []).append(rep.email)
    return [(Interval(at, at + duration), free_at[at]) for at in sorted(free_at)]
