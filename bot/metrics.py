"""What `GET /metrics` exposes (SPEC §7), in Prometheus text format.

Two kinds of metric, read differently: gauges counted from the database at scrape time,
the same on every replica (take `max()` across them), and `_total` counters of what this
process did since it started (take `sum(rate())`). Nothing here touches prometheus_client's
global registry, so any number of apps can live in one process (the tests).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.services.telemetry import BOOKING_PAGE_SPAM, INTEGRATION_ERRORS, REMINDER_SENDS
from storage.db import Database
from storage.models import EscalationKind, ReminderChannel, ReminderStatus, RequestStatus
from storage.repositories.metrics_queries import MetricsQueries, MetricsSnapshot

log = logging.getLogger("frontdesk.metrics")


class DatabaseCollector(Collector):
    """Counts read from the database on each scrape. A database that cannot answer gives
    `frontdesk_database_up 0` (and no counts) rather than a failed scrape.
    """

    def __init__(self, db: Database) -> None:
        self.queries = MetricsQueries(db)

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "frontdesk_database_up", "1 when the database answered this scrape's queries."
        )
        try:
            snapshot = self.queries.snapshot()
        except Exception as exc:
            log.warning("metrics could not read the database", extra={"error": repr(exc)})
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _gauges(snapshot)


def _gauges(snapshot: MetricsSnapshot) -> Iterator[Metric]:
    requests = GaugeMetricFamily(
        "frontdesk_requests", "Requests ever received, by current status.", labels=["status"]
    )
    for status, count in _every(RequestStatus, snapshot.requests):
        requests.add_metric([status], count)
    yield requests
    for name, help_text, counts in (
        ("open", "Escalations not yet resolved, by kind.", snapshot.escalations_open),
        (
            "unclaimed",
            "Unresolved escalations nobody has claimed, by kind.",
            snapshot.escalations_unclaimed,
        ),
        (
            "undelivered",
            "Unresolved escalations never posted to Slack, by kind.",
            snapshot.escalations_undelivered,
        ),
    ):
        gauge = GaugeMetricFamily(f"frontdesk_escalations_{name}", help_text, labels=["kind"])
        for kind, count in _every(EscalationKind, counts):
            gauge.add_metric([kind], count)
        yield gauge
    reminders = GaugeMetricFamily(
        "frontdesk_reminders", "Reminders by channel and status.", labels=["channel", "status"]
    )
    known = [
        (channel.value, status.value) for channel in ReminderChannel for status in ReminderStatus
    ]
    for key in [*known, *sorted(set(snapshot.reminders) - set(known))]:
        reminders.add_metric(list(key), snapshot.reminders.get(key, 0))
    yield reminders


def _every(values: Iterable[str], counts: dict[str, int]) -> list[tuple[str, int]]:
    """Every known value with its count (0 when none), then any value the code no longer
    knows but the database still holds, so a total always adds up.
    """
    known = [str(value) for value in values]
    extra = sorted(set(counts) - set(known))
    return [(value, counts.get(value, 0)) for value in [*known, *extra]]


def build_registry(db: Database) -> CollectorRegistry:
    """The registry one scrape reads: the database's counts and this process's counters."""
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(db))
    registry.register(INTEGRATION_ERRORS)
    registry.register(REMINDER_SENDS)
    registry.register(BOOKING_PAGE_SPAM)
    return registry
