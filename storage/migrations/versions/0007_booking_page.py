"""the booking page: campaign tags (utm_source, utm_medium, utm_campaign) kept with a
request that came through it

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("booking_request") as batch:
        batch.add_column(sa.Column("utm", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("booking_request") as batch:
        batch.drop_column("utm")
