"""Scratch databases for the benchmarks: fresh SQLite files in the run's work folder, or fresh
schemas `fd_bench_<hex>` in the PostgreSQL test database (the one tests/conftest.py uses),
dropped when the run ends so that repeated runs leave nothing behind. Also the kinds a run
covers (`--database both|sqlite|postgres`, PostgreSQL skipped with the reason when it does
not answer) and what the engine sends, to show the plan the database makes for it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text

POSTGRES_ADMIN_URL = os.environ.get(
    "FRONTDESK_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CONNECT_ARGS = {"connect_timeout": 3}  # a PostgreSQL that does not answer fails fast
UNREACHABLE = "PostgreSQL at {url} unreachable: {reason}"
NOT_USABLE = "PostgreSQL at {url} is not usable: {reason}"
NOT_DROPPED = "warning: schema {schema} was left in PostgreSQL at {url}: {reason}"
SKIPPED = "\npostgres: SKIPPED - {problem}"
KINDS = ("sqlite", "postgres")
BOTH = "both"
DATABASE_HELP = "default both (PostgreSQL skipped with the reason when unreachable)"


def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be benchmarked right now, or None when it answers."""
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args=CONNECT_ARGS)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return UNREACHABLE.format(url=POSTGRES_ADMIN_URL, reason=str(exc).splitlines()[0])
    return None


@contextlib.contextmanager
def scratch_databases(kind: str, workdir: Path, names: Sequence[str]) -> Iterator[list[str]]:
    """One fresh database URL per name, in order: `<name>.db` in `workdir` for "sqlite", or
    a schema of its own for "postgres" (SystemExit when one can't be created).

    The schemas are dropped on the way out even after a failure or Ctrl-C; a drop that fails
    is only warned about, so that it does not hide the error that ended the run.
    """
    if kind == "sqlite":
        yield [f"sqlite:///{workdir / f'{name}.db'}" for name in names]
        return
    admin = create_engine(
        POSTGRES_ADMIN_URL, connect_args=CONNECT_ARGS, isolation_level="AUTOCOMMIT"
    )
    schemas = [f"fd_bench_{secrets.token_hex(6)}" for _ in names]
    created: list[str] = []  # only these are dropped: a failed CREATE leaves nothing to drop

    def execute(statement: str) -> None:
        with admin.connect() as connection:
            connection.execute(text(statement))

    try:
        try:
            for schema in schemas:
                execute(f"CREATE SCHEMA {schema}")
                created.append(schema)
        except Exception as exc:
            raise SystemExit(NOT_USABLE.format(url=POSTGRES_ADMIN_URL, reason=exc)) from None
        yield [f"{POSTGRES_ADMIN_URL}?options=-csearch_path%3D{schema}" for schema in schemas]
    finally:
        for schema in created:
            try:
                execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            except Exception as exc:
                reason = str(exc).splitlines()[0]
                message = NOT_DROPPED.format(schema=schema, url=POSTGRES_ADMIN_URL, reason=reason)
                print(message, file=sys.stderr)
        admin.dispose()


@contextlib.contextmanager
def scratch_database(kind: str, workdir: Path, name: str) -> Iterator[str]:
    """One fresh database, as `scratch_databases` makes them."""
    with scratch_databases(kind, workdir, [name]) as (url,):
        yield url


# -- the kinds a run covers ----------------------------------------------------------------


def add_database_option(parser: argparse.ArgumentParser) -> None:
    """`--database both|sqlite|postgres`, both by default; `database_kinds` reads it."""
    parser.add_argument("--database", choices=(BOTH, *KINDS), default=BOTH, help=DATABASE_HELP)


def database_kinds(choice: str) -> list[str]:
    """The kinds `--database` asks for, SQLite first."""
    return list(KINDS) if choice == BOTH else [choice]


def reachable(kinds: Iterable[str]) -> Iterator[str]:
    """The kinds in order, PostgreSQL only when it answers: it is asked just before its
    turn, and skipped with the reason printed when it does not answer."""
    for kind in kinds:
        if kind == "postgres":
            problem = postgres_problem()
            if problem:
                print(SKIPPED.format(problem=problem))
                continue
        yield kind


# -- what the engine sends, and the plan for it --------------------------------------------


@contextlib.contextmanager
def captured_statements(
    engine: Engine, wanted: Callable[[str], bool] | None = None
) -> Iterator[list[tuple[str, Any]]]:
    """The statements the engine sends meanwhile (only the `wanted` ones when given), with
    their parameters, as the driver gets them: ready for `plan_lines`."""
    seen: list[tuple[str, Any]] = []

    def before(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if wanted is None or wanted(statement):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def plan_lines(conn: Connection, statement: str, parameters: Any) -> list[str]:
    """The plan the database makes for a captured statement, one line a row, without
    running it: EXPLAIN's lines on PostgreSQL, EXPLAIN QUERY PLAN's details on SQLite."""
    postgres = conn.dialect.name == "postgresql"
    prefix = "EXPLAIN " if postgres else "EXPLAIN QUERY PLAN "
    rows = conn.exec_driver_sql(prefix + statement, parameters).all()
    # SQLite's rows are (id, parent, notused, detail).
    return [str(row[0] if postgres else row[-1]) for row in rows]
