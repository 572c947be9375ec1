"""The booking page's slots until the one availability service exists: each rep's calendar
busy time through a short-lived `BusyCache` (at most one freeBusy round per rep per cache
window, whatever the visitor count), plus the database's holds, read afresh on every view
so a booking made through Frontdesk disappears from every replica's page at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from bot.availability import free_slots
from bot.availability_query import team_slots
from bot.busy_cache import BusyCache
from bot.config import Config, Rep
from bot.services import Integrations
from integrations.base import IntegrationError, Interval
from storage.models import utcnow
from storage.repositories import BookingRepository

log = logging.getLogger("frontdesk.booking_page")

TEAM_LOOKUPS = 16  # reps' calendars read at once: a team of up to 16 in one round


class CachedSlotFinder:
    """Slots from each rep's calendars (through a short-lived `BusyCache` covering the
    whole bookable range) plus the database's holds, read afresh every time.
    """

    def __init__(
        self,
        config: Config,
        integrations: Integrations,
        bookings: BookingRepository,
        *,
        clock: Callable[[], datetime] = utcnow,
        cache: BusyCache | None = None,
    ) -> None:
        self.config = config
        self.bookings = bookings
        self.clock = clock
        # Long-lived: its threads are not started anew for every visitor.
        self._pool = ThreadPoolExecutor(TEAM_LOOKUPS, thread_name_prefix="booking-page-busy")
        self.cache = cache or BusyCache(
            lambda rep, start, end: integrations.calendar_for(rep).busy(rep, start, end),
            config.booking_page.cache_seconds,
        )

    def _busy(self, rep: Rep) -> list[Interval]:
        """The rep's calendar busy time over the whole range any slot can touch (from now
        to the horizon, plus the longest meeting and the buffer), so one cached read serves
        every visitor. A read takes a day more, so the entry outlives the moving `now`.
        """
        now = self.clock()
        booking = self.config.booking
        margin = timedelta(minutes=max(self.config.booking_page.durations) + booking.buffer_minutes)
        start = now - timedelta(minutes=booking.buffer_minutes)
        end = now + timedelta(days=booking.horizon_days) + margin
        hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        read_range = (hour - timedelta(hours=1), end + timedelta(days=1))
        return self.cache.busy(rep, start, end, read_range=read_range)

    def _cached(self, rep: Rep) -> list[Interval] | None:
        now = self.clock()
        booking = self.config.booking
        margin = timedelta(minutes=max(self.config.booking_page.durations) + booking.buffer_minutes)
        start = now - timedelta(minutes=booking.buffer_minutes)
        return self.cache.cached(rep, start, now + timedelta(days=booking.horizon_days) + margin)

    def _slots(
        self,
        rep: Rep,
        busy: list[Interval],
        start: datetime,
        end: datetime,
        duration: timedelta,
        step: timedelta,
    ) -> list[Interval]:
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

    def _held(self, reps: Sequence[Rep], start: datetime, end: datetime) -> dict[str, list]:
        buffer = timedelta(minutes=self.config.booking.buffer_minutes)
        held = self.bookings.held_by_reps([rep.email for rep in reps], start - buffer, end + buffer)
        return {email: [Interval(s, e) for s, e in spans] for email, spans in held.items()}

    def rep_slots(
        self, rep: Rep, start: datetime, end: datetime, duration: timedelta, *, step: timedelta
    ) -> list[Interval]:
        busy = self._busy(rep) + self._held([rep], start, end).get(rep.email, [])
        return self._slots(rep, busy, start, end, duration, step)

    def team_slots(
        self, start: datetime, end: datetime, duration: timedelta, *, step: timedelta
    ) -> tuple[list[tuple[Interval, Rep]], list[Rep]]:
        def read(rep: Rep) -> tuple[Rep, list[Interval] | None]:
            try:
                return rep, self._busy(rep)
            except IntegrationError as exc:
                log.warning("busy lookup failed", extra={"rep": rep.email, "error": exc.message})
                return rep, None

        reps = self._round_robin()
        known = {rep.email: self._cached(rep) for rep in reps}
        missing = [rep for rep in reps if known[rep.email] is None]
        # A warm cache (the usual case) needs no thread; the reps to read are read at once.
        for rep, busy in self._pool.map(read, missing):
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

    def _round_robin(self) -> list[Rep]:
        last = self.bookings.last_booked_at()
        never = datetime.min.replace(tzinfo=UTC)
        order = {rep.email: index for index, rep in enumerate(self.config.reps)}
        return sorted(
            self.config.reps, key=lambda rep: (last.get(rep.email, never), order[rep.email])
        )
