"""Kpis built by hand for the tests of what shows them (KPI blocks, the Home tab): only
the figures a test names, everything else zero.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.reports.kpis import Kpis, Meetings
from storage.kpi_queries import EscalationFigures

SINCE = datetime(2026, 11, 16, 5, 0, tzinfo=UTC)  # Mon 16 Nov 00:00 EST


def kpis(
    auto: int = 0,
    *,
    review: int = 0,
    vip: int = 0,
    escalations: dict[str, EscalationFigures] | None = None,
    meetings: dict[str, Meetings] | None = None,
    in_progress: int = 0,
    since: datetime = SINCE,
    days: int = 7,
) -> Kpis:
    """`days` from `since`, as of their end: `auto`, `review` and `vip` finished requests."""
    until = since + timedelta(days=days)
    return Kpis(
        since=since,
        until=until,
        as_of=until,
        sla_minutes=15,
        requests=auto + review + vip,
        in_progress=in_progress,
        by_route={"auto": auto, "vip": vip, "review": review, "error": 0},
        escalations=escalations or {},
        meetings=meetings or {"auto": Meetings(), "human": Meetings()},
        weeks=(),
    )
