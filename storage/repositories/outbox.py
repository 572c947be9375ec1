"""The outbox: every outgoing message or event, recorded once per dedupe key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from storage.db import Database
from storage.models import OutboxMessage, OutboxStatus, utcnow
from storage.repositories._sql import insert_ignore, table

OUTBOX = table(OutboxMessage)


class OutboxRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self,
        dedupe_key: str,
        service: str,
        action: str,
        payload: dict[str, Any],
        *,
        request_id: str | None = None,
        status: OutboxStatus = OutboxStatus.SANDBOXED,
        result: dict[str, Any] | None = None,
    ) -> tuple[OutboxMessage, bool]:
        """Record a message; if the key was seen, return the earlier one and False."""
        now = utcnow()
        delivered = status in (OutboxStatus.SANDBOXED, OutboxStatus.SENT)
        values: dict[str, Any] = {
            "dedupe_key": dedupe_key,
            "service": service,
            "action": action,
            "request_id": request_id,
            "payload": payload,
            "result": result,
            "status": status,
            "attempts": 1,
            "created_at": now,
            "sent_at": now if delivered else None,
        }
        with self.db.transaction() as conn:
            new_id = insert_ignore(conn, OutboxMessage, values)
            if new_id is not None:
                return OutboxMessage(id=new_id, **values), True
            row = conn.execute(select(OUTBOX).where(OUTBOX.c.dedupe_key == dedupe_key)).one()
        return OutboxMessage(**row._mapping), False

    def latest(
        self, *, limit: int = 100, service: str | None = None, request_id: str | None = None
    ) -> list[OutboxMessage]:
        """Newest first."""
        statement = select(OUTBOX)
        if service:
            statement = statement.where(OUTBOX.c.service == service)
        if request_id:
            statement = statement.where(OUTBOX.c.request_id == request_id)
        with self.db.connection() as conn:
            rows = conn.execute(statement.order_by(OUTBOX.c.id.desc()).limit(limit)).all()
        return [OutboxMessage(**row._mapping) for row in rows]
