"""Campaigns: the requester as the access policy saw them (their account's role, email and Slack id), so a
campaign started again for a retry or a cancel still acts as the same person with the same role.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    # Nullable: campaigns asked before it read back with no role (as they were asked).
    op.add_column("campaigns", sa.Column("asked_as", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:  # SQLite drops a column by copying the table
        batch.drop_column("asked_as")
