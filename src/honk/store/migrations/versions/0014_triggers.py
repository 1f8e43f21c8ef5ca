"""Triggers: preset tasks a URL starts (`honk hook create`), as the person who made them; each token kept
only as its SHA-256 digest.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-13
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "triggers",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("repo", sa.String(100), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("agent", sa.String(50), nullable=True),
        sa.Column("token_digest", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fired", sa.Integer(), nullable=False),
        sa.Column("last_fired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name"),
        sa.UniqueConstraint("token_digest"),
    )
    op.create_index("ix_triggers_repo", "triggers", ["repo"], unique=False)


def downgrade() -> None:
    op.drop_table("triggers")  # its index goes with it
