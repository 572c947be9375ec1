"""Pure Block Kit builders for the CRM's revenue figures (SPEC §12): won-deal conversion and
revenue per route, for the Home tab and the weekly digest.
"""

from __future__ import annotations

from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock

from bot.reports.report import percent
from storage.crm_kpi_queries import RouteConversion

DEAL_CONVERSION_HEADING = "*Won deals after the request* ({period}, clients the CRM knows)"
ROUTE_LABELS = {"auto": "Auto-booked", "vip": "VIP", "review": "Review", "error": "Error"}
ROUTE_FIELD = "*{label}*\n{rate} ({won} of {requests}) · {amount}"


def money(amount: float) -> str:
    """An amount in the CRM's currency, which Frontdesk does not know: no symbol."""
    return f"{amount:,.0f}"


def deal_conversion_blocks(period: str, conversion: dict[str, RouteConversion]) -> list[Block]:
    """One section: the heading and a field per route."""
    fields = [
        MarkdownTextObject(
            text=ROUTE_FIELD.format(
                label=ROUTE_LABELS.get(route, route),
                rate=percent(figures.rate, 0),
                won=figures.won,
                requests=figures.requests,
                amount=money(figures.amount),
            )
        )
        for route, figures in conversion.items()
    ]
    heading = MarkdownTextObject(text=DEAL_CONVERSION_HEADING.format(period=period))
    return [SectionBlock(text=heading, fields=fields)]
