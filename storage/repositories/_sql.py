"""Dialect-neutral helpers the repositories share."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session, SQLModel


def table(model: type[SQLModel]) -> Table:
    return SQLModel.metadata.tables[str(model.__tablename__)]


def insert_ignore(
    conn: Session | Connection, model: type[SQLModel], values: dict[str, Any]
) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: the new row's id, or None on conflict.

    The conflict is settled by the database, so two replicas racing on the same unique key
    get one row and no exception.
    """
    target = table(model)
    dialect = conn.get_bind().dialect.name if isinstance(conn, Session) else conn.dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = (
        module.insert(target).values(**values).on_conflict_do_nothing().returning(target.c.id)
    )
    row = conn.execute(statement).first()
    return None if row is None else row[0]
