"""The CRM's part of `frontdesk report` (SPEC §12): tickets opened and how soon after the
request, and won-deal conversion and revenue per route, as JSON and as table lines.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.crm_kpi_queries import CrmKpiQueries, RouteConversion, TicketFigures


def crm_json(queries: CrmKpiQueries, since: datetime, until: datetime) -> dict[str, Any]:
    """`tickets` and `deal_conversion` = {route: {requests, won, rate, amount}}."""
    tickets = queries.tickets(since, until)
    conversion = queries.deal_conversion(since, until)
    return {
        "tickets": _tickets_json(tickets),
        "deal_conversion": {route: _route_json(figures) for route, figures in conversion.items()},
    }


def _tickets_json(tickets: TicketFigures) -> dict[str, Any]:
    return {
        "opened": tickets.opened,
        "pending": tickets.pending,
        "failed": tickets.failed,
        "opened_by_kind": tickets.opened_by_kind,
        "time_to_ticket": {
            "p50": tickets.to_ticket_p50,
            "p90": tickets.to_ticket_p90,
            "max": tickets.to_ticket_max,
        },
    }


def _route_json(figures: RouteConversion) -> dict[str, Any]:
    rate = figures.rate
    return {
        "requests": figures.requests,
        "won": figures.won,
        "rate": None if rate is None else round(rate, 4),
        "amount": round(figures.amount, 2),
    }


def crm_lines(report: dict[str, Any]) -> list[str]:
    """The table lines for `crm_json`'s figures."""
    tickets = report["tickets"]
    times = tickets["time_to_ticket"]

    def seconds(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f} s"

    lines = [
        "",
        f"CRM tickets: {tickets['opened']} opened, {tickets['pending']} pending, "
        f"{tickets['failed']} failed; request to ticket p50 {seconds(times['p50'])}, "
        f"p90 {seconds(times['p90'])}, max {seconds(times['max'])}",
        "",
        "deal conversion (CRM contacts)   requests   won    rate        amount",
    ]
    for route, figures in report["deal_conversion"].items():
        rate = "-" if figures["rate"] is None else f"{figures['rate']:.1%}"
        lines.append(
            f"  {route:<30} {figures['requests']:>8} {figures['won']:>5} {rate:>7} "
            f"{figures['amount']:>13,.2f}"
        )
    return lines
