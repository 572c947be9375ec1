"""`/availability`'s answer in words: free slots one line per local day, in the viewer's
zone, as Slack mrkdwn; and the short clock and day labels the Book modal shares.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from bot.domain.intervals import Interval
from bot.domain.slots import slots_by_local_day

NO_FREE_SLOTS = "No free slots in this range."


DAY_WITHOUT_SLOTS = "no free slots"


MORE_SLOTS = "\N{HORIZONTAL ELLIPSIS} (+{count} more)"


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
