"""The outbox: every outgoing message or event, recorded once per dedupe key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from storage.db import Database
from storage.models import OutboxMessage, OutboxStatus, utcnow
from storage.repositories._sql import insert_ignore, table

# A message recorded as sent, or as sandboxed in place of sending: nothing more to do.
DELIVERED = (OutboxStatus.SENT, OutboxStatus.SANDBOXED)

OUTBOX = table(OutboxMessage)


@dataclass(frozen=True)
class Recorded:
    """What a caller needs back from `record`: which row, since when, and whether it is new."""

    id: int
    created_at: datetime
    result: dict[str, Any] | None
    created: bool


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
    ) -> Recorded:
        """Record a message once; a seen key returns the earlier record (created=False)."""
        now = utcnow()
        delivered = status in DELIVERED
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
                return Recorded(new_id, now, result, created=True)
            row = conn.execute(
                select(OUTBOX.c.id, OUTBOX.c.created_at, OUTBOX.c.result).where(
                    OUTBOX.c.dedupe_key == dedupe_key
                )
            ).one()
        return Recorded(row.id, row.created_at, row.result, created=False)

    def take_over(self, message: OutboxMessage) -> bool:
        """Claim a FAILED row, or a PENDING one its worker left, for another attempt: a
        compare-and-set on the status and attempts seen, so one worker of several wins.
        """
        with self.db.transaction() as conn:
            return (
                conn.execute(
                    update(OUTBOX)
                    .where(
                        OUTBOX.c.id == message.id,
                        OUTBOX.c.status == message.status,
                        OUTBOX.c.attempts == message.attempts,
                    )
                    .values(
                        status=OutboxStatus.PENDING,
                        created_at=utcnow(),
                        attempts=OUTBOX.c.attempts + 1,
                    )
                ).rowcount
                == 1
            )

    def mark_sent(self, message_id: int, result: dict[str, Any]) -> None:
        """A PENDING message went out: keep what the provider answered."""
        with self.db.transaction() as conn:
            conn.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id == message_id)
                .values(status=OutboxStatus.SENT, result=result, sent_at=utcnow(), last_error=None)
            )

    def mark_failed(self, message_id: int, error: str) -> None:
        """A send attempt failed; the row stays, with the error, for a retry or a person."""
        with self.db.transaction() as conn:
            conn.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id == message_id)
                .values(
                    status=OutboxStatus.FAILED,
                    last_error=error[:1000],
                    attempts=OUTBOX.c.attempts + 1,
                )
            )

    def get(self, dedupe_key: str) -> OutboxMessage | None:
        """The message recorded under this key, or None when there is none yet."""
        with self.db.connection() as conn:
            row = conn.execute(select(OUTBOX).where(OUTBOX.c.dedupe_key == dedupe_key)).first()
        return None if row is None else OutboxMessage(**row._mapping)

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
