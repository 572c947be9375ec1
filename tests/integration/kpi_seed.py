"""Rows for KPI tests, written straight into the tables: requests with the status the gate
gave them, their escalations with claim and resolution times, and meetings with outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from storage.db import Database
from storage.models import (
    Booking,
    BookingRequest,
    BookingStatus,
    Escalation,
    RequestStatus,
)


@dataclass
class Seeder:
    db: Database
    count: int = 0

    def request(self, status: RequestStatus, at: datetime) -> str:
        self.count += 1
        with self.db.write() as session:
            row = BookingRequest(
                idempotency_key=f"key:{self.count}",
                body_sha256="0" * 64,
                status=status,
                name=f"Client {self.count}",
                email=f"c{self.count}@example.com",
                timezone="America/New_York",
                duration_minutes=30,
                received_at=at,
            )
            session.add(row)
        return row.id

    def escalation(
        self,
        status: RequestStatus,
        at: datetime,
        reasons: list[str],
        claim: timedelta | None = None,
        resolve: timedelta | None = None,
        outcome: str | None = None,
        sla_pings: int = 0,
    ) -> str:
        request_id = self.request(status, at)
        kind = {
            RequestStatus.ESCALATED_VIP: "vip",
            RequestStatus.ESCALATED_MANUAL_REVIEW: "manual_review",
            RequestStatus.ESCALATED_ON_ERROR: "on_error",
        }[status]
        with self.db.write() as session:
            session.add(
                Escalation(
                    request_id=request_id,
                    kind=kind,
                    reasons=reasons,
                    created_at=at,
                    claimed_at=at + claim if claim is not None else None,
                    resolved_at=at + resolve if resolve is not None else None,
                    outcome=outcome,
                    sla_pings=sla_pings,
                )
            )
        return request_id

    def meeting(
        self,
        end: datetime,
        outcome: str | None,
        booked_by: str = "auto",
        status: BookingStatus = BookingStatus.CONFIRMED,
    ) -> None:
        # Its request came in October: it counts for no-shows, not in the request cohort.
        request_id = self.request(RequestStatus.BOOKED_AUTO, datetime(2026, 10, 5, tzinfo=UTC))
        with self.db.write() as session:
            session.add(
                Booking(
                    request_id=request_id,
                    rep_email="alice@ourco.example",
                    provider="google",
                    calendar_id="alice@ourco.example",
                    status=status,
                    start=end - timedelta(minutes=30),
                    end=end,
                    client_timezone="America/New_York",
                    booked_by=booked_by,
                    outcome=outcome,
                )
            )
