"""Escalations: the tickets people work on in Slack."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col, select

from storage.db import Database
from storage.models import Escalation, EscalationKind, utcnow
from storage.repositories._sql import insert_ignore


class EscalationRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def open(
        self,
        request_id: str,
        kind: EscalationKind,
        reasons: list[str],
        *,
        priority: str = "normal",
        detail: str | None = None,
        assignee: str | None = None,
    ) -> Escalation:
        """Open the request's escalation once; a retry gets the one already open."""
        with self.db.write() as session:
            insert_ignore(
                session,
                Escalation,
                {
                    "request_id": request_id,
                    "kind": kind,
                    "priority": priority,
                    "reasons": reasons,
                    "detail": detail[:2000] if detail else None,
                    "assignee": assignee,
                    "created_at": utcnow(),
                },
            )
            statement = select(Escalation).where(Escalation.request_id == request_id)
            return session.exec(statement).one()

    def get_by_request(self, request_id: str) -> Escalation | None:
        with self.db.read() as session:
            statement = select(Escalation).where(Escalation.request_id == request_id)
            return session.exec(statement).first()

    def mark_notified(self, escalation_id: int, channel: str, message_ts: str) -> None:
        with self.db.write() as session:
            session.execute(
                update(Escalation)
                .where(col(Escalation.id) == escalation_id)
                .values(
                    channel=channel, message_ts=message_ts, notified_at=utcnow(), notify_error=None
                )
            )

    def mark_notify_failed(self, escalation_id: int, error: str) -> None:
        with self.db.write() as session:
            session.execute(
                update(Escalation)
                .where(col(Escalation.id) == escalation_id)
                .values(notify_error=error[:500])
            )
