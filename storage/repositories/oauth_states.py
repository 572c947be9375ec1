"""OAuth `state` values already used: consuming one is a single insert, so two replicas
receiving the same callback cannot both accept it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete

from storage.db import Database
from storage.models import OAuthStateUse, utcnow
from storage.repositories._sql import insert_ignore, table

STATE_USES = table(OAuthStateUse)


class OAuthStateRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def consume(self, nonce: str, *, keep: timedelta, now: datetime | None = None) -> bool:
        """Record the state's nonce as used; False when it was used before. Uses older than
        `keep` (the state's lifetime: such a state no longer opens anyway) are dropped."""
        now = now or utcnow()
        with self.db.transaction() as conn:
            conn.execute(delete(STATE_USES).where(STATE_USES.c.used_at < now - keep))
            return insert_ignore(conn, OAuthStateUse, {"nonce": nonce, "used_at": now}) is not None
