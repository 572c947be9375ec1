"""Slot generation (SPEC §4, §5): `free_slots` against the naive way, in the same run.

Run it from the repository root:

    .venv/bin/python bench/availability.py

Three weeks of 30-minute slots on a 15-minute grid, 500 busy intervals (fixed seed), for a
New York rep working 09:00-17:00 on weekdays and for one working around the clock. The
naive way asks `slot_problem` about every grid point with the full busy list, which is
what a caller without `free_slots` would write. Both must return the same slots; the
script prints the best of several runs of each and the ratio.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

from bot.availability import free_slots, slot_problem, working_windows
from bot.config import WEEKDAYS, BookingConfig, Rep
from integrations.base import Interval

START = datetime(2027, 3, 1, tzinfo=UTC)  # spans New York's spring-forward on 2027-03-14
END = START + timedelta(weeks=3)
DURATION = timedelta(minutes=30)
STEP = timedelta(minutes=15)
BUSY_COUNT = 500
BOOKING = BookingConfig(min_notice_minutes=120, buffer_minutes=10, horizon_days=21)


def _rep(hours: dict[str, str]) -> Rep:
    return Rep(
        email="rep@ourco.example",
        timezone="America/New_York",
        working_hours=hours,
        provider="google",
        booking_calendar="rep@ourco.example",
    )


def _busy(seed: int = 7) -> list[Interval]:
    rng = random.Random(seed)
    span_minutes = int((END - START).total_seconds() // 60)
    busy = []
    for _ in range(BUSY_COUNT):
        start = START + timedelta(minutes=rng.randrange(0, span_minutes, 5))
        busy.append(Interval(start, start + timedelta(minutes=rng.choice([15, 30, 60, 90]))))
    return busy


def _naive(rep: Rep, busy: list[Interval], now: datetime) -> list[Interval]:
    slots = []
    for window in working_windows(rep, START, END):
        slot = window.start.astimezone(UTC)
        while slot + DURATION <= window.end:
            if (
                slot >= START
                and slot + DURATION <= END
                and slot_problem(rep, slot, slot + DURATION, busy, now=now, booking=BOOKING) is None
            ):
                slots.append(Interval(slot, slot + DURATION))
            slot += STEP
    return slots


def _fast(rep: Rep, busy: list[Interval], now: datetime) -> list[Interval]:
    return free_slots(
        rep,
        busy,
        start=START,
        end=END,
        duration=DURATION,
        now=now,
        booking=BOOKING,
        step=STEP,
    )


def _best_of(runs: int, work: Callable[[], list[Interval]]) -> tuple[float, list[Interval]]:
    best, result = float("inf"), []
    for _ in range(runs):
        began = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - began)
    return best, result


def main() -> None:
    busy = _busy()
    now = START
    print(f"{BUSY_COUNT} busy intervals, {START:%Y-%m-%d} + 3 weeks, 30 min slots every 15 min")
    for label, hours in [
        ("weekdays 09:00-17:00", dict.fromkeys(WEEKDAYS[:5], "09:00-17:00")),
        ("around the clock", dict.fromkeys(WEEKDAYS, "00:00-24:00")),
    ]:
        rep = _rep(hours)
        fast_seconds, fast = _best_of(20, partial(_fast, rep, busy, now))
        naive_seconds, naive = _best_of(3, partial(_naive, rep, busy, now))
        if fast != naive:
            raise SystemExit(f"{label}: free_slots and the naive way disagree")
        print(
            f"{label:22} {len(fast):5} slots  free_slots {fast_seconds * 1000:8.2f} ms  "
            f"naive {naive_seconds * 1000:9.2f} ms  ratio {naive_seconds / fast_seconds:6.0f}x"
        )


if __name__ == "__main__":
    main()
