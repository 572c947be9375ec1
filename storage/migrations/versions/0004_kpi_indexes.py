"""indexes for the KPI report: requests by status and when received; meetings with who
booked them and how they went

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
    # (status, received_at): a period's count per status is one index range per status, and
    # the escalated requests of a period are three ranges, never the whole period's rows.
    op.create_index(
        "ix_booking_request_status_received", "booking_request", ["status", "received_at"]
    )
    # Covering for the no-show figures (who booked, what the host answered); its (status,
    # end) prefix serves the outcome prompts as the index it replaces did.
    op.create_index(
        "ix_booking_status_end_outcome", "booking", ["status", "end", "booked_by", "outcome"]
    )
    op.drop_index("ix_booking_status_end", table_name="booking")


def downgrade() -> None:
    op.create_index("ix_booking_status_end", "booking", ["status", "end"])
    op.drop_index("ix_booking_status_end_outcome", table_name="booking")
    op.drop_index("ix_booking_request_status_received", table_name="booking_request")
