"""Background jobs (APScheduler 3). Every job is safe to run on several replicas at once:
the work it picks up is claimed in the database first. The database, not APScheduler's
job store, is what makes the work durable: jobs here are only clocks that look at it.

Jobs are interval jobs with `misfire_grace_time=None` and `coalesce=True`: a run missed
while the process was busy or asleep runs once, late, instead of being dropped with a
warning (APScheduler's default grace is one second).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from bot.components import Components
from bot.services.conversion import CONVERSION_INTERVAL_SECONDS, DealConversions
from storage.models import utcnow

log = logging.getLogger("frontdesk.scheduler")

RECOVERY_INTERVAL_SECONDS = 30
REDELIVERY_INTERVAL_SECONDS = 60
REDELIVERY_AFTER_SECONDS = 60  # younger ones may still be on their first attempt
INTERACTION_MEMORY = timedelta(days=1)  # Slack retries within minutes
# Far beyond any completion's retries: a hold this old was abandoned by a dead process.
ABANDONED_HOLD = timedelta(minutes=10)


def upkeep(components: Components) -> dict[str, int]:
    """Every minute: escalations Slack has not seen yet are posted again (oldest first),
    old Slack dedupe keys are dropped, holds abandoned by a dead process are released,
    broken connections an admin may have fixed meanwhile are probed, and clients' moves a
    dead process left half done are finished.
    """
    cutoff = components.clock() - timedelta(seconds=REDELIVERY_AFTER_SECONDS)
    redelivered = 0
    for escalation in components.escalations.undelivered(cutoff):
        request = components.requests.get(escalation.request_id)
        if request is not None and components.escalator.redeliver(request, escalation):
            redelivered += 1
    components.interactions.forget_before(cutoff - INTERACTION_MEMORY)
    # Real time: whether a process is still at it, not the business clock.
    abandoned = components.bookings.release_abandoned(utcnow() - ABANDONED_HOLD)
    if abandoned:
        log.warning("released holds whose booking never finished", extra={"count": abandoned})
    components.health.heal(components.integrations.calendars)
    counts = {"redelivered": redelivered, "released_holds": abandoned}
    counts["interrupted_moves"] = components.booking_changes.finish_interrupted()
    if components.tickets is not None:  # CRM tickets to retry or close (bot/services/tickets.py)
        counts.update(components.tickets.tick())
    return counts


def _recover(components: Components) -> dict[str, int]:
    recovered = components.processor.recover()
    if recovered:
        log.warning("finished requests left unfinished", extra={"count": recovered})
    return {"recovered": recovered}


class Jobs:
    """The jobs of one process, each run logged with its counts and duration."""

    def __init__(self, components: Components, *, tick_seconds: float) -> None:
        self.components = components
        self.tick_seconds = tick_seconds
        self._stopping = threading.Event()

    def plan(self) -> list[tuple[str, float, Callable[[], Mapping[str, int]]]]:
        """(job id, interval in seconds, what it runs)."""
        c = self.components
        tick = self.tick_seconds
        plan: list[tuple[str, float, Callable[[], Mapping[str, int]]]] = [
            ("reminders", tick, lambda: c.dispatcher.tick(stop=self._stopping)),
            ("sla_pings", tick, lambda: c.sla.tick(stop=self._stopping)),
            ("outcome_prompts", tick, lambda: c.outcomes.tick(stop=self._stopping)),
            ("weekly_digest", tick, lambda: c.digest.tick(stop=self._stopping)),
            ("recover_unfinished", RECOVERY_INTERVAL_SECONDS, lambda: _recover(c)),
            ("upkeep", REDELIVERY_INTERVAL_SECONDS, lambda: upkeep(c)),
        ]
        if c.tickets is not None and c.config.crm is not None:  # revenue from the CRM
            conversions = DealConversions(
                c.tickets.sink,
                c.tickets.tickets,
                conversion_days=c.config.crm.conversion_days,
                clock=c.clock,
            )
            plan.append(
                (
                    "deal_conversion",
                    CONVERSION_INTERVAL_SECONDS,
                    lambda: conversions.tick(stop=self._stopping),
                )
            )
        return plan

    def run(self, name: str, job: Callable[[], Mapping[str, int]]) -> None:
        if self._stopping.is_set():
            return
        started = time.perf_counter()
        try:
            counts = dict(job())
        except Exception:
            log.exception("job failed; it runs again at its next interval", extra={"job": name})
            return
        done = {key: value for key, value in counts.items() if value}
        # An idle tick (nothing due) runs every 30 s on every job: at INFO it would bury
        # the lines that matter, so only runs that did something are logged there.
        log.log(
            logging.INFO if done else logging.DEBUG,
            "job ran",
            extra={
                "job": name,
                "counts": done,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )

    def stop(self) -> None:
        """No new runs start, and a tick in progress stops after its current item."""
        self._stopping.set()


def build_scheduler(components: Components, *, tick_seconds: float | None = None) -> Scheduler:
    seconds = tick_seconds or components.settings.frontdesk_tick_seconds
    return Scheduler(Jobs(components, tick_seconds=seconds))


class Scheduler:
    """APScheduler's BackgroundScheduler running `Jobs`, with a clean shutdown: running
    jobs finish their current item (claimed work left over goes back to the database),
    then the scheduler stops.
    """

    def __init__(self, jobs: Jobs) -> None:
        self.jobs = jobs
        self.scheduler = BackgroundScheduler(
            timezone="UTC",
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        for name, seconds, job in jobs.plan():
            self.scheduler.add_job(
                jobs.run, "interval", args=[name, job], seconds=seconds, id=name, name=name
            )

    @property
    def job_ids(self) -> list[str]:
        return [job.id for job in self.scheduler.get_jobs()]

    def start(self) -> None:
        self.scheduler.start()
        log.info(
            "scheduler started",
            extra={"jobs": self.job_ids, "tick_seconds": self.jobs.tick_seconds},
        )

    def shutdown(self) -> None:
        log.info("scheduler stopping: waiting for running jobs to finish")
        self.jobs.stop()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        log.info("scheduler stopped")

    def run_until_signalled(
        self, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)
    ) -> None:
        """`frontdesk worker`: run until SIGTERM or SIGINT, then shut down cleanly."""
        stop = threading.Event()

        def on_signal(signum: int, _frame: Any) -> None:
            log.info("signal received", extra={"signal": signal.Signals(signum).name})
            stop.set()

        for signum in signals:
            signal.signal(signum, on_signal)
        self.start()
        while not stop.wait(1.0):
            pass
        self.shutdown()
