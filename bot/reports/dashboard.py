"""What the Slack Home tab shows besides the viewer's own work: the KPIs of the last 7 and
30 days (bot/kpis.py) and the state of every configured rep's calendar connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.config import Config
from bot.reports.kpis import Kpis, compute_kpis
from integrations.credentials import GoogleSettings
from integrations.google_oauth import start_url
from storage.crm_kpi_queries import CrmKpiQueries, RouteConversion
from storage.kpi_queries import KpiQueries
from storage.models import utcnow
from storage.repositories import ConnectionRepository
from storage.repositories.connections import Connection

RECENT_PERIODS = (("Last 7 days", 7), ("Last 30 days", 30))


@dataclass(frozen=True)
class Period:
    label: str
    kpis: Kpis


class ConnectionState(StrEnum):
    CONNECTED = "connected"
    BROKEN = "broken"
    NOT_CONNECTED = "not_connected"  # a Google rep who has not consented yet


@dataclass(frozen=True)
class RepConnection:
    rep_email: str
    provider: str
    state: ConnectionState
    reason: str | None = None  # why it is broken
    connect_url: str | None = None  # where a Google rep (re)connects


def rep_connections(
    config: Config, stored: list[Connection], settings: GoogleSettings
) -> list[RepConnection]:
    """Every configured rep, in config order, with the state of their calendar connection.

    Microsoft reps need no consent of their own (the app's client credentials reach every
    mailbox), so they are connected unless a call found the grant broken.
    """
    by_key = {(c.rep_email, c.provider): c for c in stored}
    # Without a public URL there is no link a rep could follow.
    linkable = bool(settings.frontdesk_public_url.rstrip("/"))
    found = []
    for rep in config.reps:
        connection = by_key.get((rep.email, rep.provider))
        url = start_url(settings, rep.email) if rep.provider == "google" and linkable else None
        if connection is not None and connection.broken:
            state, reason = ConnectionState.BROKEN, connection.broken_reason
        elif connection is not None or rep.provider != "google":
            state, reason, url = ConnectionState.CONNECTED, None, None
        else:
            state, reason = ConnectionState.NOT_CONNECTED, None
        found.append(RepConnection(rep.email, rep.provider, state, reason, url))
    return found


class Dashboard:
    def __init__(
        self,
        config: Config,
        queries: KpiQueries,
        connections: ConnectionRepository,
        *,
        settings: GoogleSettings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.queries = queries
        self.connections = connections
        self.settings = settings
        self.clock = clock

    def recent(self) -> list[Period]:
        """The KPIs of the requests received in the last 7 and 30 days, as of now."""
        now = self.clock()
        return [
            Period(
                label,
                compute_kpis(
                    self.queries,
                    now - timedelta(days=days),
                    now,
                    now=now,
                    sla_minutes=self.config.slack.sla_minutes,
                ),
            )
            for label, days in RECENT_PERIODS
        ]

    def deal_conversion(self) -> dict[str, RouteConversion] | None:
        """Won deals per route over the last 30 days' requests; None without a CRM."""
        if self.config.crm is None:
            return None
        now = self.clock()
        return CrmKpiQueries(self.queries.db).deal_conversion(now - timedelta(days=30), now)

    def rep_connections(self) -> list[RepConnection]:
        return rep_connections(self.config, self.connections.all(), self.settings)
