"""`frontdesk submit` helpers: "+3d 10:00" in an example file becomes a real date."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

_RELATIVE = re.compile(r"^\+(\d{1,3})(d|wd)\s+(\d{1,2}):(\d{2})$", re.ASCII)


def resolve_relative_start(text: str, zone: str, today: date | None = None) -> str:
    """ "+3d 10:00" (3 days ahead) or "+2wd 10:00" (2 weekdays ahead) -> ISO local time.

    Anything else is returned unchanged.
    """
    match = _RELATIVE.match(text.strip())
    if not match:
        return text
    count, unit = int(match[1]), match[2]
    day = today or datetime.now(ZoneInfo(zone)).date()
    if unit == "d":
        day += timedelta(days=count)
    else:
        while count:
            day += timedelta(days=1)
            if day.weekday() < 5:
                count -= 1
    local = datetime(day.year, day.month, day.day, int(match[3]), int(match[4]))
    return local.replace(tzinfo=ZoneInfo(zone)).isoformat()
