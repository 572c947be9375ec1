"""The counts `GET /metrics` reads at scrape time: a few GROUP BY aggregates over indexed
columns, so every replica reports the same numbers and a restart loses none.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from storage.db import Database
from storage.models import BookingRequest, Escalation, Reminder
from storage.repositories._sql import table

REQUESTS = table(BookingRequest)
ESCALATIONS = table(Escalation)
REMINDERS = table(Reminder)


# Built once: they take no parameters. booking_request.status and escalation.resolved_at
# are indexed; reminders (one or two per booking) are counted over the whole table.
_REQUESTS_BY_STATUS = select(REQUESTS.c.status, func.count()).group_by(REQUESTS.c.status)
_OPEN_ESCALATIONS = (
    select(
        ESCALATIONS.c.kind,
        func.count(),
        func.count().filter(ESCALATIONS.c.claimed_at.is_(None)),
        func.count().filter(ESCALATIONS.c.notified_at.is_(None)),
    )
    .where(ESCALATIONS.c.resolved_at.is_(None))
    .group_by(ESCALATIONS.c.kind)
)
_REMINDERS_BY_STATUS = select(REMINDERS.c.channel, REMINDERS.c.status, func.count()).group_by(
    REMINDERS.c.channel, REMINDERS.c.status
)


@dataclass(frozen=True)
class MetricsSnapshot:
    requests: dict[str, int]  # status -> all-time count
    escalations_open: dict[str, int]  # kind -> not resolved
    escalations_unclaimed: dict[str, int]  # kind -> not resolved, nobody claimed it
    escalations_undelivered: dict[str, int]  # kind -> not resolved, never reached Slack
    reminders: dict[tuple[str, str], int]  # (channel, status) -> count


class MetricsQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    def snapshot(self) -> MetricsSnapshot:
        with self.db.connection() as conn:
            requests = {status: count for status, count in conn.execute(_REQUESTS_BY_STATUS)}
            open_, unclaimed, undelivered = {}, {}, {}
            for kind, total, not_claimed, not_notified in conn.execute(_OPEN_ESCALATIONS):
                open_[kind] = total
                unclaimed[kind] = int(not_claimed)
                undelivered[kind] = int(not_notified)
            reminders = {
                (channel, status): count
                for channel, status, count in conn.execute(_REMINDERS_BY_STATUS)
            }
        return MetricsSnapshot(requests, open_, unclaimed, undelivered, reminders)
