"""Escalations: the tickets people work on in Slack."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from storage.db import Database
from storage.models import Escalation, EscalationKind, utcnow
from storage.repositories._sql import insert_ignore, table

ESCALATIONS = table(Escalation)


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
        values: dict[str, Any] = {
            "request_id": request_id,
            "kind": kind,
            "priority": priority,
            "reasons": reasons,
            "detail": detail[:2000] if detail else None,
            "assignee": assignee,
            "created_at": utcnow(),
        }
        with self.db.transaction() as conn:
            new_id = insert_ignore(conn, Escalation, values)
            if new_id is not None:
                return Escalation(id=new_id, **values)
            row = conn.execute(
                select(ESCALATIONS).where(ESCALATIONS.c.request_id == request_id)
            ).one()
        return Escalation(**row._mapping)

    def get_by_request(self, request_id: str) -> Escalation | None:
        with self.db.connection() as conn:
            row = conn.execute(
                select(ESCALATIONS).where(ESCALATIONS.c.request_id == request_id)
            ).first()
        return None if row is None else Escalation(**row._mapping)

    def mark_notified(self, escalation_id: int, channel: str, message_ts: str) -> None:
        self._update(
            escalation_id,
            channel=channel,
            message_ts=message_ts,
            notified_at=utcnow(),
            notify_error=None,
        )

    def mark_notify_failed(self, escalation_id: int, error: str) -> None:
        self._update(escalation_id, notify_error=error[:500])

    def _update(self, escalation_id: int, **values: Any) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                update(ESCALATIONS).where(ESCALATIONS.c.id == escalation_id).values(**values)
            )
