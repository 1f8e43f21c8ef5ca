"""Deploy history: per repo, each deploy of a merged change — commit, task, who, when, result, link.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "deploys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("repo", sa.String(100), nullable=False),
        sa.Column("task_id", sa.String(64), nullable=True),
        sa.Column("commit", sa.String(64), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", sa.String(20), nullable=False),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_deploys_repo_id", "deploys", ["repo", "id"], unique=False)
    op.create_index(op.f("ix_deploys_task_id"), "deploys", ["task_id"], unique=False)


def downgrade() -> None:
    op.drop_table("deploys")  # its indexes go with it
