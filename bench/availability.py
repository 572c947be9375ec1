"""Slot generation and team availability (SPEC §4, §5, issue #4), each against the naive
way in the same run.

Run it from the repository root:

    .venv/bin/python -m bench.availability
    .venv/bin/python -m bench.availability --quick --latency-ms 20

Everything covers three weeks of 30-minute slots on a 15-minute grid from 2027-03-01
(across New York's spring-forward), with busy blocks drawn from a fixed seed:

* one rep, 500 busy intervals, working 09:00-17:00 on weekdays or around the clock:
  `free_slots` against asking `slot_problem` about every grid point with the full busy list,
  which is what a caller without `free_slots` would write;
* a team of 50 reps in ten zones, 3 calendars each, 100 busy blocks per calendar (15,000
  intervals): `team_slots` against asking `slot_problem` about every rep at every grid start;
* the same team read through the real `GoogleCalendar.busy` (google-api-python-client and
  google-auth; each rep's refresh token stored encrypted in a SQLite file in a temporary
  directory) from the fake Google of the tests (tests/fakes/google.py), run in a process of
  its own, reps read `TEAM_LOOKUPS` at a time as `/availability` does; then one rep with 120
  calendars. Per query: the freeBusy calls the fake received, in total and per rep (Google
  takes 50 calendars a call, so ⌈calendars/50⌉ per rep), the most it held at once (from its
  record of each arrival and when each answer left), and the wall time; against a naive
  reader, written here, that makes one freeBusy call per calendar, one after another.

The fake answers each request after a fixed delay standing for the round trip to Google
(`--latency-ms`, 0 and 20 by default); at 0 the times are the client's and the fake's own
CPU. Each fast result is checked against its naive one (same slots, same busy intervals,
and the team's slots from the busy time read equal the in-process ones) and the call
counts against ⌈calendars/50⌉; a mismatch ends the run with an error. The script prints
the best of several runs of each and the ratios. Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from cryptography.fernet import Fernet

from bench._machine import OtherLoad, interrupt_on_sigterm, machine_summary, print_other_load
from bot.domain.config import WEEKDAYS, BookingConfig, Rep
from bot.domain.intervals import Interval
from bot.domain.slots import free_slots, slot_problem, team_slots, working_windows
from bot.services.availability import TEAM_LOOKUPS
from bot.settings import Settings
from integrations.google import (
    FREEBUSY_MAX_CALENDARS,
    FREEBUSY_MAX_RANGE,
    FREEBUSY_WORKERS,
    GoogleCalendar,
)
from integrations.google_oauth import GOOGLE, REQUIRED_SCOPES
from storage.crypto import TokenCipher
from storage.db import Database
from storage.migrate import upgrade
from storage.repositories import ConnectionRepository
from testkit.fakes.google import FakeGoogle

ROOT = Path(__file__).resolve().parent.parent

START = datetime(2027, 3, 1, tzinfo=UTC)  # spans New York's spring-forward on 2027-03-14
END = START + timedelta(weeks=3)
DURATION = timedelta(minutes=30)
STEP = timedelta(minutes=15)
BUSY_COUNT = 500
BOOKING = BookingConfig(min_notice_minutes=120, buffer_minutes=10, horizon_days=21)
SEED = 7

TEAM_SIZE = 50
CALENDARS_PER_REP = 3
BUSY_PER_CALENDAR = 100  # 50 reps x 3 calendars x 100 = 15,000 busy intervals
MANY_CALENDARS = 120
MANY_BUSY_PER_CALENDAR = 20  # mostly rooms and shared calendars, each less booked
BUSY_MINUTES = (15, 30, 45, 60, 90)
# Every offset and opening time is a whole number of steps, so every rep's slot grid lies
# on the UTC one the naive team check walks (see `_team_naive`).
TEAM_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
)
TEAM_HOURS = ("09:00-17:00", "08:30-12:00, 13:00-17:30", "10:00-18:45", "07:15-15:15")

DEFAULT_LATENCIES_MS = (0, 20)
FAKE_TIMEOUT_S = 60.0

T = TypeVar("T")


# -- one rep -------------------------------------------------------------------------------


def _rep(hours: dict[str, str]) -> Rep:
    return Rep(
        email="rep@ourco.example",
        timezone="America/New_York",
        working_hours=hours,
        provider="google",
        booking_calendar="rep@ourco.example",
    )


def _busy(seed: int = SEED) -> list[Interval]:
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


def _best_of(runs: int, work: Callable[[], T]) -> tuple[float, T]:
    best, result = float("inf"), None
    for _ in range(runs):
        began = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - began)
    assert result is not None  # runs >= 1
    return best, result


def bench_one_rep(seed: int, naive_runs: int) -> None:
    busy = _busy(seed)
    now = START
    print(f"{BUSY_COUNT} busy intervals, {START:%Y-%m-%d} + 3 weeks, 30 min slots every 15 min")
    for label, hours in [
        ("weekdays 09:00-17:00", dict.fromkeys(WEEKDAYS[:5], "09:00-17:00")),
        ("around the clock", dict.fromkeys(WEEKDAYS, "00:00-24:00")),
    ]:
        rep = _rep(hours)
        fast_seconds, fast = _best_of(20, partial(_fast, rep, busy, now))
        naive_seconds, naive = _best_of(naive_runs, partial(_naive, rep, busy, now))
        if fast != naive:
            raise SystemExit(f"{label}: free_slots and the naive way disagree")
        print(
            f"{label:22} {len(fast):5} slots  free_slots {fast_seconds * 1000:8.2f} ms  "
            f"naive {naive_seconds * 1000:9.2f} ms  ratio {naive_seconds / fast_seconds:6.0f}x"
        )


# -- the team, in process ------------------------------------------------------------------

TeamSlots = list[tuple[Interval, list[str]]]


def _calendar_ids(email: str, count: int) -> tuple[str, ...]:
    """The rep's own calendar (the booking one) and `count - 1` shared or room calendars."""
    local = email.split("@")[0]
    return (email, *(f"{local}-{n:03d}@group.calendar.google.com" for n in range(1, count)))


def team_rep(index: int, email: str, calendars: int) -> Rep:
    """A rep in the index-th zone and pattern of hours, with `calendars` calendars."""
    return Rep(
        email=email,
        timezone=TEAM_ZONES[index % len(TEAM_ZONES)],
        working_hours=dict.fromkeys(WEEKDAYS[:5], TEAM_HOURS[index % len(TEAM_HOURS)]),
        provider="google",
        booking_calendar=email,
        calendars=_calendar_ids(email, calendars),
    )


def make_team(size: int = TEAM_SIZE) -> list[Rep]:
    return [team_rep(i, f"rep{i:02d}@ourco.example", CALENDARS_PER_REP) for i in range(size)]


def make_busy(
    calendars: Sequence[str], per_calendar: int, rng: random.Random
) -> dict[str, list[Interval]]:
    """`per_calendar` blocks on each calendar, every one ending by END, so the busy time
    Google returns (clipped to the query's range) is exactly what was put in."""
    busy: dict[str, list[Interval]] = {}
    for calendar in calendars:
        blocks = []
        for _ in range(per_calendar):
            length = timedelta(minutes=rng.choice(BUSY_MINUTES))
            latest = int((END - length - START).total_seconds() // 60)
            start = START + timedelta(minutes=rng.randrange(0, latest + 1, 5))
            blocks.append(Interval(start, start + length))
        busy[calendar] = blocks
    return busy


def rep_busy(rep: Rep, busy: dict[str, list[Interval]]) -> list[Interval]:
    """The rep's busy intervals from all their calendars, as they come: unsorted."""
    return [block for calendar in rep.calendars for block in busy[calendar]]


def _team_fast(team: Sequence[tuple[Rep, Sequence[Interval]]], now: datetime) -> TeamSlots:
    minutes = DURATION // timedelta(minutes=1)
    return team_slots(
        team, START, END, duration_minutes=minutes, booking=BOOKING, now=now, step=STEP
    )


def _team_naive(team: Sequence[tuple[Rep, Sequence[Interval]]], now: datetime) -> TeamSlots:
    """Every rep, at every start of the UTC grid, asked `slot_problem` with the full busy
    list; the same answer as `team_slots` because every rep's grid lies on this one."""
    slots: TeamSlots = []
    slot = START
    while slot + DURATION <= END:
        free = [
            rep.email
            for rep, busy in team
            if slot_problem(rep, slot, slot + DURATION, busy, now=now, booking=BOOKING) is None
        ]
        if free:
            slots.append((Interval(slot, slot + DURATION), free))
        slot += STEP
    return slots


def bench_team_in_process(
    team: Sequence[tuple[Rep, Sequence[Interval]]], fast_runs: int, naive_runs: int
) -> TeamSlots:
    now = START
    intervals = sum(len(busy) for _, busy in team)
    print(
        f"\nTeam availability in process: {len(team)} reps in {len(TEAM_ZONES)} zones x "
        f"{CALENDARS_PER_REP} calendars, {intervals} busy intervals"
    )
    fast_seconds, fast = _best_of(fast_runs, partial(_team_fast, team, now))
    naive_seconds, naive = _best_of(naive_runs, partial(_team_naive, team, now))
    if fast != naive:
        raise SystemExit("team: team_slots and the naive way disagree")
    offers = sum(len(reps) for _, reps in fast)
    print(
        f"{'team of ' + str(len(team)):22} {len(fast):5} slots ({offers} rep-slots)  "
        f"team_slots {fast_seconds * 1000:8.2f} ms  naive {naive_seconds * 1000:9.2f} ms  "
        f"ratio {naive_seconds / fast_seconds:6.0f}x"
    )
    return fast


# -- the team, through Google --------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """One request as the fake Google saw it: when it arrived (the fake's own record) and
    when its answer left, on the machine's monotonic clock."""

    operation: str
    calendars: tuple[str, ...]  # the freeBusy items, in the order asked
    at: float
    answered: float


class TimedGoogle(FakeGoogle):
    """The fake Google answering every request `latency` seconds late, the round trip to
    Google, and noting when each answer left (the fake itself notes arrivals only)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.latency = 0.0
        self._answered: dict[int, float] = {}
        self._answered_lock = threading.Lock()

    def handle(
        self, method: str, raw_path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, bytes, dict[str, str]]:
        answer = super().handle(method, raw_path, body, headers)
        time.sleep(self.latency)
        with self._answered_lock:
            # Keyed by the body object, which the fake keeps in its Call record for good.
            self._answered[id(body)] = time.monotonic()
        return answer

    def seen(self, since: int) -> list[tuple[str, tuple[str, ...], float, float]]:
        """Seen's fields of every request from the `since`-th on, as plain tuples (the
        parent process may not be able to unpickle this module's classes)."""
        calls = self.calls()[since:]
        with self._answered_lock:
            return [
                (
                    call.operation,
                    tuple(str(item.get("id")) for item in call.body.get("items", [])),
                    call.at,
                    self._answered[id(call.body)],
                )
                for call in calls
            ]


def serve_fake_google(conn: Connection, busy: dict[str, list[Interval]], emails: list[str]) -> None:
    """The child process: the fake Google holding `busy` and a refresh token for each rep,
    answering the parent's commands until told to stop."""
    fake = TimedGoogle()
    with fake:
        for calendar, blocks in busy.items():
            fake.add_calendar(calendar)
            for block in blocks:
                fake.add_busy(calendar, block.start, block.end)
        tokens = {email: fake.issue_refresh_token(REQUIRED_SCOPES) for email in emails}
        conn.send((fake.settings(), tokens))
        while True:
            try:
                command, argument = conn.recv()
            except EOFError:
                return  # the parent is gone
            if command == "latency":
                fake.latency = argument
                conn.send(None)
            elif command == "seen":
                conn.send(fake.seen(argument))
            else:
                return


class FakeGoogleProcess:
    """The fake Google in a process of its own. In this one, building its answers would
    take the GIL from the readers being measured, and its threads would add to theirs."""

    def __init__(self, busy: dict[str, list[Interval]], emails: list[str]) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=serve_fake_google, args=(child, busy, emails), name="fake-google", daemon=True
        )
        self._process.start()
        child.close()
        self._taken = 0
        settings, tokens = self._receive()
        self.settings: dict[str, str] = settings
        self.tokens: dict[str, str] = tokens

    def _receive(self) -> Any:
        if not self._conn.poll(FAKE_TIMEOUT_S):
            raise RuntimeError(f"the fake Google process did not answer in {FAKE_TIMEOUT_S} s")
        try:
            return self._conn.recv()
        except EOFError:
            raise RuntimeError(
                f"the fake Google process ended (exit code {self._process.exitcode})"
            ) from None

    def set_latency(self, seconds: float) -> None:
        self._conn.send(("latency", seconds))
        self._receive()

    def take_seen(self) -> list[Seen]:
        """The requests received since the last call."""
        self._conn.send(("seen", self._taken))
        seen = [Seen(*fields) for fields in self._receive()]
        self._taken += len(seen)
        return seen

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._conn.send(("stop", None))
        self._process.join(timeout=FAKE_TIMEOUT_S)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
        self._conn.close()


class PerCalendarGoogle(GoogleCalendar):
    """The naive reader: the same client, token handling and error translation, but one
    freeBusy call per calendar, one after another."""

    def busy(self, rep: Rep, start: datetime, end: datetime) -> list[Interval]:
        if end - start > FREEBUSY_MAX_RANGE:
            raise ValueError("the naive reader asks for one range only")
        credentials = self._credentials(rep)
        intervals: list[Interval] = []
        for calendar in rep.calendars:
            entry = self._free_busy(rep, credentials, (calendar,), start, end)[calendar]
            if entry.get("errors"):
                raise RuntimeError(f"freeBusy could not read {calendar}: {entry['errors']}")
            intervals += [
                Interval(_instant(block["start"]), _instant(block["end"]))
                for block in entry.get("busy", [])
            ]
        return sorted(intervals, key=_order)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _order(interval: Interval) -> tuple[datetime, datetime]:
    return interval.start, interval.end


BusyByRep = dict[str, list[Interval]]


def read_as_availability_does(calendar: GoogleCalendar, reps: Sequence[Rep]) -> BusyByRep:
    """Reps read TEAM_LOOKUPS at a time, as `AvailabilityLookup` reads a team."""

    def read(rep: Rep) -> list[Interval]:
        return calendar.busy(rep, START, END)

    with ThreadPoolExecutor(max_workers=TEAM_LOOKUPS) as pool:
        return dict(zip([rep.email for rep in reps], pool.map(read, reps), strict=True))


def read_one_by_one(calendar: GoogleCalendar, reps: Sequence[Rep]) -> BusyByRep:
    return {rep.email: calendar.busy(rep, START, END) for rep in reps}


@dataclass(frozen=True)
class Query:
    """One query: its wall time and the requests the fake received meanwhile."""

    seconds: float
    seen: list[Seen]

    def free_busy(self) -> list[Seen]:
        return [request for request in self.seen if request.operation == "freeBusy"]

    def count(self, operation: str) -> int:
        return sum(1 for request in self.seen if request.operation == operation)

    def most_in_flight(self) -> int:
        """The most freeBusy calls the fake held at once (arrived, not yet answered)."""
        # An answer leaving at the instant another request arrives is not an overlap:
        # (t, -1) sorts before (t, +1).
        events = sorted(
            [(request.at, 1) for request in self.free_busy()]
            + [(request.answered, -1) for request in self.free_busy()]
        )
        most = current = 0
        for _, change in events:
            current += change
            most = max(most, current)
        return most


def measure(fake: FakeGoogleProcess, work: Callable[[], BusyByRep]) -> tuple[Query, BusyByRep]:
    fake.take_seen()
    began = time.perf_counter()
    result = work()
    seconds = time.perf_counter() - began
    return Query(seconds, fake.take_seen()), result


@dataclass(frozen=True)
class Reading:
    """The best of several identical queries by one reader, and what the fake saw."""

    reader: str
    best: Query
    calls: int  # freeBusy calls per query, the same in every run
    per_rep: Counter[str]  # freeBusy calls per rep in one query
    token_calls: int  # on the first, untimed, query
    busy: BusyByRep


def run_reader(
    fake: FakeGoogleProcess,
    label: str,
    read: Callable[[], BusyByRep],
    owner: dict[str, str],
    runs: int,
) -> Reading:
    """One untimed query first (it refreshes the reps' access tokens), then `runs` timed."""
    first, busy = measure(fake, read)
    queries = [measure(fake, read)[0] for _ in range(runs)]
    counts = {len(query.free_busy()) for query in [first, *queries]}
    if len(counts) != 1:
        raise SystemExit(f"{label}: the freeBusy calls per query varied between runs: {counts}")
    best = min(queries, key=lambda query: query.seconds)
    per_rep = Counter(owner[request.calendars[0]] for request in best.free_busy())
    return Reading(label, best, counts.pop(), per_rep, first.count("token"), busy)


@contextlib.contextmanager
def google_for(
    reps: Sequence[Rep], busy: dict[str, list[Interval]]
) -> Iterator[tuple[FakeGoogleProcess, GoogleCalendar, PerCalendarGoogle]]:
    """The fake Google holding every busy block, each rep connected (the refresh token
    stored encrypted in a fresh SQLite file), and both readers pointed at it."""
    with (
        tempfile.TemporaryDirectory(prefix="frontdesk-bench-availability-") as workdir,
        contextlib.closing(FakeGoogleProcess(busy, [rep.email for rep in reps])) as fake,
    ):
        url = f"sqlite:///{Path(workdir) / 'bench.db'}"
        upgrade(url)
        db = Database(url)
        try:
            key = Fernet.generate_key().decode()
            connections = ConnectionRepository(db, TokenCipher(key))
            for rep in reps:
                connections.save_connected(
                    rep.email,
                    GOOGLE,
                    refresh_token=fake.tokens[rep.email],
                    scopes=list(REQUIRED_SCOPES),
                )
            values: dict[str, Any] = {
                "database_url": url,
                "frontdesk_encryption_key": key,
                "frontdesk_public_url": "https://frontdesk.example",
                **fake.settings,
            }
            settings = Settings(**values)
            yield (
                fake,
                GoogleCalendar(settings, connections),
                PerCalendarGoogle(settings, connections),
            )
        finally:
            db.dispose()


def _expected_calls(rep: Rep) -> int:
    """Batched: Google takes at most 50 calendars a call."""
    return math.ceil(len(rep.calendars) / FREEBUSY_MAX_CALENDARS)


def _calendar_count(rep: Rep) -> int:
    return len(rep.calendars)


def _spread(values: Sequence[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


QUERY_WIDTH, READER_WIDTH = 26, 30


def print_readings_header() -> None:
    print(
        f"{'query':<{QUERY_WIDTH}} {'reader':<{READER_WIDTH}} {'freeBusy':>8}  {'per rep':>7}  "
        f"{'expected':>8}  {'in flight':>9}  {'token':>5}  {'wall ms':>8}"
    )


def print_reading(
    label: str, reading: Reading, reps: Sequence[Rep], expected: Callable[[Rep], int]
) -> None:
    print(
        f"{label:<{QUERY_WIDTH}} {reading.reader:<{READER_WIDTH}} {reading.calls:>8}  "
        f"{_spread([reading.per_rep[rep.email] for rep in reps]):>7}  "
        f"{_spread([expected(rep) for rep in reps]):>8}  "
        f"{reading.best.most_in_flight():>9}  {reading.token_calls:>5}  "
        f"{reading.best.seconds * 1000:>8.1f}"
    )


def print_ratio(fast: Reading, naive: Reading) -> None:
    print(
        f"{'':<{QUERY_WIDTH}} ratio naive/batched: {naive.calls / fast.calls:.0f}x the calls, "
        f"{naive.best.seconds / fast.best.seconds:.1f}x the wall time"
    )


def print_overlap(query: Query) -> None:
    """When each call of one query arrived and was answered, from its first arrival."""
    calls = sorted(query.free_busy(), key=lambda request: request.at)
    origin = calls[0].at
    spans = ", ".join(
        f"{(request.at - origin) * 1000:.1f}-{(request.answered - origin) * 1000:.1f}"
        for request in calls
    )
    together = calls[-1].at < min(request.answered for request in calls)
    print(
        f"{'':<{QUERY_WIDTH}} its {len(calls)} calls, ms from the first arrival to each answer:\n"
        f"{'':<{QUERY_WIDTH}} {spans}: "
        + ("all in flight together" if together else "NOT all in flight together")
    )


def bench_google(
    team: Sequence[Rep],
    many: Rep,
    busy: dict[str, list[Interval]],
    team_answer: TeamSlots,
    latencies_ms: Sequence[int],
    fast_runs: int,
    naive_runs: int,
) -> None:
    """Both readers on the team and on the many-calendar rep, at each latency; checks
    every count and every busy list, and that the team's slots match the in-process ones."""
    owner = {calendar: rep.email for rep in [*team, many] for calendar in rep.calendars}
    team_blocks = sum(len(busy[calendar]) for rep in team for calendar in rep.calendars)
    many_blocks = sum(len(busy[calendar]) for calendar in many.calendars)
    print(
        "\nTeam availability through GoogleCalendar.busy, the fake Google in a process of its "
        f"own:\nthe team ({sum(len(rep.calendars) for rep in team)} calendars, {team_blocks} "
        f"busy blocks), then 1 rep with {len(many.calendars)} calendars ({many_blocks} busy "
        "blocks);\n3 weeks, so one freeBusy range per calendar. 'batched' is the shipped "
        f"reader: one call per {FREEBUSY_MAX_CALENDARS}\ncalendars of a rep, up to "
        f"{FREEBUSY_WORKERS} at once; 'per calendar' is the naive one. freeBusy: calls per "
        "query;\nper rep / expected: calls per rep; in flight: most calls the fake held at "
        "once; token:\nrefreshes on the first, untimed, query (then reused); wall ms: best "
        f"of {fast_runs} runs (batched)\nor {naive_runs} (per calendar)."
    )
    with google_for([*team, many], busy) as (fake, batched, naive):
        for latency_ms in latencies_ms:
            fake.set_latency(latency_ms / 1000)
            print(f"\nThe fake answering {latency_ms} ms late (the round trip to Google):")
            print_readings_header()
            team_label = f"team of {len(team)} x {CALENDARS_PER_REP} calendars"
            fast = run_reader(
                fake,
                f"batched, {TEAM_LOOKUPS} reps at a time",
                partial(read_as_availability_does, batched, team),
                owner,
                fast_runs,
            )
            slow = run_reader(
                fake,
                "per calendar, all sequential",
                partial(read_one_by_one, naive, team),
                owner,
                naive_runs,
            )
            check_readings(team_label, fast, slow, team, busy)
            fetched = [(rep, fast.busy[rep.email]) for rep in team]
            if _team_fast(fetched, START) != team_answer:
                raise SystemExit(f"{team_label}: slots from Google's busy time differ")
            print_reading(team_label, fast, team, _expected_calls)
            print_reading("", slow, team, _calendar_count)
            print_ratio(fast, slow)

            many_label = f"1 rep, {len(many.calendars)} calendars"
            fast = run_reader(
                fake,
                "batched, chunks at once",
                partial(read_one_by_one, batched, [many]),
                owner,
                fast_runs,
            )
            slow = run_reader(
                fake,
                "per calendar, sequential",
                partial(read_one_by_one, naive, [many]),
                owner,
                naive_runs,
            )
            check_readings(many_label, fast, slow, [many], busy)
            print_reading(many_label, fast, [many], _expected_calls)
            print_reading("", slow, [many], _calendar_count)
            print_ratio(fast, slow)
            print_overlap(fast.best)


def check_readings(
    label: str, fast: Reading, slow: Reading, reps: Sequence[Rep], busy: dict[str, list[Interval]]
) -> None:
    """Calls per rep: ⌈calendars/50⌉ batched, one per calendar naive; the busy time read is
    what the fake holds, for both."""
    for reading, expected in ((fast, _expected_calls), (slow, _calendar_count)):
        wrong = [rep.email for rep in reps if reading.per_rep[rep.email] != expected(rep)]
        if wrong:
            raise SystemExit(
                f"{label}, {reading.reader}: freeBusy calls per rep not as expected for "
                f"{', '.join(wrong[:5])}"
            )
    for rep in reps:
        wanted = sorted(rep_busy(rep, busy), key=_order)
        if fast.busy[rep.email] != wanted or slow.busy[rep.email] != wanted:
            raise SystemExit(f"{label}: the busy time read for {rep.email} is not the fake's")


# -- main ----------------------------------------------------------------------------------


def print_machine_caveat(load: OtherLoad) -> None:
    print(
        f"\nCaveat: {machine_summary()}. "
        "The readers and the fake Google\n(in its own process) share these cores, and "
        "other work on a small shared machine shows in the\ntimes: quote the ratios, not "
        "the milliseconds."
    )
    print_other_load(load)


def _latencies(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected milliseconds like 0,20, got {text!r}") from None
    if not values or any(value < 0 or value > 1000 for value in values):
        raise argparse.ArgumentTypeError("each latency must be between 0 and 1000 ms")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Benchmark free_slots, team_slots and the Google freeBusy reader against the "
            "naive way, in one run (fixed seed)."
        )
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions of each measurement"
    )
    parser.add_argument(
        "--latency-ms",
        type=_latencies,
        default=list(DEFAULT_LATENCIES_MS),
        help="comma-separated delays of the fake Google's answers; default 0,20",
    )
    parser.add_argument("--seed", type=int, default=SEED, help=f"busy blocks; default {SEED}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # So that the fake Google's process and the temporary database go away on SIGTERM too.
    interrupt_on_sigterm()
    load = OtherLoad.start()
    fast_runs, naive_runs = (2, 1) if args.quick else (5, 2)
    try:
        bench_one_rep(args.seed, 1 if args.quick else 3)

        rng = random.Random(args.seed)
        team = make_team()
        many = team_rep(0, "rooms@ourco.example", MANY_CALENDARS)
        busy = make_busy([c for rep in team for c in rep.calendars], BUSY_PER_CALENDAR, rng)
        busy |= make_busy(many.calendars, MANY_BUSY_PER_CALENDAR, rng)
        answer = bench_team_in_process(
            [(rep, rep_busy(rep, busy)) for rep in team], fast_runs, naive_runs
        )
        bench_google(team, many, busy, answer, args.latency_ms, fast_runs, naive_runs)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    print_machine_caveat(load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
