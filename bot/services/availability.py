"""The one availability service: every read of a rep's busy time and every list of free
slots goes through here — automatic booking, the Book modal, `/availability` and the
client's booking page alike.

It owns what a busy read needs around the calendar call (concurrency across reps, the
log line, the error metric, marking a connection broken) so no caller can forget it, and
hands the slot arithmetic to the pure `bot.domain.slots`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.config import Config, Rep
from bot.domain.intervals import Interval
from bot.domain.slots import free_slots, team_slots
from bot.services.connection_health import ConnectionHealth
from bot.services.telemetry import count_integration_error
from integrations.base import ConnectionBrokenError, IntegrationError
from integrations.bundle import Integrations
from storage.types import utcnow

log = logging.getLogger("frontdesk.availability")

TEAM_LOOKUPS = 8  # reps' calendars read at once


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
    ) -> None:
        self.config = config
        self.integrations = integrations
        self.health = health
        self.clock = clock
        self.lookups = lookups

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
