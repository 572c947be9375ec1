"""indexes for the KPI report: requests by when received, with their status

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Covering (received_at, status): a period's counts per status are read from the index
    # alone, and the escalated requests of a period are found without touching the table.
    op.create_index(
        "ix_booking_request_received_status", "booking_request", ["received_at", "status"]
    )


def downgrade() -> None:
    op.drop_index("ix_booking_request_received_status", table_name="booking_request")
