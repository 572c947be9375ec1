"""The pure half of `/availability` (SPEC §4): its arguments parsed into a query, the query's
days as instants, free slots rendered one line per day, and the team's free slots. No I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.slots import local_instant

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


def _tokens(text: str) -> list[str]:
    """The words of the command, with "next week" kept together as one."""
    tokens: list[str] = []
    for token in _TOKEN_RE.findall(text):
        if token.lower() == "week" and tokens and tokens[-1].lower() == "next":
            tokens[-1] = f"{tokens[-1]} {token}"
        else:
            tokens.append(token)
    return tokens


def _day_range(word: str, shown: str, today: date) -> tuple[date, ...] | None:
    """The days a range word names, None when the word is not one."""
    if word == "today":
        return (today,)
    if word == "tomorrow":
        return (today + timedelta(days=1),)
    if word == "next week":
        return working_days(today + timedelta(days=7 - today.weekday()))
    if not _DATE_RE.match(word):
        return None
    try:
        day = date.fromisoformat(word)
    except ValueError:
        raise AvailabilityUsageError(NOT_A_DATE.format(token=shown)) from None
    if day < today:
        raise AvailabilityUsageError(PAST_DATE.format(token=shown))
    return (day,)


def _checked_duration(word: str, shown: str) -> int | None:
    """The minutes a duration word names, None when the word is not one."""
    minutes = _duration_minutes(word)
    if minutes is not None and not MIN_DURATION_MINUTES <= minutes <= MAX_DURATION_MINUTES:
        raise AvailabilityUsageError(
            DURATION_OUT_OF_RANGE.format(
                token=shown, low=MIN_DURATION_MINUTES, high=MAX_DURATION_MINUTES
            )
        )
    return minutes


@dataclass
class _Arguments:
    """What the words read so far named; each may be named once."""

    person: tuple[str | None, str | None] | None = None  # (user id, email)
    days: tuple[date, ...] | None = None
    duration: int | None = None

    def read(self, token: str, today: date) -> None:
        word, shown = token.lower(), _mrkdwn(token)
        if word == "help":
            raise AvailabilityUsageError("")
        mention, address = _MENTION_RE.match(token), _email_address(token)
        if mention or address:
            if self.person is not None:
                raise AvailabilityUsageError(REPEATED_PERSON.format(token=shown))
            self.person = (mention[1].upper() if mention else None, address)
            return
        days = _day_range(word, shown, today)
        if days is not None:
            if self.days is not None:
                raise AvailabilityUsageError(REPEATED_RANGE.format(token=shown))
            self.days = days
            return
        minutes = _checked_duration(word, shown)
        if minutes is not None:
            if self.duration is not None:
                raise AvailabilityUsageError(REPEATED_DURATION.format(token=shown))
            self.duration = minutes
            return
        if word.isdigit():
            raise AvailabilityUsageError(BARE_NUMBER.format(token=shown))
        raise AvailabilityUsageError(UNKNOWN_ARGUMENT.format(token=shown))


def parse_availability_args(text: str, *, today: date, default_duration: int) -> AvailabilityQuery:
    """Read `[@user|email] [today|tomorrow|YYYY-MM-DD|next week] [30m]`, in any order and
    any case; `today` is the caller's local date.

    Without a range the query covers the next five working days starting today (see
    `working_days`); "next week" is Monday to Friday of the coming calendar week.
    Raise AvailabilityUsageError naming the first token that cannot be read.
    """
    arguments = _Arguments()
    for token in _tokens(text):
        arguments.read(token, today)
    user_id, email = arguments.person or (None, None)
    return AvailabilityQuery(
        user_id=user_id,
        email=email,
        days=arguments.days if arguments.days is not None else working_days(today),
        duration_minutes=(
            arguments.duration if arguments.duration is not None else default_duration
        ),
        explicit_range=arguments.days is not None,
    )


def query_window(query: AvailabilityQuery, viewer_zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start of the first day, end of the last day) in the viewer's zone, as UTC instants.

    A local day lasts 23 or 25 hours across a DST change; the instants say so.
    """
    start = local_instant(query.first_day, time(0), viewer_zone)
    end = local_instant(query.last_day + timedelta(days=1), time(0), viewer_zone)
    return start.astimezone(UTC), end.astimezone(UTC)
