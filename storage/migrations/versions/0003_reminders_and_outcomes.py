"""reminders, opt-outs, SLA pings and meeting outcomes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sms_opt_out",
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("opted_out_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("phone"),
    )
    op.create_table(
        "reminder",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("due_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("meeting_start", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("check_before_send", sa.Boolean(), nullable=False),
        sa.Column("provider_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("provider_status", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("error_code", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("error_detail", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["booking.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("booking_id", "channel", name="uq_reminder_booking_channel"),
    )
    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reminder_provider_id"), ["provider_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reminder_request_id"), ["request_id"], unique=False)
        batch_op.create_index("ix_reminder_status_due", ["status", "due_at"], unique=False)
        batch_op.create_index("ix_reminder_status_lease", ["status", "lease_until"], unique=False)

    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "outcome_prompted_at", storage.models.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "outcome_prompt_channel", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "outcome_prompt_ts", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column("outcome_host", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.add_column(
            sa.Column("outcome_nudged_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch_op.add_column(
            sa.Column("outcome_by", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.add_column(
            sa.Column("outcome_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_booking_status_end", ["status", "end"], unique=False)

    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sla_pings", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("sla_pinged_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.drop_column("sla_pinged_at")
        batch_op.drop_column("sla_pings")

    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.drop_index("ix_booking_status_end")
        batch_op.drop_column("outcome_at")
        batch_op.drop_column("outcome_by")
        batch_op.drop_column("outcome")
        batch_op.drop_column("outcome_nudged_at")
        batch_op.drop_column("outcome_host")
        batch_op.drop_column("outcome_prompt_ts")
        batch_op.drop_column("outcome_prompt_channel")
        batch_op.drop_column("outcome_prompted_at")

    with op.batch_alter_table("reminder", schema=None) as batch_op:
        batch_op.drop_index("ix_reminder_status_lease")
        batch_op.drop_index("ix_reminder_status_due")
        batch_op.drop_index(batch_op.f("ix_reminder_request_id"))
        batch_op.drop_index(batch_op.f("ix_reminder_provider_id"))

    op.drop_table("reminder")
    op.drop_table("sms_opt_out")
