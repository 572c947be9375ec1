"""Whether a rep can take a meeting at a given instant: working hours in the rep's own
zone, busy time (plus buffers) from every calendar, minimum notice and horizon. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta

from bot.config import BookingConfig, Rep
from integrations.base import Interval


def working_windows(rep: Rep, start: datetime, end: datetime) -> list[Interval]:
    """The rep's working ranges, as instants, on every local day touching [start, end)."""
    zone = rep.zone
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    windows: list[Interval] = []
    while day <= last:
        for opens, closes in rep.hours_by_weekday.get(day.weekday(), ()):
            window_start = datetime.combine(day, opens, tzinfo=zone)
            if closes == time.max:
                window_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
            else:
                window_end = datetime.combine(day, closes, tzinfo=zone)
            if windows and windows[-1].end >= window_start:
                # Touching ranges ("09:00-12:00, 12:00-17:00", or 24:00 then 00:00) are one.
                windows[-1] = Interval(windows[-1].start, max(windows[-1].end, window_end))
            else:
                windows.append(Interval(window_start, window_end))
        day += timedelta(days=1)
    return windows


def timing_problem(
    rep: Rep, start: datetime, end: datetime, *, now: datetime, booking: BookingConfig
) -> str | None:
    """The checks that need no calendar: notice, horizon, working hours."""
    if start < now + timedelta(minutes=booking.min_notice_minutes):
        return f"starts in less than {booking.min_notice_minutes} minutes"
    if start > now + timedelta(days=booking.horizon_days):
        return f"is more than {booking.horizon_days} days ahead"
    if not any(w.start <= start and end <= w.end for w in working_windows(rep, start, end)):
        local = start.astimezone(rep.zone)
        return f"is outside {rep.email}'s working hours ({local:%a %H:%M} {rep.timezone})"
    return None


def busy_problem(
    rep: Rep, start: datetime, end: datetime, busy: Iterable[Interval], buffer_minutes: int
) -> str | None:
    """Whether [start, end), padded by the buffer, overlaps any busy interval."""
    buffer = timedelta(minutes=buffer_minutes)
    for block in busy:
        if block.start < end + buffer and block.end > start - buffer:
            local = block.start.astimezone(rep.zone)
            return (
                f"overlaps busy time from {local:%a %H:%M} {rep.timezone} "
                f"(with a {buffer_minutes}-minute buffer)"
            )
    return None


def slot_problem(
    rep: Rep,
    start: datetime,
    end: datetime,
    busy: Iterable[Interval],
    *,
    now: datetime,
    booking: BookingConfig,
) -> str | None:
    """None when [start, end) is bookable for the rep, else why not, in plain words."""
    return timing_problem(rep, start, end, now=now, booking=booking) or busy_problem(
        rep, start, end, busy, booking.buffer_minutes
    )
