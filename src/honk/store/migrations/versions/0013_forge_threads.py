"""Forge threads: which task answers on which issue or pull request (forge, repo, number).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "forge_threads",
        sa.Column("forge", sa.String(20), nullable=False),
        sa.Column("repo", sa.String(200), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.String(64), nullable=False),
        sa.Column("pull_request", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("forge", "repo", "number"),
    )
    op.create_index("ix_forge_threads_task", "forge_threads", ["task_id"], unique=False)


def downgrade() -> None:
    op.drop_table("forge_threads")  # its index goes with it
