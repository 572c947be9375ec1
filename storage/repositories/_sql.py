"""Dialect-neutral helpers the repositories share."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel


def insert_ignore(session: Session, model: type[SQLModel], values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; True when the row was inserted.

    The conflict is settled by the database, so two replicas racing on the same
    unique key get one row and no exception.
    """
    table = SQLModel.metadata.tables[str(model.__tablename__)]
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    statement = module.insert(table).values(**values).on_conflict_do_nothing()
    result: Any = session.execute(statement)
    return bool(result.rowcount == 1)
