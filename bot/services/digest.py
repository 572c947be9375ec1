"""The weekly digest (SPEC §7): every Monday from 09:00 in the business zone, last week's
KPIs against the week before are posted to the escalation channel, once.

The outbox key `slack:digest:<Monday>` is the claim, as for SLA re-pings (bot/sla.py): of
several schedulers one posts, and a later tick finds the key sent and does nothing. A
digest missed while no process ran is posted late, within CATCH_UP of its time; later
than that it would read as news about the wrong week, so it is skipped.

A post Slack refuses is tried again, but not on every tick: try n (0-based) may start only
RETRY_STEP * (2**n - 1) after the digest fell due (0, 5, 15, 35, 75, 155 min), so a Slack
outage of a few minutes at 09:00 costs a few minutes, not the week's digest; after
DIGEST_TRIES failed tries it is given up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from bot.domain.config import Config
from bot.messages.crm_blocks import deal_conversion_blocks
from bot.messages.kpi_blocks import digest_blocks, digest_text
from bot.reports.kpis import Kpis, compute_kpis, local_day_start
from bot.services.sla import failed_tries
from bot.services.telemetry import count_integration_error
from integrations.base import Chat, IntegrationError
from storage.crm_kpi_queries import CrmKpiQueries
from storage.kpi_queries import KpiQueries
from storage.models import utcnow
from storage.repositories import OutboxRepository
from storage.repositories.outbox import DELIVERED

log = logging.getLogger("frontdesk.digest")

DIGEST_TIME = time(9, 0)  # Monday, in the business zone
CATCH_UP = timedelta(hours=24)
# Failed tries back off exponentially from the due time; the sixth and last starts at
# +155 min, well inside CATCH_UP.
DIGEST_TRIES = 6
RETRY_STEP = timedelta(minutes=5)
NOT_POSTED = "weekly digest NOT posted; a later tick tries again"
GAVE_UP = "gave up the weekly digest: Slack kept refusing it"
DIGEST_PERIOD = "last week"


def due_at(monday: date, config: Config) -> datetime:
    """When the digest of the week starting `monday` falls due, as a UTC instant (09:00
    local is 13:00 or 14:00 UTC in New York depending on DST; zoneinfo knows which).
    """
    return datetime.combine(monday, DIGEST_TIME, config.zone).astimezone(UTC)


def digest_due(now: datetime, config: Config) -> date | None:
    """The Monday whose digest may be posted at `now`, or None outside every window."""
    local = now.astimezone(config.zone).date()
    monday = local - timedelta(days=local.weekday())
    due = due_at(monday, config)
    return monday if due <= now < due + CATCH_UP else None


def try_from(due: datetime, failures: int) -> datetime:
    """When the try after `failures` failed ones may start."""
    return due + RETRY_STEP * ((1 << failures) - 1)


def dedupe_key(monday: date) -> str:
    return f"slack:digest:{monday.isoformat()}"


class WeeklyDigest:
    def __init__(
        self,
        config: Config,
        queries: KpiQueries,
        chat: Chat,
        outbox: OutboxRepository,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.queries = queries
        self.chat = chat
        self.outbox = outbox
        self.clock = clock

    def tick(self, stop: threading.Event | None = None) -> dict[str, int]:
        """Post this week's digest if it is due and not posted yet: {"posted", "failed"}.

        Most ticks end at the outbox look-up; the KPIs are computed only when a post is
        about to be tried.
        """
        counts = {"posted": 0, "failed": 0}
        now = self.clock()
        monday = digest_due(now, self.config)
        if monday is None or (stop is not None and stop.is_set()):
            return counts
        key = dedupe_key(monday)
        earlier = self.outbox.get(key)
        if earlier is not None and earlier.status in DELIVERED:
            return counts
        failures = failed_tries(earlier)
        if failures >= DIGEST_TRIES:
            return counts  # given up, and logged when it was
        if now < try_from(due_at(monday, self.config), failures):
            return counts  # backing off after a failed try
        week, before = self.weeks(monday, now)
        zone = self.config.zone
        blocks = [block.to_dict() for block in digest_blocks(week, before, zone)]
        if self.config.crm is not None:  # won deals per route, from the CRM (SPEC §12)
            conversion = CrmKpiQueries(self.queries.db).deal_conversion(week.since, week.until)
            blocks += [b.to_dict() for b in deal_conversion_blocks(DIGEST_PERIOD, conversion)]
        extra = {"week": monday.isoformat()}
        try:
            self.chat.post_message(
                self.config.slack.escalation_channel,
                digest_text(week, before, zone),
                blocks,
                dedupe_key=key,
            )
        except IntegrationError as exc:
            if exc.posting_elsewhere:
                return counts
            count_integration_error(exc)
            self._failed(key, extra, exc.message)
            counts["failed"] = 1
            return counts
        except Exception as exc:  # any failure: log it, and let a later tick try again
            self._failed(key, extra, repr(exc))
            counts["failed"] = 1
            return counts
        log.info("weekly digest posted", extra=extra)
        counts["posted"] = 1
        return counts

    def weeks(self, monday: date, now: datetime) -> tuple[Kpis, Kpis]:
        """The KPIs of the week that ended at `monday` 00:00 local, and of the week before."""
        zone = self.config.zone
        ends = [local_day_start(monday - timedelta(days=7 * n), zone) for n in (0, 1, 2)]

        def kpis(since: datetime, until: datetime) -> Kpis:
            return compute_kpis(
                self.queries,
                since.astimezone(UTC),
                until.astimezone(UTC),
                now=now,
                sla_minutes=self.config.slack.sla_minutes,
            )

        return kpis(ends[1], ends[0]), kpis(ends[2], ends[1])

    def _failed(self, key: str, extra: dict[str, str], error: str) -> None:
        # Read again: the failure just made is counted on the row now.
        given_up = failed_tries(self.outbox.get(key)) >= DIGEST_TRIES
        log.error(GAVE_UP if given_up else NOT_POSTED, extra={**extra, "error": error})
