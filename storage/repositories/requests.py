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

from storage.db import Database, Step
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

# The compare-and-set of a lease, answering with the claimed row (no second SELECT).
_CLAIM = (
    update(REQUESTS)
    .where(
        REQUESTS.c.id == bindparam("b_id"),
        or_(
            REQUESTS.c.status == RequestStatus.RECEIVED,
            and_(
                REQUESTS.c.status == RequestStatus.PROCESSING,
                REQUESTS.c.lease_until < bindparam("b_now", type_=REQUESTS.c.lease_until.type),
            ),
        ),
    )
    .values(
        status=RequestStatus.PROCESSING,
        lease_until=bindparam("b_until", type_=REQUESTS.c.lease_until.type),
        attempts=REQUESTS.c.attempts + 1,
    )
    .returning(*REQUESTS.c)
)


@dataclass(frozen=True)
class DecisionRecord:
    """One line of the audit log, written in the same transaction as the request's state."""

    stage: str  # "gate" | "outcome"
    result: str
    reasons: list[str]
    rules_version: str
    detail: str | None = None
    at: datetime | None = None  # when it was decided; None: when it is written


def _decision_row(request_id: str, decision: DecisionRecord) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "stage": decision.stage,
        "result": decision.result,
        "reasons": decision.reasons,
        "detail": decision.detail[:2000] if decision.detail else None,
        "rules_version": decision.rules_version,
        "decided_at": decision.at or utcnow(),
    }


def _row_to_request(row: Any) -> StoredRequest:
    return StoredRequest(**row._mapping)


class RequestRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        request: StoredRequest,
        gate: DecisionRecord | None = None,
        also: Step | None = None,
    ) -> tuple[StoredRequest, bool]:
        """Store a new request (with its gate decision); on a duplicate idempotency key
        return the stored one and False instead.

        `also` runs in the same transaction after the insert (the new request's slot hold
        or escalation), so a new request's first writes are one commit.
        """
        # Rows are built before the write lock is taken: other writers wait for it.
        row = request.model_dump()
        decision = None if gate is None else _decision_row(request.id, gate)
        try:
            with self.db.transaction() as conn:
                conn.execute(_INSERT, row)
                if decision is not None:
                    insert_ignore(conn, Decision, decision)
                if also is not None:
                    also(conn)
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
        params = {"b_id": request_id, "b_now": now, "b_until": now + lease}
        with self.db.transaction() as conn:
            row = conn.execute(_CLAIM, params).first()
        return None if row is None else _row_to_request(row)

    def finish(
        self,
        request_id: str,
        status: RequestStatus,
        reasons: list[str],
        response: dict[str, Any],
        outcome: DecisionRecord,
        also: Step | None = None,
    ) -> None:
        """Record the final status, the response replays will get, and the outcome.

        `also` runs in the same transaction first (the booking's confirmation, say), so a
        request's outcome and what it depends on are committed together.
        """
        params = {
            "b_id": request_id,
            "b_status": status,
            "b_reasons": reasons,
            "b_response": response,
            "b_finished_at": utcnow(),
        }
        decision = _decision_row(request_id, outcome)
        with self.db.transaction() as conn:
            if also is not None:
                also(conn)
            conn.execute(_FINISH, params)
            insert_ignore(conn, Decision, decision)

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
        insert_ignore(conn, Decision, _decision_row(request_id, decision))

    def decisions(self, request_id: str) -> list[Decision]:
        with self.db.connection() as conn:
            rows = conn.execute(
                select(DECISIONS)
                .where(DECISIONS.c.request_id == request_id)
                .order_by(DECISIONS.c.id)
            ).all()
        return [Decision(**row._mapping) for row in rows]
