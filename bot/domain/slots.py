"""Whether a rep can take a meeting at a given instant (working hours in the rep's own
zone, busy time plus buffers from every calendar, minimum notice, horizon), and the free
slots the Book modal and `/availability` offer. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.config import BookingConfig, Rep
from bot.domain.intervals import Interval


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The first instant at which the clocks of `zone` read `at` or later on `day`.

    A time read twice (the fall-back hour) is its first occurrence. A time the clocks skip
    (the spring-forward gap) is the moment they jump: someone who stops work at 02:30 stops
    when the clocks leap from 02:00 to 03:00, not an hour into the new time.
    """
    moment = datetime.combine(day, at, tzinfo=zone)  # fold=0: the first occurrence
    if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == moment.replace(tzinfo=None):
        return moment
    # In a gap, fold=0 applies the offset from before the jump and fold=1 the one after,
    # which puts the jump between them; zoneinfo does not expose transitions, so bisect to
    # the second (tz data has no finer transitions).
    before = moment.replace(fold=1).astimezone(UTC)
    after = moment.astimezone(UTC)
    offset_after = after.astimezone(zone).utcoffset()
    while after - before > timedelta(seconds=1):
        middle = before + timedelta(seconds=(after - before) // timedelta(seconds=2))
        if middle.astimezone(zone).utcoffset() == offset_after:
            after = middle
        else:
            before = middle
    return after.astimezone(zone)


def working_windows(rep: Rep, start: datetime, end: datetime) -> list[Interval]:
    """The rep's working ranges, as instants, on every local day touching [start, end)."""
    zone = rep.zone
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    windows: list[Interval] = []
    while day <= last:
        for opens, closes in rep.hours_by_weekday.get(day.weekday(), ()):
            window_start = local_instant(day, opens, zone)
            if closes == time.max:
                window_end = local_instant(day + timedelta(days=1), time(0), zone)
            else:
                window_end = local_instant(day, closes, zone)
            if window_end <= window_start:
                continue  # the whole range falls in a spring-forward gap: it never happens
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


# Slot generation --------------------------------------------------------------------------
#
# Everything below computes in UTC: Python compares two datetimes of the same zone by wall
# clock, which misorders instants inside a fall-back hour; across zones it compares instants.


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        # astimezone() would silently read a naive datetime as the server's local time.
        raise ValueError(f"naive datetime {moment.isoformat()}: pass an aware one")
    return moment.astimezone(UTC)


def merge_busy(busy: Iterable[Interval], buffer: timedelta) -> list[Interval]:
    """Busy intervals widened by the buffer on both sides, sorted, overlapping or touching
    ones merged; in UTC.

    A slot [s, e) is then free exactly when it overlaps none of them, which is what
    `busy_problem` asks of every raw interval.
    """
    # An inverted interval is read as the span it names: refusing a little too much is
    # safe, offering a slot the booking path then refuses is not.
    spans = sorted(
        (min(a, b) - buffer, max(a, b) + buffer)
        for a, b in ((_utc(block.start), _utc(block.end)) for block in busy)
    )
    merged: list[Interval] = []
    for start, end in spans:
        if merged and start <= merged[-1].end:
            if end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, end)
        else:
            merged.append(Interval(start, end))
    return merged


def _ceil_steps(span: timedelta, step: timedelta) -> int:
    """The fewest steps that cover `span` (0 when it is not positive)."""
    return max(0, -(-span // step))


def free_slots(
    rep: Rep,
    busy: Iterable[Interval],
    *,
    start: datetime,
    end: datetime,
    duration: timedelta,
    now: datetime,
    booking: BookingConfig,
    step: timedelta = timedelta(minutes=15),
    align_to_hour: bool = False,
) -> list[Interval]:
    """Every bookable slot of `duration` lying within [start, end), in order, in UTC.

    Slot starts fall on a grid of `step` from the opening of each working window, so a
    rep who opens at 09:00 local is offered 09:00, 09:15, ... whatever the UTC offset.
    With `align_to_hour` the grid starts at the top of the opening's hour in the rep's
    zone instead (the booking page): a rep opening at 08:45 on a 30-minute step is
    offered 09:00, 09:30, ..., never 08:45, 09:15.
    Each slot passes `slot_problem` for the same busy list: notice and horizon bound its
    start, it fits inside one working window, and it stays a buffer away from busy time.
    One sweep over the sorted windows and merged busy intervals: O(b log b + w + slots).
    """
    if duration <= timedelta(0) or step <= timedelta(0):
        raise ValueError("duration and step must be positive")
    start, end, now = _utc(start), _utc(end), _utc(now)
    earliest = max(start, now + timedelta(minutes=booking.min_notice_minutes))
    latest = now + timedelta(days=booking.horizon_days)  # the last allowed start
    if earliest > latest or earliest + duration > end:
        return []
    blocks = merge_busy(busy, timedelta(minutes=booking.buffer_minutes))
    slots: list[Interval] = []
    index = 0  # into blocks; only moves forward since slot starts only grow
    for window in working_windows(rep, earliest, end):
        opens, closes = _utc(window.start), min(_utc(window.end), end)
        if align_to_hour:
            local = window.start.astimezone(rep.zone)
            opens = _utc(local - timedelta(minutes=local.minute, seconds=local.second))
        slot = opens + _ceil_steps(max(earliest, _utc(window.start)) - opens, step) * step
        while slot + duration <= closes and slot <= latest:
            while index < len(blocks) and blocks[index].end <= slot:
                index += 1
            if index < len(blocks) and blocks[index].start < slot + duration:
                # Jump past the whole block in one go rather than testing each grid point.
                slot = opens + _ceil_steps(blocks[index].end - opens, step) * step
                continue
            slots.append(Interval(slot, slot + duration))
            slot += step
    return slots


def display_step(duration_minutes: int) -> timedelta:
    """Slots shown to people every 15 or 30 minutes: a 15-minute grid of 30-minute
    meetings fills a line with one hour.
    """
    return timedelta(minutes=15 if duration_minutes < 30 else 30)


def first_free_rep(
    reps_in_order: Sequence[Rep],
    busy_by_rep: Mapping[str, list[Interval]],
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    booking: BookingConfig,
) -> Rep | None:
    """The first rep, in the given (round-robin) order, who can take [start, end).

    `busy_by_rep` is keyed by rep email. A rep missing from it (say their calendar could
    not be read) is skipped: nobody can vouch that they are free.
    """
    for rep in reps_in_order:
        busy = busy_by_rep.get(rep.email)
        if (
            busy is not None
            and slot_problem(rep, start, end, busy, now=now, booking=booking) is None
        ):
            return rep
    return None


def slots_by_local_day(
    slots: Iterable[Interval], viewer_zone: ZoneInfo
) -> dict[date, list[Interval]]:
    """Slots grouped by the viewer's local date of their start, days and slots in order."""
    days: dict[date, list[Interval]] = {}
    for slot in slots:
        days.setdefault(slot.start.astimezone(viewer_zone).date(), []).append(slot)
    return days


def format_slot(slot: Interval, viewer_zone: ZoneInfo) -> str:
    """A slot in the viewer's zone, like "Tue 1 Dec 14:00-14:30 MST" with an en dash and
    the abbreviation in force at the start.

    When the viewer's clocks change inside the slot, the end carries its own abbreviation
    ("01:45 EDT-01:15 EST"), or the range would read as running backwards.
    """
    opens, closes = slot.start.astimezone(viewer_zone), slot.end.astimezone(viewer_zone)
    day = f"{opens:%a} {opens.day} {opens:%b}"
    if opens.tzname() == closes.tzname():
        return f"{day} {opens:%H:%M}\N{EN DASH}{closes:%H:%M} {opens.tzname()}"
    return f"{day} {opens:%H:%M} {opens.tzname()}\N{EN DASH}{closes:%H:%M} {closes.tzname()}"


def team_slots(
    reps_with_busy: Sequence[tuple[Rep, Sequence[Interval]]],
    start: datetime,
    end: datetime,
    *,
    duration_minutes: int,
    booking: BookingConfig,
    now: datetime,
    step: timedelta = timedelta(minutes=15),
    align_to_hour: bool = False,
) -> list[tuple[Interval, list[str]]]:
    """Every slot start in [start, end) where at least one rep is free, in time order, with
    the emails of the reps free then, in the order given (say, round-robin order).

    Reps work on grids anchored to their own opening hours (or, with `align_to_hour`, to
    the hour in their zones), so the starts are the union of each rep's `free_slots`: one
    sweep per rep, then one sort of the distinct starts.
    """
    duration = timedelta(minutes=duration_minutes)
    free_at: dict[datetime, list[str]] = {}
    for rep, busy in reps_with_busy:
        slots = free_slots(
            rep,
            busy,
            start=start,
            end=end,
            duration=duration,
            now=now,
            booking=booking,
            step=step,
            align_to_hour=align_to_hour,
        )
        for slot in slots:
            free_at.setdefault(slot.start, []).append(rep.email)
    return [(Interval(at, at + duration), free_at[at]) for at in sorted(free_at)]
