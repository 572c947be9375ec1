"""Dialect-neutral helpers the repositories share."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel


def table(model: type[SQLModel]) -> Table:
    return SQLModel.metadata.tables[str(model.__tablename__)]


def insert_ignore(conn: Connection, model: type[SQLModel], values: dict[str, Any]) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: the new row's id, or None on conflict.

    The conflict is settled by the database, so two replicas racing on the same unique key
    get one row and no exception.
    """
    row = conn.execute(_insert_ignore_statement(conn.dialect.name, model), values).first()
    return None if row is None else row[0]


@cache
def _insert_ignore_statement(dialect: str, model: type[SQLModel]) -> Any:
    # Built once: SQLAlchemy then reuses its compiled form (this is on the intake hot path).
    target = table(model)
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(target).on_conflict_do_nothing().returning(target.c.id)
