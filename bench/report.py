"""`frontdesk report --json` over one year of history (SPEC §7, issue #6): the last 30 days
against the whole 365 days, on SQLite and PostgreSQL, in the same run.

Run it from the repository root:

    make bench                                   # also runs this
    .venv/bin/python -m bench.report
    .venv/bin/python -m bench.report --database sqlite --runs 3

What it does, on SQLite (a file in a temporary directory, WAL, migrated with Alembic) and on
PostgreSQL (a fresh schema of the `test` database at the address tests/conftest.py uses,
dropped afterwards; skipped with the reason printed when it does not answer):

* seeds a year of synthetic history ending now, with a fixed random seed: `--requests`
  booking requests (88 % booked automatically, 3 % VIP, 7 % manual review, 2 % on error,
  so 30,000 escalations of 250,000) with their escalations (claimed minutes to hours later,
  most resolved, a few still open) and bookings (auto- and human-booked, meeting outcomes
  held / no-show / rescheduled / unanswered), in bulk through SQLAlchemy Core; then
  ANALYZE (VACUUM ANALYZE on PostgreSQL, as autovacuum would do after such a load).
  Seeding is timed apart and not measured;
* times the report for the last 30 days and for the last 365 days two ways: in this
  process (`compute_kpis` on `KpiQueries`, each of its three queries timed on its own),
  and as the command a person runs (`frontdesk report --json --since … --until …` in a
  subprocess, with DATABASE_URL and FRONTDESK_CONFIG set). The CLI's fixed cost is timed
  too: `frontdesk --help` (start-up only) and a report over an empty week in 2000 (start-up,
  connecting and near-empty queries). A warm-up round first, then the median of `--runs`
  rounds, the periods taking turns;
* prints, per database and period, the medians and the 365-day / 30-day ratio, the verdict
  against the target (the 365-day report under `TARGET_SECONDS` on SQLite, as the command),
  and how each query reads the tables for 365 days (EXPLAIN): the per-week request count
  should use `ix_booking_request_status_received`.

Only 127.0.0.1 is contacted (PostgreSQL), and nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from bench._databases import (
    add_database_option,
    captured_statements,
    database_kinds,
    plan_lines,
    reachable,
    scratch_database,
)
from bench._machine import OtherLoad, interrupt_on_sigterm, machine_summary, print_other_load
from bot.cli import report_period
from bot.config import load_config
from bot.domain.config import Config
from bot.reports.kpis import compute_kpis
from storage.db import Database
from storage.kpi_queries import EscalationFigures, KpiQueries, MeetingCount
from storage.migrate import upgrade
from storage.models import (
    Booking,
    BookingRequest,
    BookingStatus,
    Escalation,
    EscalationKind,
    MeetingOutcome,
    RequestStatus,
)
from storage.repositories._sql import table

ROOT = Path(__file__).resolve().parent.parent
SHARED_CONFIG = ROOT.parent / "shared" / "fixtures" / "frontdesk.toml"
DEFAULT_CONFIG = SHARED_CONFIG if SHARED_CONFIG.exists() else ROOT / "examples" / "frontdesk.toml"
INDEX = "ix_booking_request_status_received"
REQUESTS = table(BookingRequest)
ESCALATIONS = table(Escalation)
BOOKINGS = table(Booking)

DEFAULT_REQUESTS = 250_000
DEFAULT_RUNS = 5
PERIODS = (30, 365)  # days, ending today (business zone)
TARGET_SECONDS = 0.7  # `frontdesk report --json` for 365 days on SQLite (issue #18)
SEED = 20_260_601
CHUNK = 10_000  # requests per insert transaction (with their escalations and bookings)
EMPTY_PERIOD = ("2000-01-03", "2000-01-09")  # before any seeded request: the fixed cost
CLI_TIMEOUT_S = 120.0

# -- the synthetic year --------------------------------------------------------------------

YEAR = timedelta(days=365)
WEEKEND_KEPT = 0.3  # share of weekend arrivals kept: forms are filled in on weekdays
# Routes (weights of 100): 88 % booked automatically, 12 % reach people.
ROUTE_MIX = {
    RequestStatus.BOOKED_AUTO: 88,
    RequestStatus.ESCALATED_VIP: 3,
    RequestStatus.ESCALATED_MANUAL_REVIEW: 7,
    RequestStatus.ESCALATED_ON_ERROR: 2,
}
KINDS = {
    RequestStatus.ESCALATED_VIP: EscalationKind.VIP,
    RequestStatus.ESCALATED_MANUAL_REVIEW: EscalationKind.MANUAL_REVIEW,
    RequestStatus.ESCALATED_ON_ERROR: EscalationKind.ON_ERROR,
}
# What sends a request to manual review (weights), as the gate writes the reason codes.
REVIEW_REASONS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("keyword:urgent",), 22),
    (("keyword:group", "group_size:12"), 10),
    (("keyword:group",), 8),
    (("group_size:8",), 6),
    (("group_size:25",), 3),
    (("keyword:reschedule",), 15),
    (("keyword:custom",), 9),
    (("keyword:urgent", "keyword:custom"), 3),
    (("no_time_selected",), 12),
    (("slot_unavailable",), 12),
)
VIP_DOMAINS = ("majorclient.com", "bigcorp.net")
ERROR_REASONS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("api_error:google:403:insufficientPermissions",), 40),
    (("api_error:google:400:invalid_grant",), 15),
    (("api_error:microsoft:403:ErrorAccessDenied",), 15),
    (("api_error:google:429:rateLimitExceeded",), 10),
    (("connection_broken:google:alice@ourco.example",), 10),
    (("api_error:microsoft:0:timeout",), 10),
)
# How people close escalations, per kind (weights); "booked" ones get a booking.
CLOSED_AS = {
    EscalationKind.VIP: {"booked": 70, "declined": 10, "handled_elsewhere": 15, "duplicate": 5},
    EscalationKind.MANUAL_REVIEW: {
        "booked": 72,
        "declined": 10,
        "duplicate": 6,
        "spam": 5,
        "handled_elsewhere": 7,
    },
    EscalationKind.ON_ERROR: {"booked": 85, "handled_elsewhere": 15},
}
# Minutes from escalation to claim and from claim to resolution: lognormal (median, sigma).
CLAIM_MINUTES = (12.0, 1.4)
RESOLVE_MINUTES = (40.0, 1.2)
NEVER_CLAIMED = 0.006  # left in the channel for good
NEVER_RESOLVED = 0.008  # claimed, then forgotten
SLA_PING_MINUTES = (15, 30, 60)  # re-pings at 1x, 2x, 4x the SLA while unclaimed
# Meeting answers for meetings that ended (weights), per who booked them.
MEETING_OUTCOMES = {
    "auto": {MeetingOutcome.HELD: 80, MeetingOutcome.NO_SHOW: 8, MeetingOutcome.RESCHEDULED: 5},
    "human": {MeetingOutcome.HELD: 85, MeetingOutcome.NO_SHOW: 4, MeetingOutcome.RESCHEDULED: 5},
}
UNANSWERED = 7  # weight of no answer to "Did it happen?"
CANCELLED_SHARE = 0.03
DURATIONS = (15, 20, 30, 30, 45, 60)
CLIENT_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Australia/Sydney",
)
HUMANS = ("U0ALICE", "U0BRUNO", "U0CHEN", "U0OLIVIA", "U0OPS1", "U0OPS2")
FIRST_NAMES = ("Dana", "Jonas", "Priya", "Mia", "Tom", "Aiko", "Lena", "Omar", "Sofia", "Raj")
LAST_NAMES = ("Reyes", "Okafor", "Nair", "Chen", "Silva", "Tanaka", "Novak", "Haddad", "Berg")
NOTES = {
    "keyword:urgent": "Urgent: our contract renews on Friday.",
    "keyword:group": "Could this be a group session with our ops people?",
    "keyword:reschedule": "I need to reschedule the call we had planned.",
    "keyword:custom": "We would need a custom integration, can we discuss?",
}
PLAIN_NOTES = ("Looking forward to a quick intro.", "Pricing questions.", "")


def _weighted(mix: dict[Any, int] | Sequence[tuple[Any, int]]) -> tuple[list[Any], list[int]]:
    items = list(mix.items()) if isinstance(mix, dict) else list(mix)
    return [value for value, _ in items], [weight for _, weight in items]


def _lognormal_minutes(rng: random.Random, median_sigma: tuple[float, float]) -> timedelta:
    median, sigma = median_sigma
    return timedelta(minutes=rng.lognormvariate(math.log(median), sigma))


@dataclass(frozen=True)
class Rep:
    email: str
    provider: str


@dataclass
class Seeded:
    requests: int = 0
    escalations: int = 0
    bookings: int = 0
    open_escalations: int = 0
    seconds: float = 0.0


class History:
    """One year of requests ending at `now`, made in chunks of rows ready for the inserts."""

    def __init__(self, config: Config, now: datetime, requests: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.count = requests
        self.reps = [Rep(rep.email, rep.provider) for rep in config.reps] or [
            Rep("alice@ourco.example", "google")
        ]
        self.statuses = self._statuses()
        self.arrivals = self._arrivals()
        self.review = _weighted(REVIEW_REASONS)
        self.errors = _weighted(ERROR_REASONS)
        self.closed_as = {kind: _weighted(mix) for kind, mix in CLOSED_AS.items()}
        self.meeting = {
            who: _weighted({**mix, None: UNANSWERED}) for who, mix in MEETING_OUTCOMES.items()
        }

    def _statuses(self) -> list[str]:
        """Exactly the mix's shares of `count`, shuffled."""
        total = sum(ROUTE_MIX.values())
        statuses: list[str] = []
        for status, weight in ROUTE_MIX.items():
            if status is not RequestStatus.BOOKED_AUTO:
                statuses += [status] * (self.count * weight // total)
        statuses += [RequestStatus.BOOKED_AUTO] * (self.count - len(statuses))
        self.rng.shuffle(statuses)
        return statuses

    def _arrivals(self) -> list[datetime]:
        """When each request came in, oldest first, over the year before `now`."""
        arrivals: list[datetime] = []
        year_seconds = YEAR.total_seconds()
        while len(arrivals) < self.count:
            at = self.now - timedelta(seconds=self.rng.random() * year_seconds)
            if at.weekday() < 5 or self.rng.random() < WEEKEND_KEPT:
                arrivals.append(at)
        arrivals.sort()
        return arrivals

    def chunks(self) -> Iterator[tuple[list[dict[str, Any]], ...]]:
        for first in range(0, self.count, CHUNK):
            requests: list[dict[str, Any]] = []
            escalations: list[dict[str, Any]] = []
            bookings: list[dict[str, Any]] = []
            for index in range(first, min(first + CHUNK, self.count)):
                self._one(index, requests, escalations, bookings)
            yield requests, escalations, bookings

    def _one(
        self,
        index: int,
        requests: list[dict[str, Any]],
        escalations: list[dict[str, Any]],
        bookings: list[dict[str, Any]],
    ) -> None:
        rng = self.rng
        status = self.statuses[index]
        received = self.arrivals[index]
        request_id = f"req_bench{index:09d}"
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        domain = "mail.example"
        reasons: list[str] = []
        if status == RequestStatus.ESCALATED_VIP:
            domain = rng.choice(VIP_DOMAINS)
            reasons = [f"vip_domain:{domain}"]
        elif status == RequestStatus.ESCALATED_MANUAL_REVIEW:
            reasons = list(rng.choices(*self.review)[0])
        elif status == RequestStatus.ESCALATED_ON_ERROR:
            reasons = list(rng.choices(*self.errors)[0])
        rep = rng.choice(self.reps)
        minutes = rng.choice(DURATIONS)
        zone = rng.choice(CLIENT_ZONES)
        # Meetings are asked for one to fourteen days ahead, on the quarter hour.
        start = received + timedelta(days=1 + rng.random() * 13)
        start = start.replace(minute=start.minute // 15 * 15, second=0, microsecond=0)
        phone = f"+1602555{index % 10_000:04d}" if rng.random() < 0.6 else None
        requests.append(
            {
                "id": request_id,
                "idempotency_key": f"bench:{index}",
                "body_sha256": hashlib.sha256(request_id.encode()).hexdigest(),
                "status": status,
                "name": f"{first} {last}",
                "email": f"{first.lower()}.{last.lower()}{index}@{domain}",
                "phone": phone,
                "sms_opt_in": phone is not None and rng.random() < 0.7,
                "company": None,
                "notes": next((NOTES[r] for r in reasons if r in NOTES), rng.choice(PLAIN_NOTES)),
                "timezone": zone,
                "requested_start": None if "no_time_selected" in reasons else start,
                "duration_minutes": minutes,
                "rep_email": rep.email,
                "reasons": reasons,
                "response": {"status": status, "request_id": request_id},
                "attempts": 1,
                "received_at": received,
                "finished_at": received + timedelta(seconds=1 + rng.random() * 3),
            }
        )
        if status == RequestStatus.BOOKED_AUTO:
            bookings.append(self._booking(request_id, rep, start, minutes, zone, "auto", received))
            return
        kind = KINDS[RequestStatus(status)]
        escalation = self._escalation(request_id, kind, reasons, received)
        escalations.append(escalation)
        if escalation["outcome"] == "booked":
            bookings.append(
                self._booking(
                    request_id,
                    rep,
                    max(start, escalation["resolved_at"] + timedelta(hours=4)),
                    minutes,
                    zone,
                    escalation["resolved_by"],
                    escalation["resolved_at"],
                )
            )

    def _escalation(
        self, request_id: str, kind: EscalationKind, reasons: list[str], received: datetime
    ) -> dict[str, Any]:
        rng = self.rng
        created = received + timedelta(seconds=2 + rng.random() * 20)
        claimed: datetime | None = None
        resolved: datetime | None = None
        draw = rng.random()
        claim_at = created + _lognormal_minutes(rng, CLAIM_MINUTES)
        resolve_at = claim_at + _lognormal_minutes(rng, RESOLVE_MINUTES)
        if draw >= NEVER_CLAIMED and claim_at <= self.now:
            claimed = claim_at
            if draw >= NEVER_CLAIMED + NEVER_RESOLVED and resolve_at <= self.now:
                resolved = resolve_at
        waited = (claimed or self.now) - created
        human = rng.choice(HUMANS)
        outcome = rng.choices(*self.closed_as[kind])[0] if resolved else None
        return {
            "request_id": request_id,
            "kind": kind,
            "priority": "high" if kind is EscalationKind.VIP else "normal",
            "reasons": reasons,
            "channel": "C0ESCALATE",
            "message_ts": f"{created.timestamp():.6f}",
            "created_at": created,
            "notified_at": created + timedelta(seconds=1),
            "claimed_by": human if claimed else None,
            "claimed_at": claimed,
            "resolved_by": human if resolved else None,
            "resolved_at": resolved,
            "outcome": outcome,
            "sla_pings": sum(waited > timedelta(minutes=m) for m in SLA_PING_MINUTES),
        }

    def _booking(
        self,
        request_id: str,
        rep: Rep,
        start: datetime,
        minutes: int,
        zone: str,
        booked_by: str,
        created: datetime,
    ) -> dict[str, Any]:
        rng = self.rng
        end = start + timedelta(minutes=minutes)
        cancelled = rng.random() < CANCELLED_SHARE
        outcome = None
        if not cancelled and end < self.now:
            outcome = rng.choices(*self.meeting["auto" if booked_by == "auto" else "human"])[0]
        return {
            "request_id": request_id,
            "rep_email": rep.email,
            "provider": rep.provider,
            "calendar_id": rep.email,
            "status": BookingStatus.CANCELLED if cancelled else BookingStatus.CONFIRMED,
            "start": start,
            "end": end,
            "client_timezone": zone,
            "event_id": f"evt{request_id}",
            "booked_by": booked_by,
            "created_at": created,
            "confirmed_at": created + timedelta(seconds=1),
            "outcome": outcome,
            "outcome_at": end + timedelta(hours=1) if outcome else None,
        }


def seed(db: Database, history: History) -> Seeded:
    """Insert the history chunk by chunk (executemany of dicts), then ANALYZE."""
    seeded = Seeded()
    began = time.perf_counter()
    for requests, escalations, bookings in history.chunks():
        with db.transaction() as conn:
            conn.execute(insert(REQUESTS), requests)
            if escalations:
                conn.execute(insert(ESCALATIONS), escalations)
            if bookings:
                conn.execute(insert(BOOKINGS), bookings)
        seeded.requests += len(requests)
        seeded.escalations += len(escalations)
        seeded.bookings += len(bookings)
        seeded.open_escalations += sum(e["resolved_at"] is None for e in escalations)
    # On PostgreSQL, VACUUM too: autovacuum does both after a big insert, and until the
    # visibility map is set an index-only scan still reads every row from the heap.
    names = (REQUESTS.name, ESCALATIONS.name, BOOKINGS.name)
    if db.is_postgres:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in names:
                conn.execute(text(f"VACUUM ANALYZE {name}"))
    else:
        with db.engine.connect() as conn:
            for name in names:
                conn.execute(text(f"ANALYZE {name}"))
            conn.commit()
    seeded.seconds = time.perf_counter() - began
    return seeded


# -- what is measured ----------------------------------------------------------------------


class TimedQueries(KpiQueries):
    """The real queries, recording how long each of the three took in the last report."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def _timed(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = time.perf_counter() - began

    def requests_by_status(self, boundaries: Sequence[datetime]) -> list[dict[str, int]]:
        with self._timed("requests_by_status"):
            return super().requests_by_status(boundaries)

    def escalations(
        self, since: datetime, until: datetime, as_of: datetime, sla_seconds: float
    ) -> dict[str, EscalationFigures]:
        with self._timed("escalations"):
            return super().escalations(since, until, as_of, sla_seconds)

    def meetings(self, since: datetime, until: datetime) -> list[MeetingCount]:
        with self._timed("meetings"):
            return super().meetings(since, until)


QUERY_NAMES = ("requests_by_status", "escalations", "meetings")


@dataclass(frozen=True)
class Period:
    label: str
    since: str  # --since / --until, days in the business zone
    until: str


@dataclass
class Readings:
    in_process: list[float] = field(default_factory=list)
    cli: list[float] = field(default_factory=list)
    queries: dict[str, list[float]] = field(default_factory=dict)
    requests: int = 0  # what the report counted, to check both ways agree


class Bench:
    """One seeded database and the ways its report is timed."""

    def __init__(self, kind: str, url: str, config: Config, config_path: Path, workdir: Path):
        self.kind = kind
        self.url = url
        self.config = config
        self.db = Database(url)
        self.queries = TimedQueries(self.db)
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(workdir)),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "DATABASE_URL": url,
            "FRONTDESK_CONFIG": str(config_path),
            "FRONTDESK_LOG_LEVEL": "WARNING",
        }

    def in_process(self, period: Period, readings: Readings | None) -> None:
        now = datetime.now(UTC)
        began = time.perf_counter()
        since, until = report_period(period.since, period.until, self.config.zone, now)
        kpis = compute_kpis(
            self.queries,
            since,
            until,
            now=now,
            sla_minutes=self.config.slack.sla_minutes,
            zone=self.config.zone,
        )
        seconds = time.perf_counter() - began
        if readings is not None:
            readings.in_process.append(seconds)
            for name in QUERY_NAMES:
                readings.queries.setdefault(name, []).append(self.queries.seconds[name])
            readings.requests = kpis.requests

    def cli(self, arguments: Sequence[str]) -> tuple[float, str]:
        began = time.perf_counter()
        done = subprocess.run(
            [str(frontdesk_executable()), *arguments],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            check=False,
        )
        seconds = time.perf_counter() - began
        if done.returncode != 0:
            raise RuntimeError(
                f"{self.kind}: frontdesk {' '.join(arguments)} exited {done.returncode}: "
                f"{done.stderr.strip()[-500:]}"
            )
        return seconds, done.stdout

    def cli_report(self, period: Period, readings: Readings | None) -> None:
        seconds, out = self.cli(
            ["report", "--json", "--since", period.since, "--until", period.until]
        )
        if readings is not None:
            readings.cli.append(seconds)
            if readings.requests and json.loads(out)["requests"] != readings.requests:
                raise RuntimeError(f"{self.kind} {period.label}: CLI and in-process disagree")

    def close(self) -> None:
        self.db.dispose()


def frontdesk_executable() -> Path:
    beside_python = Path(sys.executable).parent / "frontdesk"
    return beside_python if beside_python.exists() else ROOT / ".venv" / "bin" / "frontdesk"


def periods(config: Config) -> list[Period]:
    """The last 30 and 365 days, today (business zone) included, as the CLI takes them."""
    today = datetime.now(config.zone).date()
    return [
        Period(f"{days} days", (today - timedelta(days=days - 1)).isoformat(), today.isoformat())
        for days in PERIODS
    ]


# -- the plans the database makes ----------------------------------------------------------


def _query_name(statement: str) -> str | None:
    """Which KPI query a statement is; None for the others (the emptiness probes)."""
    head = " ".join(statement.split()).upper()
    if " AS MEASURED" in head:
        return "escalations"
    if " FROM BOOKING " in head:
        return "meetings"
    return "requests_by_status" if " FROM BOOKING_REQUEST " in head else None


def _access_lines(lines: list[str], postgres: bool) -> list[str]:
    """How each table is read; the sorts are counted, not listed (the escalation query's
    window functions make many)."""
    if postgres:
        steps = [line.strip().removeprefix("->  ").split("  (cost=")[0] for line in lines]
        derived = ("CTE Scan", "Subquery Scan", "Function Scan")
        kept = [step for step in steps if "Scan" in step and not step.startswith(derived)]
        sorts = sum(step.split(" ")[-1] == "Sort" for step in steps)
    else:
        kept = [line for line in lines if line.startswith(("SEARCH", "SCAN booking"))]
        sorts = sum(line.startswith("USE TEMP B-TREE") for line in lines)
    return [*kept, f"+ {sorts} sort(s)"] if sorts else kept


def print_plans(bench: Bench, period: Period) -> bool:
    """How the database reads the tables for each KPI query of `period` (EXPLAIN, no
    execution); True when the per-week request count uses INDEX."""
    with captured_statements(bench.db.engine) as seen:
        bench.in_process(period, None)
    plans: dict[str, tuple[str, Any]] = {}
    for statement, parameters in seen:
        name = _query_name(statement)
        if name is not None:
            plans.setdefault(name, (statement, parameters))
    postgres = bench.db.is_postgres
    uses_index = False
    with bench.db.engine.connect() as conn:
        for name in QUERY_NAMES:
            if name not in plans:
                continue
            lines = plan_lines(conn, *plans[name])
            if name == "requests_by_status":
                uses_index = any(INDEX in line for line in lines)
            print(f"    {name}: " + "; ".join(_access_lines(lines, postgres)))
        conn.rollback()
    return uses_index


# -- one database kind ---------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    kind: str
    readings: dict[str, Readings]  # by period label
    empty_cli: list[float]
    uses_index: bool


def bench(
    kind: str, config: Config, config_path: Path, args: argparse.Namespace, workdir: Path
) -> Result:
    with scratch_database(kind, workdir, "report") as url:
        began = time.perf_counter()
        upgrade(url)
        migrated = time.perf_counter() - began
        history = History(config, datetime.now(UTC), args.requests, args.seed)
        runner = Bench(kind, url, config, config_path, workdir)
        try:
            seeded = seed(runner.db, history)
            print(
                f"\n{kind}: migrated in {migrated:.1f} s; seeded {seeded.requests:,} requests, "
                f"{seeded.escalations:,} escalations ({seeded.open_escalations:,} open), "
                f"{seeded.bookings:,} bookings in {seeded.seconds:.1f} s (ANALYZE included; "
                f"not measured); {args.runs} measured run(s) after a warm-up, periods taking turns",
                flush=True,
            )
            chosen = periods(config)
            readings = {period.label: Readings() for period in chosen}
            empty = Period("empty", *EMPTY_PERIOD)
            empty_cli: list[float] = []
            empty_arguments = ["report", "--json", "--since", empty.since, "--until", empty.until]
            for run in range(args.runs + 1):
                record = run > 0
                for period in chosen:
                    runner.in_process(period, readings[period.label] if record else None)
                    runner.cli_report(period, readings[period.label] if record else None)
                seconds, _ = runner.cli(empty_arguments)
                if record:
                    empty_cli.append(seconds)
            print_table(kind, chosen, readings, empty_cli)
            print(f"  plans for the {chosen[-1].label}:")
            uses_index = print_plans(runner, chosen[-1])
            print(f"  the per-week request count uses {INDEX}: {'yes' if uses_index else 'NO'}")
        finally:
            runner.close()
    return Result(kind, readings, empty_cli, uses_index)


# -- reporting -----------------------------------------------------------------------------


def _ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def print_table(
    kind: str, chosen: list[Period], readings: dict[str, Readings], empty_cli: list[float]
) -> None:
    print(
        f"  {'database':<9} {'period':<9} {'requests':>9} {'in-process ms':>14} "
        f"{'CLI ms':>9} {'by status':>10} {'escalations':>12} {'meetings':>9}"
    )
    for period in chosen:
        r = readings[period.label]
        print(
            f"  {kind:<9} {period.label:<9} {r.requests:>9,} {_ms(r.in_process):>14.1f} "
            f"{_ms(r.cli):>9.1f} "
            + " ".join(
                f"{_ms(r.queries[name]):>{width}.1f}"
                for name, width in zip(QUERY_NAMES, (10, 12, 9), strict=True)
            )
        )
    short, long = (readings[period.label] for period in (chosen[0], chosen[-1]))
    print(
        f"  {kind:<9} {'empty':<9} {0:>9} {'':>14} {_ms(empty_cli):>9.1f}   "
        f"(report over {EMPTY_PERIOD[0]}..{EMPTY_PERIOD[1]}: the CLI's fixed cost)"
    )
    print(
        f"  ratio {chosen[-1].label} / {chosen[0].label}: in-process "
        f"{_ms(long.in_process) / _ms(short.in_process):.1f}x, CLI "
        f"{_ms(long.cli) / _ms(short.cli):.1f}x"
    )
    print(
        "  (medians; by status / escalations / meetings: each KpiQueries method alone, part "
        "of in-process)"
    )


def print_help_cost(runs: int) -> None:
    """`frontdesk --help`: interpreter, click and bot.cli's imports, no database."""
    times = []
    for run in range(runs + 1):
        began = time.perf_counter()
        subprocess.run(
            [str(frontdesk_executable()), "--help"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=True,
            timeout=CLI_TIMEOUT_S,
        )
        if run:
            times.append(time.perf_counter() - began)
    print(f"CLI start-up alone (`frontdesk --help`): {_ms(times):.1f} ms median of {runs}")


def print_verdict(results: list[Result]) -> None:
    label = f"{PERIODS[-1]} days"
    for result in results:
        if result.kind != "sqlite":
            continue
        r = result.readings[label]
        cli, in_process = _ms(r.cli) / 1000, _ms(r.in_process) / 1000
        print(
            f"VERDICT sqlite: {'PASS' if cli < TARGET_SECONDS else 'FAIL'} - "
            f"`frontdesk report --json` for {label}: {cli:.2f} s as the command, "
            f"{in_process:.2f} s in-process (target < {TARGET_SECONDS:.1f} s as the command); "
            f"per-week count uses {INDEX}: {'yes' if result.uses_index else 'NO'}"
        )


def print_caveat(load: OtherLoad, kinds: list[str]) -> None:
    postgres = "postgres" in kinds
    print(
        f"\nCaveat: {machine_summary()}, SQLite {sqlite_version()}"
        + (", PostgreSQL on the same machine" if postgres else "")
        + "; the figures are this machine's, the ratios travel better."
    )
    print_other_load(load, postgres=postgres)


def sqlite_version() -> str:
    import sqlite3

    return sqlite3.sqlite_version


# -- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Time `frontdesk report --json` for the last 30 and 365 days over a year of "
            "synthetic history, in-process and as the command, on SQLite and PostgreSQL."
        ),
        epilog=f"Target: the 365-day report under {TARGET_SECONDS:.1f} s on SQLite.",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=DEFAULT_REQUESTS,
        help=f"booking requests in the year (12 %% escalated); default {DEFAULT_REQUESTS:,}",
    )
    parser.add_argument(
        "--runs", type=int, default=DEFAULT_RUNS, help=f"measured rounds; default {DEFAULT_RUNS}"
    )
    add_database_option(parser)
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help="the business zone, SLA and reps (default: the shared fixtures' config when "
        "present, else examples/frontdesk.toml)",
    )
    parser.add_argument("--seed", type=int, default=SEED, help="random seed of the history")
    args = parser.parse_args(argv)
    if args.requests < 100:
        parser.error("--requests must be at least 100")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    interrupt_on_sigterm()  # so that the schema is dropped
    config_path = args.config.resolve()
    config = load_config(config_path)
    if not frontdesk_executable().exists():
        print(f"{frontdesk_executable()} not found: run `make bench`", file=sys.stderr)
        return 1
    kinds = database_kinds(args.database)
    print(
        f"`frontdesk report --json`, last {PERIODS[0]} and {PERIODS[-1]} days, over a year of "
        f"{args.requests:,} requests; config {config_path} (zone {config.zone.key}, SLA "
        f"{config.slack.sla_minutes} min); today is {datetime.now(config.zone).date()}"
    )
    load = OtherLoad.start()
    results: list[Result] = []
    try:
        print_help_cost(args.runs)
        with tempfile.TemporaryDirectory(prefix="frontdesk-bench-report-") as workdir:
            for kind in reachable(kinds):
                results.append(bench(kind, config, config_path, args, Path(workdir)))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print()
    print_verdict(results)
    print_caveat(load, kinds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
