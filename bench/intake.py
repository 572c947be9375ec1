"""Throughput and latency of the intake webhook (SPEC §3.1) against a trivial endpoint.

Run it from the repository root:

    make bench                                   # = .venv/bin/python -m bench.intake
    .venv/bin/python -m bench.intake --seconds 5 --concurrency 10,50
    .venv/bin/python -m bench.intake --database sqlite     # or postgres; default both

What it does:

* starts a real server, ``.venv/bin/frontdesk serve --config examples/frontdesk.toml
  --port <free port> --no-scheduler``, on a fresh SQLite database in a temporary directory
  and then on a fresh schema of PostgreSQL's ``test`` database (migrated first, dropped
  afterwards; skipped with the reason when PostgreSQL does not answer), with a random
  webhook secret and ``FRONTDESK_LOG_LEVEL=WARNING``, waits for ``/healthz``, and always
  stops it at the end (also on Ctrl-C or an error);
* for every concurrency level, drives ``GET /healthz`` (the baseline: the cheapest endpoint
  of the same app) and then ``POST /webhooks/booking`` with that many clients for a fixed
  time. Every intake request is unique (its own ``submission_id``) and signed. Most ask for
  a free slot of a configured rep (spread over the coming weekdays, inside working hours, so
  they get booked); the rest take the VIP, keyword, group-size, no-time and broken-calendar
  routes (see ``MIX``);
* prints, per endpoint: requests, errors (a non-2xx answer or an exception), successful
  requests per second, p50 and p99 latency of the successful requests, and the CPU used by
  the server, by the load generator and by anything else on the machine; then the ratio of
  the two throughputs, the server's CPU time per request of each (steadier than throughput
  when other processes share the machine), and the verdict against the targets on SQLite:
  at 10 clients, intake throughput >= 50 % of the baseline's and intake p99 < 50 ms
  (PostgreSQL's ratio is printed without a target).

The load generator is one thread per client, each with its own keep-alive ``httpx.Client``
(cheaper per request than ``httpx.AsyncClient`` here). It runs on the same machine as the
server, so on a small machine the two compete for the cores: read the figures as relative,
not as what a dedicated server would do. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx

from bench._databases import add_database_option, database_kinds, reachable, scratch_database
from bench._machine import (
    OTHER_CPU_WARNING,
    free_port,
    interrupt_on_sigterm,
    machine_busy_seconds,
    usable_cores,
)
from bot.config import ConfigError, load_config
from bot.domain.config import WEEKDAYS, Config, Rep, parse_hours
from bot.domain.signing import signed_headers
from storage.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # the only host this script talks to
DEFAULT_CONFIG = ROOT / "examples" / "frontdesk.toml"
INTAKE_PATH = "/webhooks/booking"
HEALTH_PATH = "/healthz"

TARGET_RATIO = 0.50  # intake throughput / baseline throughput, at VERDICT_CONCURRENCY (issue #18)
TARGET_P99_MS = 50.0
VERDICT_CONCURRENCY = 10

STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
REQUEST_TIMEOUT_S = 30.0
WARMUP_REQUESTS = 20

INTAKE_OUTCOMES = frozenset(
    {"booked_auto", "escalated_vip", "escalated_manual_review", "escalated_on_error"}
)

# Share of each kind of intake request (weights). "auto" and "round_robin" ask for a free
# slot (with and without naming the rep); the others take the gate's escalation routes.
MIX: dict[str, int] = {
    "auto": 70,
    "round_robin": 10,
    "vip": 8,
    "keyword": 5,
    "group_size": 3,
    "no_time": 2,
    "broken_calendar": 2,
}
FORM_SHARE = 0.1  # share of intake bodies sent form-encoded rather than as JSON
DURATIONS = (15, 20, 30, 15, 45, 20)  # minutes, cycled while laying out slots
CLIENT_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Phoenix",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Sydney",
)
FIRST_NAMES = ("Dana", "Jonas", "Priya", "Mia", "Tom", "Aiko", "Lena", "Omar", "Sofia", "Raj")
LAST_NAMES = ("Reyes", "Okafor", "Nair", "Chen", "Silva", "Tanaka", "Novak", "Haddad", "Berg")
COMPANIES = ("Northwind", "Brightpath", "Fjordlabs", "Acme", "Globex", "Initech", None)
KEYWORD_NOTES = {
    "urgent": "Urgent: our contract renews on Friday.",
    "reschedule": "I need to reschedule the call we had planned.",
    "custom": "We would need a custom integration, can we discuss?",
    "group": "Could this be a group session with our ops people?",
}
PLAIN_NOTES = (
    "Looking forward to a quick intro.",
    "Pricing questions for a small shop.",
    "Follow-up on the webinar.",
    "Would like a product walkthrough.",
    "",
)


# -- the slots auto requests ask for -------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    rep: str
    start: datetime  # aware, UTC
    minutes: int


def _busy_blocks(config: Config, rep: Rep, day_utc: datetime) -> list[tuple[datetime, datetime]]:
    """The sandbox's weekly busy blocks on the rep's calendars around one day."""
    blocks = []
    for busy in config.sandbox.busy:
        if busy.calendar not in rep.calendars:
            continue
        zone = ZoneInfo(busy.timezone) if busy.timezone else config.zone
        weekdays = {WEEKDAYS.index(day) for day in busy.days}
        local_day = day_utc.astimezone(zone).date()
        for offset in (-1, 0, 1):
            day = local_day + timedelta(days=offset)
            if day.weekday() not in weekdays:
                continue
            for opens, closes in parse_hours(busy.hours):
                start = datetime.combine(day, opens, tzinfo=zone).astimezone(UTC)
                blocks.append((start, datetime.combine(day, closes, tzinfo=zone).astimezone(UTC)))
    return blocks


def plan_slots(config: Config, now: datetime, rng: random.Random) -> list[Slot]:
    """Non-overlapping meetings (buffers included) filling every healthy rep's working hours
    between the minimum notice and the horizon, shuffled so requests spread over the days."""
    booking = config.booking
    buffer = timedelta(minutes=booking.buffer_minutes)
    earliest = now + timedelta(minutes=booking.min_notice_minutes + 30)  # margin for the run
    latest = now + timedelta(days=booking.horizon_days) - timedelta(hours=2)
    broken = set(config.sandbox.broken_calendars)
    durations = itertools.cycle(DURATIONS)
    slots: list[Slot] = []
    for rep in config.reps:
        if broken & set(rep.calendars):
            continue
        first_day = now.astimezone(rep.zone).date()
        for offset in range(booking.horizon_days + 1):
            day = first_day + timedelta(days=offset)
            for opens, closes in rep.hours_by_weekday.get(day.weekday(), ()):
                start = datetime.combine(day, opens, tzinfo=rep.zone).astimezone(UTC)
                close = datetime.combine(day, closes, tzinfo=rep.zone).astimezone(UTC)
                busy = _busy_blocks(config, rep, start)
                while True:
                    minutes = next(durations)
                    end = start + timedelta(minutes=minutes)
                    if end > close:
                        break
                    clash = next(
                        (b for b in busy if b[0] < end + buffer and b[1] > start - buffer), None
                    )
                    if clash is not None:
                        start = clash[1] + buffer
                        continue
                    if earliest <= start <= latest:
                        slots.append(Slot(rep.email, start, minutes))
                    start = end + buffer
    rng.shuffle(slots)
    return slots


class SlotPool:
    """Hands each auto request its own slot; once all are taken, slots are asked for again
    (and then end as slot_unavailable escalations, which the summary shows)."""

    def __init__(self, slots: list[Slot]) -> None:
        if not slots:
            raise SystemExit("no bookable slot in the config's horizon; nothing to benchmark")
        self._slots = slots
        self._next = 0
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return len(self._slots)

    @property
    def handed_out(self) -> int:
        return self._next

    def take(self) -> Slot:
        with self._lock:
            slot = self._slots[self._next % len(self._slots)]
            self._next += 1
        return slot


# -- request bodies ------------------------------------------------------------------------


class BodyMaker:
    """Realistic, unique intake bodies; one instance per worker thread (its own RNG)."""

    def __init__(self, config: Config, pool: SlotPool, run_id: str, worker: str, seed: int) -> None:
        self.config = config
        self.pool = pool
        self.prefix = f"bench-{run_id}-{worker}"
        self.rng = random.Random(seed)
        self.kinds = list(MIX)
        self.weights = list(MIX.values())
        self.counter = itertools.count(1)
        self.vip_domains = [vip.domain for vip in config.vip]
        self.keywords = list(config.gate.escalation_keywords)
        self.group_size = config.gate.group_size_threshold
        broken = set(config.sandbox.broken_calendars)
        self.broken_reps = [rep.email for rep in config.reps if broken & set(rep.calendars)]

    def make(self) -> tuple[bytes, str]:
        """A body and its content type."""
        rng = self.rng
        kind = self._kind()
        number = next(self.counter)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = rng.choice(COMPANIES)
        domain = f"{(company or 'mail').lower()}.example"
        zone = rng.choice(CLIENT_ZONES)
        form: dict[str, Any] = {
            "submission_id": f"{self.prefix}-{number}",
            "name": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower()}{number}@{domain}",
            "timezone": zone,
            "notes": rng.choice(PLAIN_NOTES),
        }
        if company:
            form["company"] = company
        if rng.random() < 0.6:
            form["phone"] = f"+1602555{rng.randrange(10_000):04d}"
            form["sms_opt_in"] = rng.random() < 0.7
        start = self._start(kind, form)
        self._route_by_notes(kind, form, first)
        if start is not None:
            form["requested_start"] = _local_iso(start, ZoneInfo(zone), rng.random() < 0.5)
        if rng.random() < FORM_SHARE:
            return urlencode(
                {k: str(v).lower() if isinstance(v, bool) else v for k, v in form.items()}
            ).encode(), "application/x-www-form-urlencoded"
        return json.dumps(form).encode(), "application/json"

    def _kind(self) -> str:
        kind = self.rng.choices(self.kinds, self.weights)[0]
        if (kind == "vip" and not self.vip_domains) or (
            kind == "broken_calendar" and not self.broken_reps
        ):
            return "auto"
        return kind

    def _start(self, kind: str, form: dict[str, Any]) -> datetime | None:
        """The requested start for this kind (a free slot for the ones that book)."""
        rng = self.rng
        if kind in ("auto", "round_robin"):
            slot = self.pool.take()
            form["duration_minutes"] = slot.minutes
            if kind == "auto":
                form["rep"] = slot.rep
            return slot.start
        if kind == "no_time":
            return None
        if kind == "broken_calendar":
            form["rep"] = rng.choice(self.broken_reps)
        # Escalated before any calendar is asked: any future time will do.
        return datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(
            days=rng.randrange(1, 14), hours=rng.randrange(24)
        )

    def _route_by_notes(self, kind: str, form: dict[str, Any], first: str) -> None:
        """What makes a VIP, keyword or group-size request one."""
        rng = self.rng
        if kind == "vip":
            sub = rng.choice(("", "eu.", "us."))
            form["email"] = f"{first.lower()}@{sub}{rng.choice(self.vip_domains)}"
            form["notes"] = "Renewal conversation."
        elif kind == "keyword" and self.keywords:
            keyword = rng.choice(self.keywords)
            form["notes"] = KEYWORD_NOTES.get(keyword, f"About {keyword}: can we talk?")
        elif kind == "group_size":
            size = self.group_size + rng.randrange(10)
            form["notes"] = f"Need to book a demo for our team of {size}"


def _local_iso(start: datetime, zone: ZoneInfo, with_offset: bool) -> str:
    """Local wall time with its offset, or without one (when that is unambiguous in the
    zone): real forms send both."""
    local = start.astimezone(zone)
    wall = local.replace(tzinfo=None)
    unambiguous = (
        wall.replace(tzinfo=zone, fold=0).utcoffset()
        == wall.replace(tzinfo=zone, fold=1).utcoffset()
    )
    if with_offset or not unambiguous:
        return local.isoformat(timespec="seconds")
    return wall.isoformat(timespec="seconds")


# -- the server under test -----------------------------------------------------------------


def frontdesk_executable() -> Path:
    beside_python = Path(sys.executable).parent / "frontdesk"
    return beside_python if beside_python.exists() else ROOT / ".venv" / "bin" / "frontdesk"


@dataclass
class Server:
    """`frontdesk serve` in a subprocess on a fresh database (SQLite, or a PostgreSQL schema)."""

    config_path: Path
    workdir: Path
    database_url: str
    secret: str = field(default_factory=lambda: secrets.token_hex(32))
    port: int = field(default_factory=lambda: free_port(HOST))
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def start(self) -> None:
        executable = frontdesk_executable()
        if not executable.exists():
            raise SystemExit(f"{executable} not found: run `make bench` (it installs the venv)")
        # A minimal environment: no credentials from the caller's shell can switch an
        # integration away from sandbox mode (or make `serve` refuse to start).
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(self.workdir)),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "DATABASE_URL": self.database_url,
            "FRONTDESK_WEBHOOK_SECRET": self.secret,
            "FRONTDESK_LOG_LEVEL": "WARNING",
        }
        command = [
            str(executable),
            "serve",
            "--config",
            str(self.config_path),
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--no-scheduler",
        ]
        with self.log_path.open("wb") as log:
            # Own session: a Ctrl-C in the terminal reaches only this script, which then
            # stops the server itself.
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_until_healthy()

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        with httpx.Client(base_url=self.base_url, timeout=2.0, trust_env=False) as client:
            while time.monotonic() < deadline:
                self.check_alive()
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(HEALTH_PATH).status_code == 200:
                        return
                time.sleep(0.1)
        raise RuntimeError(f"the server did not answer {HEALTH_PATH} in {STARTUP_TIMEOUT_S:.0f} s")

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"the server exited with code {self.process.returncode}")

    def cpu_seconds(self) -> float | None:
        """User + system CPU the server process has used so far (Linux /proc), else None."""
        if self.process is None:
            return None
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except OSError:
            return None
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # uvicorn shuts down gracefully on SIGTERM
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- load generation -----------------------------------------------------------------------


@dataclass
class WorkerResult:
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only
    errors: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    finished_at: float = 0.0


@dataclass(frozen=True)
class PhaseResult:
    endpoint: str
    concurrency: int
    elapsed: float
    latencies: list[float]  # sorted
    errors: Counter[str]
    outcomes: Counter[str]
    server_cpu: float | None  # share of one core
    client_cpu: float  # share of one core
    other_cpu: float | None  # cores busy with anything else on the machine

    @property
    def disturbed(self) -> bool:
        """Anything but the server and the load generator kept more than OTHER_CPU_WARNING
        cores busy (the kernel's own work for the traffic is about 0.1-0.2)."""
        return self.other_cpu is not None and self.other_cpu > OTHER_CPU_WARNING

    @property
    def ok(self) -> int:
        return len(self.latencies)

    @property
    def server_cpu_ms(self) -> float | None:
        """The server's CPU time per request: unlike throughput, barely moved by what else
        the machine is doing (only the server's own work is counted)."""
        if self.server_cpu is None or not self.requests:
            return None
        return self.server_cpu * self.elapsed * 1000 / self.requests

    @property
    def requests(self) -> int:
        return self.ok + sum(self.errors.values())

    @property
    def throughput(self) -> float:
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0

    def percentile_ms(self, fraction: float) -> float:
        """Nearest-rank percentile of the successful requests' latency."""
        if not self.latencies:
            return float("nan")
        rank = max(1, min(len(self.latencies), round(fraction * len(self.latencies) + 0.5)))
        return self.latencies[rank - 1] * 1000


# One request: send it on the worker's client and return (ok, outcome or error label).
Call = Callable[[httpx.Client], tuple[bool, str]]


def healthz_call() -> Call:
    def call(client: httpx.Client) -> tuple[bool, str]:
        response = client.get(HEALTH_PATH)
        return response.is_success, f"HTTP {response.status_code}"

    return call


def intake_call(secret: str, bodies: BodyMaker) -> Call:
    def call(client: httpx.Client) -> tuple[bool, str]:
        body, content_type = bodies.make()
        headers = {"Content-Type": content_type, **signed_headers(secret, body)}
        response = client.post(INTAKE_PATH, content=body, headers=headers)
        if not response.is_success:
            return False, f"HTTP {response.status_code}"
        status = response.json().get("status")
        return status in INTAKE_OUTCOMES, str(status)

    return call


def _worker(
    base_url: str, call: Call, deadline: float, stop: threading.Event, result: WorkerResult
) -> None:
    try:
        with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT_S, trust_env=False) as client:
            while not stop.is_set():
                started = time.perf_counter()
                if started >= deadline:
                    break
                try:
                    ok, label = call(client)
                except Exception as exc:  # transport error, or an answer that is not JSON
                    result.errors[type(exc).__name__] += 1
                    time.sleep(0.01)  # a dead server must not turn this into a busy loop
                    continue
                if ok:
                    result.latencies.append(time.perf_counter() - started)
                    result.outcomes[label] += 1
                else:
                    result.errors[label] += 1
    finally:
        result.finished_at = time.perf_counter()


def run_phase(server: Server, endpoint: str, calls: list[Call], seconds: float) -> PhaseResult:
    """Run one client thread per call until `seconds` have passed; every thread stops by
    itself at the deadline (a request in flight then is still waited for and counted)."""
    stop = threading.Event()
    results = [WorkerResult() for _ in calls]
    server_cpu_before = server.cpu_seconds()
    client_cpu_before = time.process_time()
    machine_before = machine_busy_seconds()
    started = time.perf_counter()
    deadline = started + seconds
    threads = [
        threading.Thread(
            target=_worker,
            args=(server.base_url, call, deadline, stop, result),
            name=f"bench-{endpoint}-{index}",
            daemon=True,
        )
        for index, (call, result) in enumerate(zip(calls, results, strict=True))
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        stop.set()
    elapsed = max(result.finished_at for result in results) - started
    server_cpu_after = server.cpu_seconds()
    machine_after = machine_busy_seconds()
    client_cpu = (time.process_time() - client_cpu_before) / elapsed
    server_cpu = other_cpu = None
    if server_cpu_before is not None and server_cpu_after is not None:
        server_cpu = (server_cpu_after - server_cpu_before) / elapsed
        if machine_before is not None and machine_after is not None:
            busy = (machine_after - machine_before) / elapsed
            other_cpu = max(0.0, busy - server_cpu - client_cpu)
    errors: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    for result in results:
        errors.update(result.errors)
        outcomes.update(result.outcomes)
    return PhaseResult(
        endpoint=endpoint,
        concurrency=len(calls),
        elapsed=elapsed,
        latencies=sorted(itertools.chain.from_iterable(r.latencies for r in results)),
        errors=errors,
        outcomes=outcomes,
        server_cpu=server_cpu,
        client_cpu=client_cpu,
        other_cpu=other_cpu,
    )


def warm_up(server: Server, calls: list[Call]) -> None:
    """A few sequential requests so that start-up costs (imports, caches) are not measured."""
    with httpx.Client(
        base_url=server.base_url, timeout=REQUEST_TIMEOUT_S, trust_env=False
    ) as client:
        for call in itertools.islice(itertools.cycle(calls), WARMUP_REQUESTS):
            ok, label = call(client)
            if not ok:
                raise RuntimeError(f"warm-up request failed: {label}\n{server.log_tail()}")


# -- reporting -----------------------------------------------------------------------------


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


def print_header() -> None:
    print(
        f"{'endpoint':<23} {'clients':>7} {'requests':>9} {'errors':>7} {'req/s':>8} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'server CPU':>11} {'loadgen CPU':>12} {'other CPU':>10}"
    )


def print_phase(phase: PhaseResult) -> None:
    label = f"GET {HEALTH_PATH}" if phase.endpoint == "healthz" else f"POST {INTAKE_PATH}"
    print(
        f"{label:<23} {phase.concurrency:>7} "
        f"{phase.requests:>9} {sum(phase.errors.values()):>7} {phase.throughput:>8.1f} "
        f"{phase.percentile_ms(0.50):>8.1f} {phase.percentile_ms(0.99):>8.1f} "
        f"{_percent(phase.server_cpu):>11} {_percent(phase.client_cpu):>12} "
        f"{_percent(phase.other_cpu):>10}",
        flush=True,
    )
    if phase.errors:
        print(f"    errors: {_counts(phase.errors)}")
    if phase.endpoint == "intake":
        print(f"    outcomes: {_counts(phase.outcomes)}")
    if phase.disturbed:
        print(f"    warning: other processes used {_percent(phase.other_cpu)} of a core meanwhile")


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{label} {count}" for label, count in counter.most_common())


def throughput_ratio(baseline: PhaseResult, intake: PhaseResult) -> float:
    return intake.throughput / baseline.throughput if baseline.throughput else 0.0


def print_ratio(baseline: PhaseResult, intake: PhaseResult) -> None:
    ratio = throughput_ratio(baseline, intake)
    print(f"    intake/healthz throughput at {intake.concurrency} clients: {ratio * 100:.1f} %")
    if baseline.server_cpu_ms and intake.server_cpu_ms:
        print(
            f"    server CPU per request: healthz {baseline.server_cpu_ms:.2f} ms, intake "
            f"{intake.server_cpu_ms:.2f} ms (healthz/intake "
            f"{baseline.server_cpu_ms / intake.server_cpu_ms:.1%}: the throughput ratio when the"
            " server's CPU is the limit, steadier than throughput on a busy machine)"
        )
    if baseline.client_cpu > 0.6 and (baseline.server_cpu or 0.0) < 0.9:
        print(
            "    note: during the baseline the load generator was busy and the server was not; "
            "the healthz figure may be capped by the load generator (which flatters the ratio)"
        )


def print_verdict(baseline: PhaseResult, intake: PhaseResult) -> None:
    ratio = throughput_ratio(baseline, intake)
    p99 = intake.percentile_ms(0.99)
    ratio_ok = ratio >= TARGET_RATIO
    p99_ok = p99 < TARGET_P99_MS
    passed = ratio_ok and p99_ok and not intake.errors
    errors = sum(intake.errors.values())
    print(
        f"VERDICT at {intake.concurrency} clients: {'PASS' if passed else 'FAIL'} - "
        f"intake throughput {ratio * 100:.1f} % of healthz (target >= "
        f"{TARGET_RATIO * 100:.0f} %: {'met' if ratio_ok else 'MISSED'}), intake p99 "
        f"{p99:.1f} ms (target < {TARGET_P99_MS:.0f} ms: {'met' if p99_ok else 'MISSED'})"
        + (f", {errors} intake errors" if errors else "")
    )


def print_machine_caveat(phases: list[PhaseResult]) -> None:
    print(
        f"Caveat: {os.cpu_count() or 1} logical cores ({usable_cores()} usable here), Python "
        f"{sys.version.split()[0]}. The server (one uvicorn process) and this load generator "
        "share the machine and compete for it, so read the figures as relative, not as what "
        "a dedicated server would do. CPU columns are shares of one core (100% = one busy "
        "core); 'other CPU' is what the rest of the machine used meanwhile."
    )
    disturbed = [p for p in phases if p.disturbed]
    if disturbed:
        worst = max(p.other_cpu or 0.0 for p in disturbed)
        print(
            f"WARNING: other processes kept up to {worst * 100:.0f}% of a core busy during "
            f"{len(disturbed)} of {len(phases)} phases; the figures are disturbed, rerun on "
            "a quiet machine."
        )


# -- main ----------------------------------------------------------------------------------


def _concurrency_levels(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers like 10,50, got {text!r}") from None
    if not levels or any(level < 1 or level > 1000 for level in levels):
        raise argparse.ArgumentTypeError("each concurrency level must be between 1 and 1000")
    return levels


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < seconds <= 600:
        raise argparse.ArgumentTypeError("seconds must be in (0, 600]")
    return seconds


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=(
            "Benchmark POST /webhooks/booking against GET /healthz on a real local "
            "`frontdesk serve` (SQLite, sandbox integrations)."
        ),
        epilog=(
            "Targets: at 10 clients, intake throughput >= 50 % of healthz and intake p99 < 50 ms."
        ),
    )
    parser.add_argument(
        "--seconds",
        type=_positive_seconds,
        default=10.0,
        help="duration of each phase (one endpoint at one concurrency level); default 10",
    )
    parser.add_argument(
        "--concurrency",
        type=_concurrency_levels,
        default=[10, 50],
        help="comma-separated numbers of concurrent clients; default 10,50",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help="TOML config for the server; default examples/frontdesk.toml",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the request mix; default 1")
    add_database_option(parser)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    interrupt_on_sigterm()  # so that `finally` stops the server
    config_path = args.config.resolve()
    try:
        config = load_config(config_path)
    except (ConfigError, OSError) as exc:
        raise SystemExit(f"cannot use {config_path}: {exc}") from None
    status = 0
    with tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as workdir:
        for kind in reachable(database_kinds(args.database)):
            with scratch_database(kind, Path(workdir), "intake") as database_url:
                status = run_on(args, config, config_path, kind, database_url, Path(workdir))
            if status:
                break
    return status


def run_on(
    args: argparse.Namespace,
    config: Config,
    config_path: Path,
    kind: str,
    database_url: str,
    workdir: Path,
) -> int:
    """Every concurrency level against one server on one database; 0 when it ran."""
    rng = random.Random(args.seed)
    pool = SlotPool(plan_slots(config, datetime.now(UTC), rng))
    run_id = secrets.token_hex(4)
    if kind == "postgres":
        upgrade(database_url)  # `serve` migrates SQLite only (PostgreSQL has a deploy step)
    server = Server(config_path, workdir, database_url)
    try:
        server.start()
        shown = config_path.relative_to(ROOT) if config_path.is_relative_to(ROOT) else config_path
        print(f"\n{kind}: server {server.base_url}, config {shown}, {pool.size} free slots planned")
        warm_up(
            server,
            [
                healthz_call(),
                intake_call(server.secret, BodyMaker(config, pool, run_id, "warmup", args.seed)),
            ],
        )
        print()
        print_header()
        phases: list[PhaseResult] = []
        pairs: dict[int, tuple[PhaseResult, PhaseResult]] = {}
        for concurrency in args.concurrency:
            baseline, intake = run_level(args, config, server, pool, run_id, concurrency)
            phases += [baseline, intake]
            pairs[concurrency] = (baseline, intake)
        print()
        if pool.handed_out > pool.size:
            print(
                f"Note: {pool.handed_out} requests asked for one of {pool.size} planned free "
                "slots; the surplus asked for taken slots (slot_unavailable reviews)."
            )
        if VERDICT_CONCURRENCY not in pairs:
            print(
                f"No verdict: the targets are defined at {VERDICT_CONCURRENCY} clients, "
                "which this run did not measure."
            )
        elif kind == "sqlite":
            print_verdict(*pairs[VERDICT_CONCURRENCY])
        else:
            ratio = throughput_ratio(*pairs[VERDICT_CONCURRENCY])
            print(
                f"{kind} at {VERDICT_CONCURRENCY} clients: intake throughput {ratio * 100:.1f} % "
                "of healthz (no target on PostgreSQL; compare with SQLite's above)"
            )
        print_machine_caveat(phases)
    except KeyboardInterrupt:
        print("\ninterrupted; stopping the server", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        tail = server.log_tail()
        if tail:
            print(f"server log (last lines):\n{tail}", file=sys.stderr)
        return 1
    finally:
        server.stop()
    return 0


def run_level(
    args: argparse.Namespace,
    config: Config,
    server: Server,
    pool: SlotPool,
    run_id: str,
    concurrency: int,
) -> tuple[PhaseResult, PhaseResult]:
    """The baseline, then intake, with `concurrency` clients each."""
    baseline = run_phase(
        server, "healthz", [healthz_call() for _ in range(concurrency)], args.seconds
    )
    print_phase(baseline)
    server.check_alive()
    bodies = [
        BodyMaker(
            config,
            pool,
            run_id,
            f"c{concurrency}w{worker}",
            args.seed * 100_003 + concurrency * 1_000 + worker,
        )
        for worker in range(concurrency)
    ]
    intake = run_phase(
        server, "intake", [intake_call(server.secret, maker) for maker in bodies], args.seconds
    )
    print_phase(intake)
    server.check_alive()
    print_ratio(baseline, intake)
    return baseline, intake


if __name__ == "__main__":
    raise SystemExit(main())
