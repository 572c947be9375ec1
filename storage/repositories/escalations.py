"""Escalations: the tickets people work on in Slack."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select, update

from storage.db import Database
from storage.models import Escalation, EscalationKind, StoredEscalation, utcnow
from storage.repositories._sql import insert_ignore, table

ESCALATIONS = table(Escalation)

# Built once: constructing a statement costs more than running it on SQLite.
_NOTIFIED = (
    update(ESCALATIONS)
    .where(ESCALATIONS.c.id == bindparam("b_id"))
    .values(
        channel=bindparam("b_channel"),
        message_ts=bindparam("b_ts"),
        notified_at=bindparam("b_at", type_=ESCALATIONS.c.notified_at.type),
        notify_error=None,
    )
)
_NOTIFY_FAILED = (
    update(ESCALATIONS)
    .where(ESCALATIONS.c.id == bindparam("b_id"))
    .values(notify_error=bindparam("b_error"))
)


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
    ) -> StoredEscalation:
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
                return StoredEscalation(id=new_id, **values)
            row = conn.execute(
                select(ESCALATIONS).where(ESCALATIONS.c.request_id == request_id)
            ).one()
        return StoredEscalation(**row._mapping)

    def get_by_request(self, request_id: str) -> StoredEscalation | None:
        with self.db.connection() as conn:
            row = conn.execute(
                select(ESCALATIONS).where(ESCALATIONS.c.request_id == request_id)
            ).first()
        return None if row is None else StoredEscalation(**row._mapping)

    def mark_notified(self, escalation_id: int, channel: str, message_ts: str) -> None:
        params = {"b_id": escalation_id, "b_channel": channel, "b_ts": message_ts}
        with self.db.transaction() as conn:
            conn.execute(_NOTIFIED, {**params, "b_at": utcnow()})

    def mark_notify_failed(self, escalation_id: int, error: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(_NOTIFY_FAILED, {"b_id": escalation_id, "b_error": error[:500]})
