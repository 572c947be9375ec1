"""Background jobs (APScheduler 3). Every job is safe to run on several replicas at once:
the work it picks up is claimed in the database first.
"""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from bot.processing import RequestProcessor

log = logging.getLogger("frontdesk.scheduler")

RECOVERY_INTERVAL_SECONDS = 30


def _recover(processor: RequestProcessor) -> None:
    recovered = processor.recover()
    if recovered:
        log.warning("finished requests left unfinished", extra={"count": recovered})


def build_scheduler(processor: RequestProcessor, *, blocking: bool = False) -> BaseScheduler:
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
    return scheduler
