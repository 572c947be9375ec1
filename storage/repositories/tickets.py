"""CRM tickets and deal conversions: one ticket row per escalated request, moved along by
compare-and-sets so that two replicas never act on it at once; and what the CRM said about
each request's deals.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update

from storage.db import Database
from storage.models import (
    BookingRequest,
    CrmTicket,
    DealConversion,
    Escalation,
    RequestStatus,
    StoredTicket,
    TicketStatus,
)
from storage.repositories._sql import insert_ignore, table

TICKETS = table(CrmTicket)
ESCALATIONS = table(Escalation)
CONVERSIONS = table(DealConversion)
REQUESTS = table(BookingRequest)


class TicketRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def ensure(self, request_id: str, provider: str, kind: str, at: datetime) -> StoredTicket:
        """The request's ticket row, created PENDING if it has none (once, of any number of
        callers).
        """
        values: dict[str, Any] = {
            "request_id": request_id,
            "provider": provider,
            "kind": kind,
            "status": TicketStatus.PENDING,
            "attempts": 0,
            "created_at": at,
        }
        with self.db.transaction() as conn:
            insert_ignore(conn, CrmTicket, values)
        ticket = self.get(request_id)
        assert ticket is not None
        return ticket

    def get(self, request_id: str) -> StoredTicket | None:
        with self.db.connection() as conn:
            row = conn.execute(select(TICKETS).where(TICKETS.c.request_id == request_id)).first()
        return None if row is None else StoredTicket(**row._mapping)

    def due(self, now: datetime, limit: int = 50) -> list[StoredTicket]:
        """Tickets with CRM work to do now: to open (also a failed one's daily try), or to
        close; oldest first.
        """
        t = TICKETS.c
        ready = or_(t.next_attempt_at.is_(None), t.next_attempt_at <= now)
        work = or_(
            and_(t.status == TicketStatus.PENDING, ready),
            and_(t.status == TicketStatus.OPEN, t.close_outcome.is_not(None), ready),
            and_(t.status == TicketStatus.FAILED, t.next_attempt_at <= now),
        )
        statement = select(TICKETS).where(work).order_by(t.id).limit(limit)
        with self.db.connection() as conn:
            rows = conn.execute(statement).all()
        return [StoredTicket(**row._mapping) for row in rows]

    def unshown(self, limit: int = 50) -> list[StoredTicket]:
        """Tickets whose status their escalation's Slack message does not show yet (an
        escalation not yet in Slack shows the ticket's state when it is posted).
        """
        statement = (
            select(TICKETS)
            .select_from(
                TICKETS.join(ESCALATIONS, ESCALATIONS.c.request_id == TICKETS.c.request_id)
            )
            .where(
                ESCALATIONS.c.message_ts.is_not(None),
                or_(TICKETS.c.shown.is_(None), TICKETS.c.shown != TICKETS.c.status),
            )
            .order_by(TICKETS.c.id)
            .limit(limit)
        )
        with self.db.connection() as conn:
            rows = conn.execute(statement).all()
        return [StoredTicket(**row._mapping) for row in rows]

    def mark_open(
        self,
        request_id: str,
        *,
        ticket_id: str,
        url: str | None,
        contact_id: str | None,
        at: datetime,
    ) -> None:
        self._set(
            request_id,
            (TicketStatus.PENDING, TicketStatus.FAILED),
            status=TicketStatus.OPEN,
            ticket_id=ticket_id,
            url=url,
            contact_id=contact_id,
            opened_at=at,
            last_error=None,
            next_attempt_at=None,
        )

    def mark_retry(self, request_id: str, error: str, next_attempt_at: datetime) -> None:
        """An attempt failed in a way a later one may not: try again at `next_attempt_at`."""
        with self.db.transaction() as conn:
            conn.execute(
                update(TICKETS)
                .where(TICKETS.c.request_id == request_id)
                .values(
                    last_error=error[:500],
                    next_attempt_at=next_attempt_at,
                    attempts=TICKETS.c.attempts + 1,
                )
            )

    def mark_failed(self, request_id: str, error: str, try_again_at: datetime | None) -> None:
        """No quick retry helps (a refusal, or retries ran out): a person has to look; one
        more try at `try_again_at` (after they may have fixed it), or never when None.
        """
        with self.db.transaction() as conn:
            conn.execute(
                update(TICKETS)
                .where(
                    TICKETS.c.request_id == request_id,
                    TICKETS.c.status.in_((TicketStatus.PENDING, TicketStatus.FAILED)),
                )
                .values(
                    status=TicketStatus.FAILED,
                    last_error=error[:500],
                    next_attempt_at=try_again_at,
                    attempts=TICKETS.c.attempts + 1,
                )
            )

    def request_close(self, request_id: str, outcome: str) -> bool:
        """Note how the escalation ended, for the CRM; False when the request has no ticket."""
        with self.db.transaction() as conn:
            changed = conn.execute(
                update(TICKETS)
                .where(TICKETS.c.request_id == request_id, TICKETS.c.close_outcome.is_(None))
                .values(close_outcome=outcome[:500], next_attempt_at=None)
            ).rowcount
        return changed == 1

    def drop_close(self, request_id: str, error: str) -> None:
        """Stop trying to close the ticket (it kept failing); the error stays."""
        with self.db.transaction() as conn:
            conn.execute(
                update(TICKETS)
                .where(TICKETS.c.request_id == request_id)
                .values(close_outcome=None, last_error=error[:500], next_attempt_at=None)
            )

    def mark_closed(self, request_id: str, at: datetime) -> None:
        self._set(
            request_id,
            (TicketStatus.OPEN,),
            status=TicketStatus.CLOSED,
            closed_at=at,
            last_error=None,
            next_attempt_at=None,
        )

    def mark_shown(self, request_id: str, status: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                update(TICKETS).where(TICKETS.c.request_id == request_id).values(shown=status)
            )

    def _set(self, request_id: str, from_statuses: tuple[str, ...], **values: Any) -> bool:
        with self.db.transaction() as conn:
            changed = conn.execute(
                update(TICKETS)
                .where(TICKETS.c.request_id == request_id, TICKETS.c.status.in_(from_statuses))
                .values(**values)
            ).rowcount
        return changed == 1

    # ------------------------------------------------------------------ conversions

    def conversion_candidates(
        self, *, received_after: datetime, checked_before: datetime, limit: int
    ) -> list[tuple[str, str, datetime]]:
        """(request id, client email, received at) of finished requests whose conversion
        is not final and was not read since `checked_before`, oldest first: where the
        revenue job resumes.
        """
        statement = (
            select(REQUESTS.c.id, REQUESTS.c.email, REQUESTS.c.received_at)
            .select_from(REQUESTS.outerjoin(CONVERSIONS, CONVERSIONS.c.request_id == REQUESTS.c.id))
            .where(
                REQUESTS.c.status.in_([s for s in RequestStatus if s.is_final]),
                REQUESTS.c.received_at >= received_after,
                or_(
                    CONVERSIONS.c.request_id.is_(None),
                    and_(
                        CONVERSIONS.c.final.is_(False),
                        CONVERSIONS.c.checked_at < checked_before,
                    ),
                ),
            )
            .order_by(REQUESTS.c.received_at)
            .limit(limit)
        )
        with self.db.connection() as conn:
            rows = conn.execute(statement).all()
        return [(row.id, row.email, row.received_at) for row in rows]

    def record_conversion(self, conversion: DealConversion) -> None:
        values = conversion.model_dump()
        with self.db.transaction() as conn:
            if insert_ignore(conn, DealConversion, values) is None:
                conn.execute(
                    update(CONVERSIONS)
                    .where(CONVERSIONS.c.request_id == conversion.request_id)
                    .values(**{k: v for k, v in values.items() if k != "request_id"})
                )

    def conversion(self, request_id: str) -> DealConversion | None:
        with self.db.connection() as conn:
            row = conn.execute(
                select(CONVERSIONS).where(CONVERSIONS.c.request_id == request_id)
            ).first()
        return None if row is None else DealConversion(**row._mapping)
