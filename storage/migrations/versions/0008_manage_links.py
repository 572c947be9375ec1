"""the client's manage link: booking versions, cancellations, held moves, and the audit
log of changes

Revision ID: 0008
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, storage.models.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(_when("pending_start"))
        batch_op.add_column(_when("pending_end"))
        batch_op.add_column(_when("pending_at"))
        batch_op.add_column(_when("cancelled_at"))
        batch_op.add_column(
            sa.Column("cancelled_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.add_column(
            sa.Column("cancel_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
        )
    op.create_table(
        "booking_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        _when("old_start", nullable=False),
        _when("new_start"),
        _when("new_end"),
        sa.Column("error_code", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        _when("created_at", nullable=False),
        _when("finished_at"),
        sa.ForeignKeyConstraint(["booking_id"], ["booking.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("booking_id", "from_version", name="uq_booking_change_version"),
    )
    with op.batch_alter_table("booking_change", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_booking_change_request_id"), ["request_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_booking_change_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("booking_change")
    with op.batch_alter_table("booking", schema=None) as batch_op:
        for name in (
            "cancel_reason",
            "cancelled_by",
            "cancelled_at",
            "pending_at",
            "pending_end",
            "pending_start",
            "version",
        ):
            batch_op.drop_column(name)
