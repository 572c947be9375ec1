"""Booking requests and their audit trail of decisions.

The intake path runs on Core statements (one transaction to store, one to finish): this
is the hot path the intake benchmark measures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.models import BookingRequest, Decision, RequestStatus, StoredRequest, utcnow
from storage.repositories._sql import insert_ignore, table

REQUESTS = table(BookingRequest)
DECISIONS = table(Decision)

# Built once: constructing a statement costs more than running it on SQLite.
_INSERT = insert(REQUESTS)
_BY_ID = select(REQUESTS).where(REQUESTS.c.id == bindparam("b_id"))
_BY_KEY = select(REQUESTS).where(REQUESTS.c.idempotency_key == bindparam("b_key"))
_FINISH = (
    update(REQUESTS)
    .where(REQUESTS.c.id == bindparam("b_id"))
    .values(
        status=bindparam("b_status"),
        reasons=bindparam("b_reasons", type_=REQUESTS.c.reasons.type),
        response=bindparam("b_response", type_=REQUESTS.c.response.type),
        finished_at=bindparam("b_finished_at", type_=REQUESTS.c.finished_at.type),
        lease_until=None,
    )
)


@dataclass(frozen=True)
class DecisionRecord:
    """One line of the audit log, written in the same transaction as the request's state."""

    stage: str  # "gate" | "outcome"
    result: str
    reasons: list[str]
    rules_version: str
    detail: str | None = None


def _row_to_request(row: Any) -> StoredRequest:
    return StoredRequest(**row._mapping)


class RequestRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self, request: StoredRequest, gate: DecisionRecord | None = None
    ) -> tuple[StoredRequest, bool]:
        """Store a new request (with its gate decision); on a duplicate idempotency key
        return the stored one and False instead.
        """
        try:
            with self.db.transaction() as conn:
                conn.execute(_INSERT, request.model_dump())
                if gate is not None:
                    self._decide(conn, request.id, gate)
            return request, True
        except IntegrityError:
            existing = self.get_by_key(request.idempotency_key)
            if existing is None:  # the conflict was on something else: let it surface
                raise
            return existing, False

    def get(self, request_id: str) -> StoredRequest | None:
        with self.db.connection() as conn:
            row = conn.execute(_BY_ID, {"b_id": request_id}).first()
        return None if row is None else _row_to_request(row)

    def get_by_key(self, idempotency_key: str) -> StoredRequest | None:
        with self.db.connection() as conn:
            row = conn.execute(_BY_KEY, {"b_key": idempotency_key}).first()
        return None if row is None else _row_to_request(row)

    def claim_for_processing(
        self, request_id: str, lease: timedelta, now: datetime | None = None
    ) -> StoredRequest | None:
        """Take the processing lease if nobody holds a live one (compare-and-set)."""
        now = now or utcnow()
        with self.db.transaction() as conn:
            claimed = conn.execute(
                update(REQUESTS)
                .where(
                    REQUESTS.c.id == request_id,
                    or_(
                        REQUESTS.c.status == RequestStatus.RECEIVED,
                        and_(
                            REQUESTS.c.status == RequestStatus.PROCESSING,
                            REQUESTS.c.lease_until < now,
                        ),
                    ),
                )
                .values(
                    status=RequestStatus.PROCESSING,
                    lease_until=now + lease,
                    attempts=REQUESTS.c.attempts + 1,
                )
            )
            if claimed.rowcount != 1:
                return None
            row = conn.execute(_BY_ID, {"b_id": request_id}).one()
        return _row_to_request(row)

    def finish(
        self,
        request_id: str,
        status: RequestStatus,
        reasons: list[str],
        response: dict[str, Any],
        outcome: DecisionRecord,
    ) -> None:
        """Record the final status, the response replays will get, and the outcome."""
        with self.db.transaction() as conn:
            conn.execute(
                _FINISH,
                {
                    "b_id": request_id,
                    "b_status": status,
                    "b_reasons": reasons,
                    "b_response": response,
                    "b_finished_at": utcnow(),
                },
            )
            self._decide(conn, request_id, outcome)

    def unfinished(self, received_before: datetime, now: datetime | None = None) -> list[str]:
        """Requests a crash left behind: never claimed, or whose lease ran out."""
        now = now or utcnow()
        with self.db.connection() as conn:
            rows = conn.execute(
                select(REQUESTS.c.id)
                .where(
                    or_(
                        and_(
                            REQUESTS.c.status == RequestStatus.RECEIVED,
                            REQUESTS.c.received_at < received_before,
                        ),
                        and_(
                            REQUESTS.c.status == RequestStatus.PROCESSING,
                            REQUESTS.c.lease_until < now,
                        ),
                    )
                )
                .order_by(REQUESTS.c.received_at)
                .limit(500)
            ).all()
        return [row[0] for row in rows]

    def record_decision(self, request_id: str, decision: DecisionRecord) -> None:
        """Append to the audit log; a repeated stage (a retry after a crash) keeps the first."""
        with self.db.transaction() as conn:
            self._decide(conn, request_id, decision)

    @staticmethod
    def _decide(conn: Connection, request_id: str, decision: DecisionRecord) -> None:
        insert_ignore(
            conn,
            Decision,
            {
                "request_id": request_id,
                "stage": decision.stage,
                "result": decision.result,
                "reasons": decision.reasons,
                "detail": decision.detail[:2000] if decision.detail else None,
                "rules_version": decision.rules_version,
                "decided_at": utcnow(),
            },
        )

    def decisions(self, request_id: str) -> list[Decision]:
        with self.db.connection() as conn:
            rows = conn.execute(
                select(DECISIONS)
                .where(DECISIONS.c.request_id == request_id)
                .order_by(DECISIONS.c.id)
            ).all()
        return [Decision(**row._mapping) for row in rows]
