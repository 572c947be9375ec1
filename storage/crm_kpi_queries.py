"""The CRM's figures for `frontdesk report` (SPEC §12): tickets opened for the requests of a
period and how long after the request each was opened; and, per route, the requests whose
client is a CRM contact, how many of them won a deal within the conversion window, and for
how much. Columns are declared here, not taken from storage.models, like kpi_queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Float, bindparam, column, func, select, table

from storage.db import Database
from storage.kpi_queries import has_rows, nearest_rank
from storage.statuses import RequestStatus, TicketStatus
from storage.types import UTCDateTime

_AT = UTCDateTime()
REQUESTS = table("booking_request", column("id"), column("status"), column("received_at", _AT))
TICKETS = table(
    "crm_ticket",
    column("request_id"),
    column("kind"),
    column("status"),
    column("opened_at", _AT),
)
CONVERSIONS = table(
    "crm_conversion",
    column("request_id"),
    column("contact_id"),
    column("won"),
    column("amount", Float),
)
ROUTES = {
    RequestStatus.BOOKED_AUTO: "auto",
    RequestStatus.ESCALATED_VIP: "vip",
    RequestStatus.ESCALATED_MANUAL_REVIEW: "review",
    RequestStatus.ESCALATED_ON_ERROR: "error",
}


@dataclass(frozen=True)
class TicketFigures:
    opened: int  # tickets the CRM holds (open or closed since)
    pending: int  # not opened yet (the CRM was down, or is being retried)
    failed: int  # refused for good: a person must look
    opened_by_kind: dict[str, int]
    to_ticket_p50: float | None  # seconds from the request to its ticket
    to_ticket_p90: float | None
    to_ticket_max: float | None


@dataclass(frozen=True)
class RouteConversion:
    requests: int  # requests of the route whose client is a CRM contact
    won: int  # … of which won a deal within the window
    amount: float  # the won deals' amounts

    @property
    def rate(self) -> float | None:
        return self.won / self.requests if self.requests else None


class CrmKpiQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    def tickets(self, since: datetime, until: datetime) -> TicketFigures:
        """The tickets of the requests received in [since, until)."""
        t, r = TICKETS.c, REQUESTS.c
        statement = (
            select(t.kind, t.status, t.opened_at, r.received_at)
            .select_from(TICKETS.join(REQUESTS, r.id == t.request_id))
            .where(
                r.received_at >= bindparam("since", type_=_AT),
                r.received_at < bindparam("until", type_=_AT),
            )
        )
        with self.db.connection() as conn:
            rows = (
                conn.execute(statement, {"since": since, "until": until}).all()
                if has_rows(conn, TICKETS)
                else []
            )
        opened = [row for row in rows if row.opened_at is not None]
        by_kind: dict[str, int] = {}
        for row in opened:
            by_kind[row.kind] = by_kind.get(row.kind, 0) + 1
        delays = sorted(
            max(0.0, (row.opened_at - row.received_at).total_seconds()) for row in opened
        )
        return TicketFigures(
            opened=len(opened),
            pending=sum(row.status == TicketStatus.PENDING for row in rows),
            failed=sum(row.status == TicketStatus.FAILED for row in rows),
            opened_by_kind=by_kind,
            to_ticket_p50=round(nearest_rank(delays, 50), 1) if delays else None,
            to_ticket_p90=round(nearest_rank(delays, 90), 1) if delays else None,
            to_ticket_max=round(delays[-1], 1) if delays else None,
        )

    def deal_conversion(self, since: datetime, until: datetime) -> dict[str, RouteConversion]:
        """Per route, the requests received in [since, until) whose client the CRM knows,
        those that won a deal within the window, and the amount won.
        """
        c, r = CONVERSIONS.c, REQUESTS.c
        statement = (
            select(
                r.status,
                func.count(),
                func.count().filter(c.won.is_(True)),
                func.coalesce(func.sum(c.amount).filter(c.won.is_(True)), 0.0),
            )
            .select_from(CONVERSIONS.join(REQUESTS, r.id == c.request_id))
            .where(
                c.contact_id.is_not(None),
                r.status.in_(list(ROUTES)),
                r.received_at >= bindparam("since", type_=_AT),
                r.received_at < bindparam("until", type_=_AT),
            )
            .group_by(r.status)
        )
        found = {route: RouteConversion(0, 0, 0.0) for route in ROUTES.values()}
        with self.db.connection() as conn:
            if not has_rows(conn, CONVERSIONS):
                return found
            for status, requests, won, amount in conn.execute(
                statement, {"since": since, "until": until}
            ):
                found[ROUTES[RequestStatus(status)]] = RouteConversion(
                    int(requests), int(won), float(amount)
                )
        return found
