"""Booking requests and their audit trail of decisions."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from storage.db import Database
from storage.models import BookingRequest, Decision, RequestStatus, utcnow
from storage.repositories._sql import insert_ignore


class RequestRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, request: BookingRequest) -> tuple[BookingRequest, bool]:
        """Store a new request; on a duplicate idempotency key return the stored one instead."""
        try:
            with self.db.write() as session:
                session.add(request)
            return request, True
        except IntegrityError:
            existing = self.get_by_key(request.idempotency_key)
            if existing is None:  # the conflict was on something else: let it surface
                raise
            return existing, False

    def get(self, request_id: str) -> BookingRequest | None:
        with self.db.read() as session:
            return session.get(BookingRequest, request_id)

    def get_by_key(self, idempotency_key: str) -> BookingRequest | None:
        with self.db.read() as session:
            statement = select(BookingRequest).where(
                BookingRequest.idempotency_key == idempotency_key
            )
            return session.exec(statement).first()

    def claim_for_processing(
        self, request_id: str, lease: timedelta, now: datetime | None = None
    ) -> BookingRequest | None:
        """Take the processing lease if nobody holds a live one (compare-and-set)."""
        now = now or utcnow()
        with self.db.write() as session:
            result: Any = session.execute(
                update(BookingRequest)
                .where(
                    col(BookingRequest.id) == request_id,
                    or_(
                        col(BookingRequest.status) == RequestStatus.RECEIVED,
                        and_(
                            col(BookingRequest.status) == RequestStatus.PROCESSING,
                            col(BookingRequest.lease_until) < now,
                        ),
                    ),
                )
                .values(
                    status=RequestStatus.PROCESSING,
                    lease_until=now + lease,
                    attempts=col(BookingRequest.attempts) + 1,
                )
            )
            if result.rowcount != 1:
                return None
            return session.get(BookingRequest, request_id, populate_existing=True)

    def finish(
        self,
        request_id: str,
        status: RequestStatus,
        reasons: list[str],
        response: dict[str, Any],
    ) -> None:
        with self.db.write() as session:
            session.execute(
                update(BookingRequest)
                .where(col(BookingRequest.id) == request_id)
                .values(
                    status=status,
                    reasons=reasons,
                    response=response,
                    finished_at=utcnow(),
                    lease_until=None,
                )
            )

    def unfinished(self, received_before: datetime, now: datetime | None = None) -> list[str]:
        """Requests a crash left behind: never claimed, or whose lease ran out."""
        now = now or utcnow()
        with self.db.read() as session:
            statement = (
                select(BookingRequest.id)
                .where(
                    or_(
                        and_(
                            col(BookingRequest.status) == RequestStatus.RECEIVED,
                            col(BookingRequest.received_at) < received_before,
                        ),
                        and_(
                            col(BookingRequest.status) == RequestStatus.PROCESSING,
                            col(BookingRequest.lease_until) < now,
                        ),
                    )
                )
                .order_by(col(BookingRequest.received_at))
                .limit(500)
            )
            return list(session.exec(statement).all())

    def record_decision(
        self,
        request_id: str,
        stage: str,
        result: str,
        reasons: list[str],
        rules_version: str,
        detail: str | None = None,
    ) -> None:
        """Append to the audit log; a repeated stage (a retry after a crash) keeps the first."""
        with self.db.write() as session:
            insert_ignore(
                session,
                Decision,
                {
                    "request_id": request_id,
                    "stage": stage,
                    "result": result,
                    "reasons": reasons,
                    "detail": detail[:2000] if detail else None,
                    "rules_version": rules_version,
                    "decided_at": utcnow(),
                },
            )

    def decisions(self, request_id: str) -> list[Decision]:
        with self.db.read() as session:
            statement = (
                select(Decision).where(Decision.request_id == request_id).order_by(col(Decision.id))
            )
            return list(session.exec(statement).all())
