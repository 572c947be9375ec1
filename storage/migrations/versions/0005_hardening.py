"""OAuth state values already used (single-use consent callbacks)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.models

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_state_use",
        sa.Column("nonce", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("used_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce"),
    )
    with op.batch_alter_table("oauth_state_use", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_state_use_used_at"), ["used_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("oauth_state_use", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_state_use_used_at"))
    op.drop_table("oauth_state_use")
