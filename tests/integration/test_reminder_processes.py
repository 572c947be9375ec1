"""Reminders across real `frontdesk worker` processes (issue #5): two workers on one
PostgreSQL send each of 200 due reminders once; a worker killed with SIGKILL before or just
after a send, or stopped with SIGTERM in the middle of a batch, loses no reminder and sends
none twice.

Each worker is `python -m bot.cli worker` with Twilio configured and TWILIO_API_URL pointing
at the fake Twilio of the tests (tests/fakes/twilio.py), a real HTTP server in this process
that counts what reached it; every other service runs in sandbox mode. Reminders are seeded
straight into the tables (reminder_seed.py); what the workers did is read back from the
database, the fake, and their JSON logs.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bot.domain.manage_links import ManageLinks
from bot.messages.reminders import render_sms
from storage.db import Database
from storage.migrate import upgrade
from storage.models import ReminderStatus
from storage.repositories import ReminderRepository
from storage.repositories.reminders import BOOKINGS, REQUESTS, meeting_stamp
from testkit.fakes.twilio import DROP, FAKE_ACCOUNT_SID, FAKE_AUTH_TOKEN, FAKE_FROM, FakeTwilio
from testkit.reminder_seed import REP, ZONE, phone_of, seed_sms_reminders
from tests.conftest import EXAMPLE_CONFIG, ROOT

METRICS_TOKEN = "process-test-metrics-token"

TICK_SECONDS = 0.2
PUBLIC_URL = "https://frontdesk.ourco.example"
WEBHOOK_SECRET = "process-test-secret"
START_TIMEOUT_S = 20.0  # a worker imports the app and migrates SQLite before it starts
SEND_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0  # SIGTERM -> exit: the signal wait (1 s) and the send in progress
EXTRA_TICKS = 3  # reminder ticks a worker must run after the send, to show it sends no more

STARTED = "scheduler started"
STOPPED = "scheduler stopped"
SENT = "reminder sent"


def meeting_start() -> datetime:
    """Two days away, on a whole minute (the SMS names the minute)."""
    return (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)


def sms_body(start: datetime, db: Database, index: int) -> str:
    """The text a worker sends the client of `phone_of(index)`, with their manage link."""
    with db.connection() as conn:
        booking_id, end = conn.execute(
            select(BOOKINGS.c.id, BOOKINGS.c.end)
            .join(REQUESTS, REQUESTS.c.id == BOOKINGS.c.request_id)
            .where(REQUESTS.c.phone == phone_of(index))
        ).one()
    link = ManageLinks(WEBHOOK_SECRET, PUBLIC_URL).url(booking_id, 1, end)
    return render_sms(start=start, zone=ZONE, rep=REP, video_url=None, manage_url=link)


# -- workers -------------------------------------------------------------------------------


@dataclass
class Worker:
    """One `frontdesk worker` process, its JSON log lines in a file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def records(self) -> list[dict[str, Any]]:
        records = []
        with contextlib.suppress(OSError):
            for line in self.log_path.read_text(errors="replace").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    record = {"msg": line}  # a traceback, or a line still being written
                records.append(record if isinstance(record, dict) else {"msg": line})
        return records

    def logged(self, message: str) -> int:
        return sum(1 for record in self.records() if record.get("msg") == message)

    def reminder_ticks(self) -> list[dict[str, int]]:
        """The counts of each reminder tick the worker logged, oldest first."""
        return [
            record.get("counts", {})
            for record in self.records()
            if record.get("msg") == "job ran" and record.get("job") == "reminders"
        ]

    def tail(self, lines: int = 15) -> str:
        interesting = [
            json.dumps(record)[:400]
            for record in self.records()
            if record.get("msg") != "job ran" and "apscheduler" not in record.get("logger", "")
        ]
        return f"--- {self.name} (exit {self.process.poll()}):\n" + "\n".join(interesting[-lines:])

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"{self.name} exited unexpectedly\n{self.tail()}")

    def kill9(self) -> None:
        self.process.kill()
        self.process.wait(timeout=STOP_TIMEOUT_S)

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    def wait_exit(self) -> int:
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{self.name} did not exit {STOP_TIMEOUT_S} s after SIGTERM\n{self.tail()}")


StartWorker = Callable[..., Worker]


class HoldingTwilio(FakeTwilio):
    """The fake Twilio, which can also take each message and then hold its answer (until
    the test ends): a worker killed meanwhile dies between Twilio accepting a text and
    hearing that it did.
    """

    def __init__(self) -> None:
        super().__init__()
        self.holding = False
        self.released = threading.Event()

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        form: dict[str, str],
        headers: dict[str, str],
    ) -> tuple[int, str, dict[str, str]] | None:
        answer = super().handle(method, path, query, form, headers)
        if self.holding and method == "POST" and path.endswith("/Messages.json"):
            self.released.wait(START_TIMEOUT_S)
            return DROP  # whoever asked is gone by now
        return answer


@pytest.fixture
def fake_twilio() -> Iterator[HoldingTwilio]:
    with HoldingTwilio() as fake:
        try:
            yield fake
        finally:
            fake.released.set()


@pytest.fixture
def start_worker(tmp_path: Path, fake_twilio: FakeTwilio) -> Iterator[StartWorker]:
    """Starts workers on the given DATABASE_URL; any still running at the end is killed."""
    config = tmp_path / "frontdesk.toml"
    shutil.copy(EXAMPLE_CONFIG, config)
    workers: list[Worker] = []

    def start(database_url: str, *, command: tuple[str, ...] = ("worker",)) -> Worker:
        name = f"{command[0]}-{len(workers) + 1}"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(tmp_path)),
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "DATABASE_URL": database_url,
            "TWILIO_ACCOUNT_SID": FAKE_ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": FAKE_AUTH_TOKEN,
            "TWILIO_FROM": FAKE_FROM,
            "TWILIO_API_URL": fake_twilio.url,
            "FRONTDESK_TICK_SECONDS": str(TICK_SECONDS),
            "FRONTDESK_PUBLIC_URL": PUBLIC_URL,
            # Idle ticks are logged at DEBUG only; the tests count every tick.
            "FRONTDESK_LOG_LEVEL": "DEBUG",
            "FRONTDESK_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "FRONTDESK_METRICS_TOKEN": METRICS_TOKEN,
        }
        log_path = tmp_path / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", *command, "--config", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env=env,
                start_new_session=True,  # a Ctrl-C of pytest is not theirs
            )
        worker = Worker(name, process, log_path)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.kill()
            worker.process.wait(timeout=STOP_TIMEOUT_S)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(
    condition: Callable[[], bool], what: str, workers: list[Worker], timeout: float
) -> None:
    """Poll `condition` until it holds; fail (with the workers' logs) on a timeout or when a
    worker dies meanwhile."""
    deadline = time.monotonic() + timeout
    while not condition():
        for worker in workers:
            worker.check_alive()
        if time.monotonic() > deadline:
            logs = "\n".join(worker.tail() for worker in workers)
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{logs}")
        time.sleep(0.05)


def wait_started(worker: Worker) -> None:
    wait_for(
        lambda: worker.logged(STARTED) > 0, f"{worker.name} to start", [worker], START_TIMEOUT_S
    )


def wait_ticks(worker: Worker, ticks: int) -> None:
    """Until the worker has run `ticks` more reminder ticks than it has now."""
    target = len(worker.reminder_ticks()) + ticks
    wait_for(
        lambda: len(worker.reminder_ticks()) >= target,
        f"{ticks} reminder ticks of {worker.name}",
        [worker],
        START_TIMEOUT_S,
    )


def stop_cleanly(*workers: Worker) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        code = worker.wait_exit()
        assert code == 0, worker.tail()
        assert worker.logged(STOPPED) == 1, worker.tail()


def statuses(db: Database) -> dict[str, int]:
    return ReminderRepository(db).counts_by_status()


@pytest.fixture
def sqlite_db(sqlite_url: str) -> Iterator[Database]:
    upgrade(sqlite_url)
    db = Database(sqlite_url)
    yield db
    db.dispose()


# -- two workers, one PostgreSQL -----------------------------------------------------------


def test_two_workers_on_postgres_send_each_of_200_reminders_once(
    postgres_url: str, start_worker: StartWorker, fake_twilio: FakeTwilio
) -> None:
    upgrade(postgres_url)  # what `frontdesk db upgrade` does before workers start
    db = Database(postgres_url)
    try:
        start = meeting_start()
        ids = seed_sms_reminders(
            db, 200, due_at=datetime.now(UTC) - timedelta(minutes=1), meeting_start=start
        )
        workers = [start_worker(postgres_url), start_worker(postgres_url)]
        wait_for(
            lambda: len(fake_twilio.sent) >= 200 and statuses(db) == {"sent": 200},
            "200 sends and 200 rows SENT",
            workers,
            START_TIMEOUT_S + SEND_TIMEOUT_S,
        )
        stop_cleanly(*workers)  # nothing can be sent after this: the count below is final

        assert len(fake_twilio.sent) == 200
        assert all(
            fake_twilio.sends_of(phone_of(i), sms_body(start, db, i)) == 1 for i in range(200)
        )
        assert {m.to: m.status_callback for m in fake_twilio.sent} == {
            phone_of(i): (
                f"{PUBLIC_URL}/webhooks/twilio/status?reminder={ids[i]}"
                f"&meeting={meeting_stamp(start)}"
            )
            for i in range(200)
        }
        # Each reminder was claimed once: no retry, no takeover of another's claim.
        repository = ReminderRepository(db)
        assert [getattr(repository.get(rid), "attempts", None) for rid in ids] == [1] * 200
        sent_by = {w.name: w.logged(SENT) for w in workers}
        assert sum(sent_by.values()) == 200
        print(f"\nreminders sent per worker: {sent_by}")  # which one is not deterministic
    finally:
        db.dispose()


# -- restarts ------------------------------------------------------------------------------


def test_worker_killed_before_the_due_time_the_next_one_sends_once(
    sqlite_url: str, sqlite_db: Database, start_worker: StartWorker, fake_twilio: FakeTwilio
) -> None:
    first = start_worker(sqlite_url)
    wait_started(first)
    # Stored while the first worker runs, due 3 s later; it sees the row on its ticks.
    due_at = datetime.now(UTC) + timedelta(seconds=3)
    start = meeting_start()
    [rid] = seed_sms_reminders(sqlite_db, 1, due_at=due_at, meeting_start=start)
    wait_ticks(first, 2)
    first.kill9()
    assert datetime.now(UTC) < due_at, "the first worker was killed after the due time"
    assert fake_twilio.sent == []
    assert statuses(sqlite_db) == {"pending": 1}

    second = start_worker(sqlite_url)
    wait_for(
        lambda: statuses(sqlite_db) == {"sent": 1},
        "the reminder SENT by the second worker",
        [second],
        START_TIMEOUT_S + SEND_TIMEOUT_S,
    )
    wait_ticks(second, EXTRA_TICKS)
    stop_cleanly(second)

    assert fake_twilio.sends_of(phone_of(0), sms_body(start, sqlite_db, 0)) == 1
    assert len(fake_twilio.sent) == 1
    reminder = ReminderRepository(sqlite_db).get(rid)
    assert reminder is not None and reminder.sent_at is not None
    assert reminder.sent_at >= due_at


@pytest.mark.parametrize("answered", [True, False], ids=["answer-stored", "answer-lost"])
def test_worker_killed_just_after_a_send_the_next_one_does_not_send_again(
    answered: bool,
    sqlite_url: str,
    sqlite_db: Database,
    start_worker: StartWorker,
    fake_twilio: HoldingTwilio,
) -> None:
    """Killed once the send is recorded, or after Twilio took the message but before its
    answer came back (the row still claimed): either way the next worker sends nothing.
    """
    fake_twilio.holding = not answered
    start = meeting_start()
    [rid] = seed_sms_reminders(
        sqlite_db, 1, due_at=datetime.now(UTC) - timedelta(minutes=1), meeting_start=start
    )
    first = start_worker(sqlite_url)
    wait_for(
        lambda: statuses(sqlite_db) == {"sent": 1} if answered else len(fake_twilio.sent) == 1,
        "the first worker's send",
        [first],
        START_TIMEOUT_S + SEND_TIMEOUT_S,
    )
    first.kill9()
    assert statuses(sqlite_db) == ({"sent": 1} if answered else {"sending": 1})

    second = start_worker(sqlite_url)
    wait_started(second)
    wait_ticks(second, EXTRA_TICKS)
    stop_cleanly(second)

    assert fake_twilio.sends_of(phone_of(0), sms_body(start, sqlite_db, 0)) == 1
    assert len(fake_twilio.sent) == 1
    after = ReminderRepository(sqlite_db).get(rid)
    assert after is not None and after.attempts == 1
    if answered:
        assert after.status == ReminderStatus.SENT
    else:
        # The dead worker's claim still runs: only once its lease has run out is the
        # reminder taken over, and then Twilio is asked first whether it went out.
        assert after.status == ReminderStatus.SENDING
        assert after.lease_until is not None and after.lease_until > datetime.now(UTC)


def test_sigterm_in_the_middle_of_a_batch_loses_nothing(
    sqlite_url: str, sqlite_db: Database, start_worker: StartWorker, fake_twilio: FakeTwilio
) -> None:
    count = 30
    start = meeting_start()
    ids = seed_sms_reminders(
        sqlite_db, count, due_at=datetime.now(UTC) - timedelta(minutes=1), meeting_start=start
    )
    for _ in range(count):
        fake_twilio.delay_next(0.1)  # one batch takes 3 s: long enough to stop it midway
    first = start_worker(sqlite_url)
    wait_for(
        lambda: len(fake_twilio.sent) >= 5,
        "the first worker's fifth send",
        [first],
        START_TIMEOUT_S + SEND_TIMEOUT_S,
    )
    stop_cleanly(first)

    sent_before = len(fake_twilio.sent)
    assert 5 <= sent_before < count
    # The send in progress was finished and recorded; the rest of the claimed batch went
    # back to the table untouched (not counted as an attempt), none left claimed.
    assert statuses(sqlite_db) == {"sent": sent_before, "pending": count - sent_before}
    released = sum(ticks.get("released", 0) for ticks in first.reminder_ticks())
    assert released == count - sent_before
    repository = ReminderRepository(sqlite_db)
    rows = [repository.get(rid) for rid in ids]
    assert all(r is not None and r.attempts == 0 for r in rows if r and r.status == "pending")

    second = start_worker(sqlite_url)
    wait_for(
        lambda: statuses(sqlite_db) == {"sent": count},
        f"all {count} reminders SENT",
        [second],
        START_TIMEOUT_S + SEND_TIMEOUT_S,
    )
    stop_cleanly(second)

    assert len(fake_twilio.sent) == count
    assert all(
        fake_twilio.sends_of(phone_of(i), sms_body(start, sqlite_db, i)) == 1 for i in range(count)
    )


# -- serve runs the scheduler too, and stops it on SIGTERM ---------------------------------


def test_serve_sends_due_reminders_and_stops_its_scheduler_on_sigterm(
    sqlite_db: Database, start_worker: StartWorker, fake_twilio: FakeTwilio
) -> None:
    start = meeting_start()
    seed_sms_reminders(sqlite_db, 3, due_at=datetime.now(UTC), meeting_start=start)
    server = start_worker(sqlite_db.url, command=("serve", "--port", str(free_port())))
    wait_started(server)
    wait_for(lambda: len(fake_twilio.sent) == 3, "3 sends", [server], START_TIMEOUT_S)

    server.terminate()
    code = server.wait_exit()
    # uvicorn finishes its graceful shutdown (the app's, with the scheduler's), then
    # re-raises SIGTERM: either exit is clean.
    assert code in (0, -signal.SIGTERM), server.tail()
    assert server.logged(STOPPED) == 1, server.tail()
    assert statuses(sqlite_db) == {"sent": 3}


def test_worker_serves_its_counters_on_the_metrics_port(
    sqlite_db: Database, start_worker: StartWorker, fake_twilio: FakeTwilio
) -> None:
    """With `serve --no-scheduler`, the reminder counters live in the worker: it serves
    them itself, with the database's gauges.
    """
    start = meeting_start()
    seed_sms_reminders(sqlite_db, 2, due_at=datetime.now(UTC), meeting_start=start)
    port = free_port()
    worker = start_worker(sqlite_db.url, command=("worker", "--metrics-port", str(port)))
    wait_for(lambda: len(fake_twilio.sent) == 2, "2 sends", [worker], START_TIMEOUT_S)
    wait_for(lambda: statuses(sqlite_db) == {"sent": 2}, "2 recorded", [worker], SEND_TIMEOUT_S)
    # Twilio is real here, so the metrics need the scrape token (SPEC §9).
    scrape = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 401
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", headers=scrape, timeout=5).text
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert (
        samples[("frontdesk_reminder_sends_total", (("channel", "sms"), ("result", "sent")))] == 2
    )
    assert samples[("frontdesk_reminders", (("channel", "sms"), ("status", "sent")))] == 2
    assert samples[("frontdesk_database_up", ())] == 1
    worker.terminate()
    assert worker.wait_exit() == 0, worker.tail()
