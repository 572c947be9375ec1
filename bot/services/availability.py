"""The one availability service: every read of a rep's busy time and every list of free
slots goes through here — automatic booking, the Book modal, `/availability` and the
client's booking page alike.

It owns what a busy read needs around the calendar call (concurrency across reps, the
log line, the error metric, marking a connection broken) so no caller can forget it, and
hands the slot arithmetic to the pure `bot.domain.slots`.

Booking always reads the calendars live. The slots *offered* to clients (the booking page)
read them through a short-lived cache (`[booking_page] cache_seconds`), so any number of
visitors cost at most one freeBusy round per rep per window, plus the database's holds,
read afresh every time: a booking made through Frontdesk disappears from every replica's
page at once, and the hold in the database stays the source of truth.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.domain.config import Config, Rep
from bot.domain.intervals import Interval
from bot.domain.slots import free_slots, team_slots
from bot.services.busy_cache import BusyCache
from bot.services.connection_health import ConnectionHealth
from bot.services.telemetry import count_integration_error
from integrations.base import ConnectionBrokenError, IntegrationError
from integrations.bundle import Integrations
from storage.repositories import BookingRepository
from storage.types import utcnow

log = logging.getLogger("frontdesk.availability")

TEAM_LOOKUPS = 8  # reps' calendars read at once
OFFERED_LOOKUPS = 16  # a team of up to 16 read in one round for the booking page


@dataclass(frozen=True)
class TeamSlots:
    """The team's free slots, each with the emails of the reps free then (in the order the
    reps were given), and the reps left out because their calendars could not be read.
    """

    slots: list[tuple[Interval, list[str]]]
    unreadable: tuple[Rep, ...] = ()


def without(busy: Sequence[Interval], own: Interval) -> list[Interval]:
    """Busy time less a meeting's own time: moving a meeting, its old time is not in the
    way of its new one (a 10:00 meeting may move to 10:15).
    """
    left: list[Interval] = []
    for block in busy:
        if block.end <= own.start or block.start >= own.end:
            left.append(block)
            continue
        if block.start < own.start:
            left.append(Interval(block.start, own.start))
        if block.end > own.end:
            left.append(Interval(own.end, block.end))
    return left


class AvailabilityService:
    def __init__(
        self,
        config: Config,
        integrations: Integrations,
        *,
        health: ConnectionHealth | None = None,
        clock: Callable[[], datetime] = utcnow,
        lookups: int = TEAM_LOOKUPS,
        bookings: BookingRepository | None = None,
        cache: BusyCache | None = None,
    ) -> None:
        self.config = config
        self.integrations = integrations
        self.health = health
        self.clock = clock
        self.lookups = lookups
        self.bookings = bookings
        self.cache = cache or BusyCache(self.busy, config.booking_page.cache_seconds)
        # Long-lived: a visitor's cold read does not start threads anew.
        self._offered_pool = ThreadPoolExecutor(OFFERED_LOOKUPS, thread_name_prefix="offered-busy")

    def busy(self, rep: Rep, start: datetime, end: datetime) -> list[Interval]:
        """The rep's busy time across all their calendars in [start, end).

        Raise IntegrationError when a calendar cannot be read, after logging and counting
        it; a revoked grant or missing scope also marks the rep's connection broken.
        """
        try:
            return self.integrations.calendar_for(rep).busy(rep, start, end)
        except IntegrationError as exc:
            log.warning("busy lookup failed", extra={"rep": rep.email, "error": exc.message})
            count_integration_error(exc)
            if self.health is not None and isinstance(exc, ConnectionBrokenError):
                self.health.record_broken(rep, exc)
            raise

    def busy_of(
        self, reps: Sequence[Rep], start: datetime, end: datetime
    ) -> list[tuple[Rep, list[Interval] | None]]:
        """Each rep's busy time, read side by side; None for a rep whose calendars could
        not be read (see `busy`). In the order given.
        """

        def read(rep: Rep) -> tuple[Rep, list[Interval] | None]:
            try:
                return rep, self.busy(rep, start, end)
            except IntegrationError:
                return rep, None

        if len(reps) <= 1:
            return [read(rep) for rep in reps]
        with ThreadPoolExecutor(max_workers=min(self.lookups, len(reps))) as pool:
            return list(pool.map(read, reps))

    def broken_reps(self) -> dict[str, str]:
        """Reps whose calendar connection is marked broken: email -> why."""
        return self.health.broken_reps() if self.health is not None else {}

    def rep_slots(
        self,
        rep: Rep,
        start: datetime,
        end: datetime,
        duration: timedelta,
        *,
        step: timedelta,
        ignoring: Interval | None = None,
    ) -> list[Interval]:
        """The rep's free slots of `duration` in [start, end), every `step` from the
        opening of each working window; raise IntegrationError like `busy`. `ignoring`: a
        meeting being moved, whose own time does not block its new one.
        """
        busy = self.busy(rep, start, end)
        if ignoring is not None:
            busy = without(busy, ignoring)
        return free_slots(
            rep,
            busy,
            start=start,
            end=end,
            duration=duration,
            now=self.clock(),
            booking=self.config.booking,
            step=step,
        )

    def team_slots(
        self,
        start: datetime,
        end: datetime,
        duration: timedelta,
        *,
        step: timedelta,
        reps: Sequence[Rep] | None = None,
    ) -> TeamSlots:
        """Every slot in [start, end) at which at least one rep (of `reps`, by default the
        whole team) is free; reps whose calendars cannot be read are left out and named.
        """
        results = self.busy_of(list(reps if reps is not None else self.config.reps), start, end)
        readable = [(rep, busy) for rep, busy in results if busy is not None]
        slots = team_slots(
            readable,
            start,
            end,
            duration_minutes=int(duration.total_seconds() // 60),
            booking=self.config.booking,
            now=self.clock(),
            step=step,
        )
        return TeamSlots(slots, tuple(rep for rep, busy in results if busy is None))

    def reps_in_turn(self) -> list[Rep]:
        """Every rep, the least recently booked first (round-robin; ties in config order)."""
        emails = [rep.email for rep in self.config.reps]
        last = self.bookings.last_booked_at(emails) if self.bookings is not None else {}
        never = datetime.min.replace(tzinfo=UTC)
        order = {rep.email: index for index, rep in enumerate(self.config.reps)}
        return sorted(
            self.config.reps, key=lambda rep: (last.get(rep.email, never), order[rep.email])
        )

    # ------------------------------------------------------------ offered to clients

    def offered_rep_slots(
        self, rep: Rep, start: datetime, end: datetime, duration: timedelta, *, step: timedelta
    ) -> list[Interval]:
        """The slots the booking page offers for one rep: cached calendar busy time plus the
        database's holds, every `step` from the top of the hour in the rep's zone.
        """
        busy = self._cached_busy(rep) + self._held([rep], start, end).get(rep.email, [])
        return free_slots(
            rep,
            busy,
            start=start,
            end=end,
            duration=duration,
            now=self.clock(),
            booking=self.config.booking,
            step=step,
            align_to_hour=True,
        )

    def offered_team_slots(
        self, start: datetime, end: datetime, duration: timedelta, *, step: timedelta
    ) -> tuple[list[tuple[Interval, Rep]], list[Rep]]:
        """Every start where some rep is free, with the rep round-robin would book; and the
        reps whose calendars could not be read (left out).
        """
        reps = self.reps_in_turn()
        known = {rep.email: self.cache.cached(rep, *self._cached_range()) for rep in reps}
        missing = [rep for rep in reps if known[rep.email] is None]
        # A warm cache (the usual case) needs no thread; the reps to read are read at once.
        for rep, busy in self._offered_pool.map(self._try_cached_busy, missing):
            known[rep.email] = busy
        readable = [rep for rep in reps if known[rep.email] is not None]
        held = self._held(readable, start, end)
        pairs = team_slots(
            [(rep, (known[rep.email] or []) + held.get(rep.email, [])) for rep in readable],
            start,
            end,
            duration_minutes=int(duration / timedelta(minutes=1)),
            booking=self.config.booking,
            now=self.clock(),
            step=step,
            align_to_hour=True,
        )
        by_email = {rep.email: rep for rep in readable}
        # Reps are given in round-robin order, so the first free one is who would be booked.
        slots = [(slot, by_email[emails[0]]) for slot, emails in pairs]
        return slots, [rep for rep in reps if known[rep.email] is None]

    def _cached_range(self) -> tuple[datetime, datetime]:
        """The whole range any offered slot can touch (from now to the horizon, plus the
        longest meeting and the buffer), so one cached read serves every visitor.
        """
        now = self.clock()
        booking = self.config.booking
        margin = timedelta(minutes=max(self.config.booking_page.durations) + booking.buffer_minutes)
        start = now - timedelta(minutes=booking.buffer_minutes)
        return start, now + timedelta(days=booking.horizon_days) + margin

    def _cached_busy(self, rep: Rep) -> list[Interval]:
        start, end = self._cached_range()
        # A read takes an hour before and a day more, so the entry outlives the moving now.
        hour = self.clock().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        read_range = (hour - timedelta(hours=1), end + timedelta(days=1))
        return self.cache.busy(rep, start, end, read_range=read_range)

    def _try_cached_busy(self, rep: Rep) -> tuple[Rep, list[Interval] | None]:
        try:
            return rep, self._cached_busy(rep)
        except IntegrationError:
            return rep, None  # logged and counted by `busy`

    def _held(
        self, reps: Sequence[Rep], start: datetime, end: datetime
    ) -> dict[str, list[Interval]]:
        if self.bookings is None:
            return {}
        buffer = timedelta(minutes=self.config.booking.buffer_minutes)
        held = self.bookings.held_by_reps([rep.email for rep in reps], start - buffer, end + buffer)
        return {email: [Interval(s, e) for s, e in spans] for email, spans in held.items()}
