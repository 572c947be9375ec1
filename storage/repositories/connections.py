"""Reps' calendar connections: the encrypted refresh token, granted scopes, and health.

A connection is "broken" from the moment a provider says the rep's grant is revoked or
lacks a scope until the rep reconnects; `mark_broken` tells exactly one caller that it
broke it, so the escalation channel is alerted once, not on every request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection as SqlConnection

from storage.crypto import TokenCipher
from storage.db import Database
from storage.models import CalendarConnection, utcnow
from storage.repositories._sql import insert_ignore, table

CONNECTIONS = table(CalendarConnection)

CONNECTED = "connected"
BROKEN = "broken"


@dataclass(frozen=True)
class Connection:
    rep_email: str
    provider: str
    status: str
    scopes: tuple[str, ...]
    refresh_token: str | None
    connected_at: datetime | None
    broken_reason: str | None
    broken_at: datetime | None

    @property
    def broken(self) -> bool:
        return self.status == BROKEN


class ConnectionRepository:
    def __init__(self, db: Database, cipher: TokenCipher | None = None) -> None:
        self.db = db
        self.cipher = cipher
        # Counts this process's writes, so a cache of what it read (the broken reps)
        # knows it is stale at once.
        self.version = 0

    @contextmanager
    def _changing(self) -> Iterator[SqlConnection]:
        try:
            with self.db.transaction() as conn:
                yield conn
        finally:
            self.version += 1

    def get(self, rep_email: str, provider: str) -> Connection | None:
        with self.db.connection() as conn:
            row = conn.execute(
                select(CONNECTIONS).where(
                    CONNECTIONS.c.rep_email == rep_email, CONNECTIONS.c.provider == provider
                )
            ).first()
        return None if row is None else self._connection(row)

    def all(self) -> list[Connection]:
        """Every connection's state, without the tokens (for listings and checks)."""
        with self.db.connection() as conn:
            rows = conn.execute(
                select(CONNECTIONS).order_by(CONNECTIONS.c.rep_email, CONNECTIONS.c.provider)
            ).all()
        return [self._connection(row, with_token=False) for row in rows]

    def broken_reps(self) -> dict[str, str]:
        """rep email -> why its connection is broken (for routing to review)."""
        with self.db.connection() as conn:
            rows = conn.execute(
                select(CONNECTIONS.c.rep_email, CONNECTIONS.c.broken_reason).where(
                    CONNECTIONS.c.status == BROKEN
                )
            ).all()
        return {row.rep_email: row.broken_reason or "connection broken" for row in rows}

    def save_connected(
        self, rep_email: str, provider: str, *, refresh_token: str | None, scopes: list[str]
    ) -> None:
        """Store a fresh consent (or a working client-credentials connection); heals a break."""
        now = utcnow()
        values: dict[str, Any] = {
            "status": CONNECTED,
            "scopes": sorted(scopes),
            "connected_at": now,
            "broken_reason": None,
            "broken_at": None,
            "alerted_at": None,
            "updated_at": now,
        }
        if refresh_token is not None:
            values["refresh_token_encrypted"] = self._cipher().encrypt(refresh_token)
        self._upsert(rep_email, provider, values)

    def update_scopes(self, rep_email: str, provider: str, scopes: list[str]) -> None:
        with self._changing() as conn:
            conn.execute(
                self._where(update(CONNECTIONS), rep_email, provider).values(
                    scopes=sorted(scopes), updated_at=utcnow()
                )
            )

    def mark_broken(
        self,
        rep_email: str,
        provider: str,
        reason: str,
        *,
        connected_at: datetime | None = None,
    ) -> bool:
        """Mark the connection broken; True only for the call that broke it (alert once).

        With `connected_at` (the consent the failing call used), a consent given since is
        left alone: a call that started before the rep reconnected must not break the new one.
        """
        now = utcnow()
        with self._changing() as conn:
            insert_ignore(
                conn,
                CalendarConnection,
                {
                    "rep_email": rep_email,
                    "provider": provider,
                    "status": CONNECTED,
                    "scopes": [],
                    "updated_at": now,
                },
            )
            statement = (
                self._where(update(CONNECTIONS), rep_email, provider)
                .where(CONNECTIONS.c.status != BROKEN)
                .values(status=BROKEN, broken_reason=reason[:500], broken_at=now, updated_at=now)
            )
            if connected_at is not None:
                statement = statement.where(CONNECTIONS.c.connected_at == connected_at)
            changed = conn.execute(statement).rowcount
        return changed == 1

    def mark_alerted(self, rep_email: str, provider: str) -> None:
        with self._changing() as conn:
            conn.execute(
                self._where(update(CONNECTIONS), rep_email, provider).values(alerted_at=utcnow())
            )

    def _upsert(self, rep_email: str, provider: str, values: dict[str, Any]) -> None:
        with self._changing() as conn:
            created = insert_ignore(
                conn,
                CalendarConnection,
                {"rep_email": rep_email, "provider": provider, **values},
            )
            if created is None:
                conn.execute(self._where(update(CONNECTIONS), rep_email, provider).values(values))

    @staticmethod
    def _where(statement: Any, rep_email: str, provider: str) -> Any:
        return statement.where(
            CONNECTIONS.c.rep_email == rep_email, CONNECTIONS.c.provider == provider
        )

    def _cipher(self) -> TokenCipher:
        if self.cipher is None:
            raise RuntimeError("FRONTDESK_ENCRYPTION_KEY is needed to store OAuth tokens")
        return self.cipher

    def _connection(self, row: Any, *, with_token: bool = True) -> Connection:
        stored = row.refresh_token_encrypted
        token = self._cipher().decrypt(stored) if stored is not None and with_token else None
        return Connection(
            rep_email=row.rep_email,
            provider=row.provider,
            status=row.status,
            scopes=tuple(row.scopes or ()),
            refresh_token=token,
            connected_at=row.connected_at,
            broken_reason=row.broken_reason,
            broken_at=row.broken_at,
        )
