"""Engine and transactions: SQLite (WAL) for one node, PostgreSQL (psycopg 3) for production.

Write transactions (`transaction()` on Core, `write()` with an ORM session) take SQLite's
write lock up front (BEGIN IMMEDIATE) behind a fair in-process lock, so writers queue
instead of failing with "database is locked" when a reader upgrades; PostgreSQL needs
no such help.
"""

from __future__ import annotations

import contextvars
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:
    from sqlmodel import Session

_immediate: contextvars.ContextVar[bool] = contextvars.ContextVar("immediate", default=False)

SQLITE_BUSY_TIMEOUT_MS = 15_000

# A write prepared outside a transaction, to run inside someone else's: a request's first
# writes commit with the request, its last ones with its outcome.
Step = Callable[[Connection], None]


def chain(*steps: Step | None) -> Step | None:
    """The given steps as one, in order (None when there are none)."""
    present = [step for step in steps if step is not None]
    if len(present) < 2:
        return present[0] if present else None

    def run(conn: Connection) -> None:
        for step in present:
            step(conn)

    return run


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit BEGIN is always DEFERRED).
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Straight to the driver: this runs for every transaction.
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.execute("BEGIN IMMEDIATE" if _immediate.get() else "BEGIN")


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 20) -> Engine:
    """The engine for `url`. `pool_size` and `max_overflow` size PostgreSQL's pool; a pool
    size of 0 means none (a connection per use, for RDS Proxy or PgBouncer in front of the
    database). Statement errors never carry their parameters (clients' names, phones and
    notes) into exception messages or logs: hide_parameters.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        memory = database in (None, "", ":memory:")
        pool: dict[str, Any] = (
            {"poolclass": NullPool}
            if memory
            # Enough connections for the threadpool: an overflow connection is closed on
            # return and the next one pays for connecting and the PRAGMAs again.
            else {"pool_size": 40, "max_overflow": 10}
        )
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            hide_parameters=True,
            **pool,
        )
        _configure_sqlite(engine)
        return engine
    if pool_size == 0:
        return create_engine(url, poolclass=NullPool, hide_parameters=True)
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=max_overflow,
        hide_parameters=True,
    )


class Database:
    """Owns the engine; hands out short sessions to the repositories."""

    def __init__(self, url: str, *, pool: tuple[int, int] = (10, 20)) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool[0], max_overflow=pool[1])
        self.dialect = self.engine.dialect.name
        # SQLite allows one writer. Queueing our own threads on a lock is fair and cheap;
        # left to SQLite's busy handler they sleep and poll, and tail latency explodes.
        # busy_timeout still covers other processes (a CLI command, a second replica).
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else None

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextmanager
    def read(self) -> Iterator[Session]:
        from sqlmodel import Session  # the ORM only where it is used (not by `report`)

        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def _writer(self) -> Iterator[None]:
        token = _immediate.set(True)
        lock = self._write_lock
        if lock is not None:
            lock.acquire()
        try:
            yield
        finally:
            if lock is not None:
                lock.release()
            _immediate.reset(token)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """An ORM write transaction, committed on success."""
        from sqlmodel import Session

        with (
            self._writer(),
            Session(self.engine, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A Core write transaction: the hot path, without the ORM's unit of work.

        The connection is checked out of the pool before the write lock is taken: the
        pool's work is not SQLite's, and every other writer would wait for it.
        """
        with self.engine.connect() as conn, self._writer(), conn.begin():
            yield conn

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A Core connection for reads."""
        with self.engine.connect() as conn:
            yield conn

    def lock(self, session: Session | Connection, name: str) -> None:
        """Serialize writers on `name` until the transaction ends (PostgreSQL advisory lock).

        SQLite needs nothing: BEGIN IMMEDIATE already serializes every writer.
        """
        if self.is_postgres:
            key = zlib.crc32(name.encode()) - 2**31
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def dispose(self) -> None:
        self.engine.dispose()
