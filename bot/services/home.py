"""The App Home tab's content for one viewer: their open escalations (with links), the
queue's size, the KPIs of the last 7 and 30 days and every rep's calendar connection.
"""

from __future__ import annotations

import logging
from typing import Protocol

from slack_sdk.models.views import View

from bot.messages.home import home_view
from bot.reports.dashboard import Dashboard, Period
from integrations.base import Chat, IntegrationError
from storage.crm_kpi_queries import RouteConversion
from storage.models import StoredEscalation
from storage.repositories import EscalationRepository, RequestRepository

log = logging.getLogger("frontdesk.home")


class _HasDashboard(Protocol):
    @property
    def dashboard(self) -> Dashboard: ...


class HomeTab:
    def __init__(
        self,
        dashboard: Dashboard,
        escalations: EscalationRepository,
        requests: RequestRepository,
        chat: Chat,
    ) -> None:
        self.dashboard = dashboard
        self.escalations = escalations
        self.requests = requests
        self.chat = chat

    def view_for(self, user: str) -> View:
        mine = []
        for escalation in self.escalations.open_for(user):
            request = self.requests.get(escalation.request_id)
            link = permalink(self.chat, escalation)
            mine.append((escalation, request.name if request else "?", link))
        open_count, unclaimed = self.escalations.count_open()
        return home_view(
            mine,
            open_count,
            unclaimed,
            recent_kpis(self),
            self.dashboard.rep_connections(),
            recent_conversion(self),
        )


def permalink(chat: Chat, escalation: StoredEscalation) -> str | None:
    """The escalation message's link, or None: a deleted message or a channel the bot has
    left costs that one line its link (the request id shows instead), not the whole tab.
    """
    if not (escalation.channel and escalation.message_ts):
        return None
    try:
        return chat.permalink(escalation.channel, escalation.message_ts)
    except IntegrationError as exc:
        log.warning(
            "no permalink for the Home tab",
            extra={"request_id": escalation.request_id, "error": str(exc)},
        )
        return None


def recent_kpis(services: _HasDashboard) -> list[Period] | None:
    """The Home tab's KPI periods, or None when computing them failed (logged): the rest
    of the tab is still worth publishing.
    """
    try:
        return services.dashboard.recent()
    except Exception:
        log.exception("KPIs for the Home tab failed")
        return None


def recent_conversion(services: _HasDashboard) -> dict[str, RouteConversion] | None:
    """Won deals per route for the Home tab; None without a CRM, or when it failed (logged)."""
    try:
        return services.dashboard.deal_conversion()
    except Exception:
        log.exception("deal conversion for the Home tab failed")
        return None
