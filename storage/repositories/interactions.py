"""Slack interactions already taken on: the dedupe that makes Slack retries harmless."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete

from storage.db import Database
from storage.models import SlackInteraction, utcnow
from storage.repositories._sql import insert_ignore, table

INTERACTIONS = table(SlackInteraction)


class InteractionRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def first_delivery(self, dedupe_key: str, kind: str, user_id: str | None) -> bool:
        """Record the interaction; False when it was already taken on (a retry or replay)."""
        values = {
            "dedupe_key": dedupe_key[:300],
            "kind": kind[:32],
            "user_id": user_id,
            "received_at": utcnow(),
        }
        with self.db.transaction() as conn:
            return insert_ignore(conn, SlackInteraction, values) is not None

    def forget_before(self, moment: datetime) -> int:
        """Drop old keys: Slack retries within minutes, so a day of memory is plenty."""
        with self.db.transaction() as conn:
            return conn.execute(
                delete(INTERACTIONS).where(INTERACTIONS.c.received_at < moment)
            ).rowcount
