"""A span of time between two instants: what calendars report as busy and what the slot
arithmetic hands out as free.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# The status of an IntegrationError that is no failure: the outbox says another worker is
# posting that message right now, and that worker records how it went.


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime
