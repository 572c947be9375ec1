"""The scheduler's wiring, apart from the work it triggers (tested directly elsewhere):
which jobs run how often, that a missed run is run late rather than dropped, that each
run is logged with its counts, and that shutdown waits for a running job.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from types import SimpleNamespace
from typing import Any, cast

import pytest

from bot.components import Components
from bot.scheduler import (
    RECOVERY_INTERVAL_SECONDS,
    REDELIVERY_INTERVAL_SECONDS,
    Jobs,
    Scheduler,
    build_scheduler,
)


class Ticker:
    def __init__(self, counts: dict[str, int] | None = None) -> None:
        self.counts = counts or {}
        self.calls = 0
        self.stops: list[Any] = []

    def tick(self, stop: Any = None) -> Counter[str]:
        self.calls += 1
        self.stops.append(stop)
        return Counter(self.counts)


def components(tick_seconds: float = 30.0) -> Components:
    namespace = SimpleNamespace(
        settings=SimpleNamespace(frontdesk_tick_seconds=tick_seconds),
        dispatcher=Ticker({"sent": 3, "skipped": 0}),
        sla=Ticker({"pinged": 1}),
        outcomes=Ticker(),
        digest=Ticker({"posted": 1}),
        tickets=None,  # no [crm]: no deal conversion job
    )
    return cast(Components, namespace)


def test_every_job_is_registered_to_run_late_rather_than_be_dropped() -> None:
    scheduler = build_scheduler(components(tick_seconds=12))
    scheduler.scheduler.start(paused=True)  # jobs get their defaults when added to a store
    try:
        jobs = {job.id: job for job in scheduler.scheduler.get_jobs()}
    finally:
        scheduler.scheduler.shutdown(wait=False)
    assert set(jobs) == {
        "reminders",
        "sla_pings",
        "outcome_prompts",
        "weekly_digest",
        "recover_unfinished",
        "upkeep",
    }
    intervals = {name: job.trigger.interval.total_seconds() for name, job in jobs.items()}
    assert intervals == {
        "reminders": 12,
        "sla_pings": 12,
        "outcome_prompts": 12,
        "weekly_digest": 12,
        "recover_unfinished": RECOVERY_INTERVAL_SECONDS,
        "upkeep": REDELIVERY_INTERVAL_SECONDS,
    }
    for job in jobs.values():
        # APScheduler's default grace of 1 s would drop a run missed while busy or asleep.
        assert job.misfire_grace_time is None
        assert job.coalesce is True and job.max_instances == 1


def test_each_run_is_logged_with_its_counts(caplog: pytest.LogCaptureFixture) -> None:
    parts = components()
    jobs = Jobs(parts, tick_seconds=30)
    plan = {name: job for name, _, job in jobs.plan()}
    with caplog.at_level(logging.INFO, logger="frontdesk.scheduler"):
        jobs.run("reminders", plan["reminders"])
    (record,) = [r for r in caplog.records if r.getMessage() == "job ran"]  # one so far
    assert record.job == "reminders"  # type: ignore[attr-defined]
    assert record.counts == {"sent": 3}  # type: ignore[attr-defined]
    assert record.duration_ms >= 0  # type: ignore[attr-defined]
    # Each tick is handed the stop flag, so a shutdown can interrupt a batch.
    jobs.run("sla_pings", plan["sla_pings"])
    jobs.run("outcome_prompts", plan["outcome_prompts"])
    jobs.run("weekly_digest", plan["weekly_digest"])
    for ticker in (parts.dispatcher, parts.sla, parts.outcomes, parts.digest):
        assert ticker.stops == [jobs._stopping]  # type: ignore[attr-defined]


def test_an_idle_run_is_silent_at_info_and_kept_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    parts = components()
    jobs = Jobs(parts, tick_seconds=30)
    plan = {name: job for name, _, job in jobs.plan()}
    with caplog.at_level(logging.INFO, logger="frontdesk.scheduler"):
        jobs.run("outcome_prompts", plan["outcome_prompts"])  # nothing due
        jobs.run("sla_pings", plan["sla_pings"])  # one ping
    assert [(r.getMessage(), r.job) for r in caplog.records] == [  # type: ignore[attr-defined]
        ("job ran", "sla_pings")
    ]
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="frontdesk.scheduler"):
        jobs.run("outcome_prompts", plan["outcome_prompts"])
    (idle,) = caplog.records
    assert idle.levelno == logging.DEBUG and idle.counts == {}  # type: ignore[attr-defined]


def test_a_failing_job_is_logged_and_does_not_stop_the_scheduler(
    caplog: pytest.LogCaptureFixture,
) -> None:
    jobs = Jobs(components(), tick_seconds=30)

    def broken() -> dict[str, int]:
        raise RuntimeError("database went away")

    with caplog.at_level(logging.ERROR, logger="frontdesk.scheduler"):
        jobs.run("sla_pings", broken)
    assert [r.getMessage() for r in caplog.records] == [
        "job failed; it runs again at its next interval"
    ]


def test_no_run_starts_once_stopping() -> None:
    parts = components()
    jobs = Jobs(parts, tick_seconds=30)
    jobs.stop()
    jobs.run("sla_pings", parts.sla.tick)
    assert parts.sla.calls == 0  # type: ignore[attr-defined]


class SlowJobs(Jobs):
    """One job that takes a while, so shutdown has something to wait for."""

    def __init__(self) -> None:
        super().__init__(components(), tick_seconds=0.05)
        self.started = threading.Event()
        self.finished = threading.Event()

    def plan(self) -> list[Any]:
        def slow() -> dict[str, int]:
            self.started.set()
            time.sleep(0.3)
            self.finished.set()
            return {"done": 1}

        return [("slow", 0.05, slow)]


def test_shutdown_waits_for_the_running_job_to_finish() -> None:
    jobs = SlowJobs()
    scheduler = Scheduler(jobs)
    scheduler.start()
    assert jobs.started.wait(5)
    scheduler.shutdown()
    assert jobs.finished.is_set()
    assert not scheduler.scheduler.running
