"""Phone numbers that must get no more SMS: a STOP from the client, or Twilio's own word
that the number unsubscribed (error 21610).
"""

from __future__ import annotations

from sqlalchemy import delete, select

from storage.db import Database
from storage.models import SmsOptOut, utcnow
from storage.repositories._sql import insert_ignore, table

OPT_OUTS = table(SmsOptOut)


class OptOutRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def opt_out(self, phone: str, source: str) -> bool:
        """Record the opt-out; False when the number had already opted out (also when two
        reports of it race: the database settles which one is first).
        """
        values = {"phone": phone, "source": source[:32], "opted_out_at": utcnow()}
        with self.db.transaction() as conn:
            return insert_ignore(conn, SmsOptOut, values) is not None

    def opt_in(self, phone: str) -> bool:
        """The client sent START: SMS may go to them again. False when they had not opted out."""
        with self.db.transaction() as conn:
            return conn.execute(delete(OPT_OUTS).where(OPT_OUTS.c.phone == phone)).rowcount > 0

    def is_opted_out(self, phone: str) -> bool:
        with self.db.connection() as conn:
            found = conn.execute(select(OPT_OUTS.c.phone).where(OPT_OUTS.c.phone == phone))
            return found.first() is not None
