"""Background jobs (APScheduler 3). Every job is safe to run on several replicas at once:
the work it picks up is claimed in the database first.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from bot.app import Components
from bot.processing import RequestProcessor
from storage.models import utcnow

log = logging.getLogger("frontdesk.scheduler")

RECOVERY_INTERVAL_SECONDS = 30
REDELIVERY_INTERVAL_SECONDS = 60
REDELIVERY_AFTER_SECONDS = 60  # younger ones may still be on their first attempt
INTERACTION_MEMORY = timedelta(days=1)  # Slack retries within minutes
# Far beyond any completion's retries: a hold this old was abandoned by a dead process.
ABANDONED_HOLD = timedelta(minutes=10)


def _recover(processor: RequestProcessor) -> None:
    recovered = processor.recover()
    if recovered:
        log.warning("finished requests left unfinished", extra={"count": recovered})


def upkeep(components: Components) -> None:
    """Every minute: escalations Slack has not seen yet are posted again (oldest first),
    old Slack dedupe keys are dropped, holds abandoned by a dead process are released, and
    broken connections an admin may have fixed meanwhile are probed.
    """
    cutoff = components.clock() - timedelta(seconds=REDELIVERY_AFTER_SECONDS)
    for escalation in components.escalations.undelivered(cutoff):
        request = components.requests.get(escalation.request_id)
        if request is not None:
            components.escalator.redeliver(request, escalation)
    components.interactions.forget_before(cutoff - INTERACTION_MEMORY)
    # Real time: whether a process is still at it, not the business clock.
    abandoned = components.bookings.release_abandoned(utcnow() - ABANDONED_HOLD)
    if abandoned:
        log.warning("released holds whose booking never finished", extra={"count": abandoned})
    components.health.heal(components.integrations.calendars)


def build_scheduler(components: Components, *, blocking: bool = False) -> BaseScheduler:
    processor = components.processor
    scheduler: BaseScheduler = (
        BlockingScheduler(timezone="UTC") if blocking else BackgroundScheduler(timezone="UTC")
    )
    scheduler.add_job(
        _recover,
        "interval",
        args=[processor],
        seconds=RECOVERY_INTERVAL_SECONDS,
        id="recover_unfinished",
        coalesce=True,
        max_instances=1,
    )
    scheduler.add_job(
        upkeep,
        "interval",
        args=[components],
        seconds=REDELIVERY_INTERVAL_SECONDS,
        id="upkeep",
        coalesce=True,
        max_instances=1,
    )
    return scheduler
