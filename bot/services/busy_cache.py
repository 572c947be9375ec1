"""A short-lived cache of each rep's calendar busy time, in front of the calendar read, so
any number of booking-page visitors cost at most one freeBusy round per rep per window.

Only calendar busy time is cached: the database's holds are read afresh on every view,
so a booking made through Frontdesk disappears from every replica's page at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime

from bot.domain.config import Rep
from bot.domain.intervals import Interval

BusyReader = Callable[[Rep, datetime, datetime], list[Interval]]


@dataclass(frozen=True)
class _Entry:
    start: datetime
    end: datetime
    intervals: list[Interval]
    expires: float  # monotonic seconds


class BusyCache:
    """Busy intervals per rep over the whole window asked for, kept `ttl_seconds`.

    A miss reads the calendar for the window asked for (or a wider `read_range`): the
    booking page asks for its whole bookable range, so every visitor's week is one entry.
    Concurrent misses for the same rep wait for the one read in flight instead of each
    reading; a failed read is not cached (the next visitor tries again).
    """

    def __init__(
        self,
        read: BusyReader,
        ttl_seconds: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._ttl = ttl_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._in_flight: dict[str, tuple[datetime, datetime, Future[list[Interval]]]] = {}
        self.reads = 0  # calendar reads made, for the benchmark and the tests

    def cached(self, rep: Rep, start: datetime, end: datetime) -> list[Interval] | None:
        """The fresh cached busy intervals, or None when a read is needed (never blocks)."""
        with self._lock:
            entry = self._entries.get(rep.email)
            if (
                entry is None
                or not self._covers(entry.start, entry.end, start, end)
                or entry.expires <= self._monotonic()
            ):
                return None
            return _overlapping(entry.intervals, start, end)

    def busy(
        self,
        rep: Rep,
        start: datetime,
        end: datetime,
        *,
        read_range: tuple[datetime, datetime] | None = None,
    ) -> list[Interval]:
        """The rep's busy intervals overlapping [start, end), from the cache when fresh.

        A miss reads `read_range` (a window around [start, end)) when given, so that the
        entry still covers the windows asked for a little later.
        """
        read_start, read_end = read_range or (start, end)
        read_start, read_end = min(read_start, start), max(read_end, end)
        if self._ttl <= 0:
            self.reads += 1
            return _overlapping(self._read(rep, read_start, read_end), start, end)
        key = rep.email
        with self._lock:
            entry = self._entries.get(key)
            if (
                entry is not None
                and self._covers(entry.start, entry.end, start, end)
                and entry.expires > self._monotonic()
            ):
                return _overlapping(entry.intervals, start, end)
            flight = self._in_flight.get(key)
            if flight is not None and self._covers(flight[0], flight[1], start, end):
                future = flight[2]
                owner = False
            else:
                future = Future()
                self._in_flight[key] = (read_start, read_end, future)
                owner = True
        if not owner:
            return _overlapping(future.result(), start, end)
        try:
            self.reads += 1
            intervals = self._read(rep, read_start, read_end)
        except BaseException as exc:
            with self._lock:
                self._in_flight.pop(key, None)
            future.set_exception(exc)
            raise
        with self._lock:
            expires = self._monotonic() + self._ttl
            self._entries[key] = _Entry(read_start, read_end, intervals, expires)
            self._in_flight.pop(key, None)
        future.set_result(intervals)
        return _overlapping(intervals, start, end)

    @staticmethod
    def _covers(have_start: datetime, have_end: datetime, start: datetime, end: datetime) -> bool:
        return have_start <= start and end <= have_end


def _overlapping(intervals: list[Interval], start: datetime, end: datetime) -> list[Interval]:
    return [block for block in intervals if block.start < end and block.end > start]
