"""The outbox: every outgoing message or event, recorded once per dedupe key."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from storage.db import Database
from storage.models import OutboxMessage, OutboxStatus, utcnow
from storage.repositories._sql import insert_ignore


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
        with self.db.write() as session:
            created = insert_ignore(
                session,
                OutboxMessage,
                {
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
                },
            )
            statement = select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)
            return session.exec(statement).one(), created

    def latest(
        self, *, limit: int = 100, service: str | None = None, request_id: str | None = None
    ) -> list[OutboxMessage]:
        """Newest first."""
        with self.db.read() as session:
            statement = select(OutboxMessage)
            if service:
                statement = statement.where(OutboxMessage.service == service)
            if request_id:
                statement = statement.where(OutboxMessage.request_id == request_id)
            statement = statement.order_by(col(OutboxMessage.id).desc()).limit(limit)
            return list(session.exec(statement).all())
