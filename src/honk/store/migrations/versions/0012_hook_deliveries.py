"""Forge webhook deliveries: one row per (forge, delivery id) — event, when, raw JSON, state, detail.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-11
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "hook_deliveries",
        sa.Column("forge", sa.String(20), nullable=False),
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("event", sa.String(60), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("forge", "id"),
    )
    op.create_index("ix_hook_deliveries_state_received", "hook_deliveries", ["state", "received_at"], unique=False)


def downgrade() -> None:
    op.drop_table("hook_deliveries")  # its index goes with it
