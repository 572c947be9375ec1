"""Dialect-neutral helpers the repositories share."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel


def table(model: type[SQLModel]) -> Table:
    return SQLModel.metadata.tables[str(model.__tablename__)]


def insert_ignore(conn: Connection, model: type[SQLModel], values: dict[str, Any]) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING its primary key: the new row's key, or None
    on conflict.

    The conflict is settled by the database, so two replicas racing on the same unique key
    get one row and no exception.
    """
    row = conn.execute(_insert_ignore_statement(conn.dialect.name, model), values).first()
    return None if row is None else row[0]


@cache
def _insert_ignore_statement(dialect: str, model: type[SQLModel]) -> Any:
    # Built once: SQLAlchemy then reuses its compiled form (this is on the intake hot path).
    # The dialect modules are imported here, not at the top: a read-only command such as
    # `frontdesk report` on SQLite never needs PostgreSQL's (about 30 ms of start-up).
    from sqlalchemy.dialects import postgresql, sqlite

    target = table(model)
    module: Any = postgresql if dialect == "postgresql" else sqlite
    [key] = target.primary_key.columns
    return module.insert(target).on_conflict_do_nothing().returning(key)
