"""A task's other repos (one change across several, issue 20): a row per (task, repo) with the repo's pull
request number, so that a forge event on that pull request finds its task with one lookup.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-17
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "task_repos",
        sa.Column("task_id", sa.String(40), sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("repo", sa.String(100), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("task_id", "repo"),
    )
    op.create_index("ix_task_repos_repo_number", "task_repos", ["repo", "number"], unique=False)


def downgrade() -> None:
    op.drop_table("task_repos")  # its index goes with it
