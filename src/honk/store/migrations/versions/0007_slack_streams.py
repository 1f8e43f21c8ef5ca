"""A task's Slack thread keeps who asked (a streamed message is for them) and the task's streamed
progress message, with a count of its changes that workers claim one at a time.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("slack_threads") as batch:  # batch: SQLite cannot ALTER every way PostgreSQL can
        batch.add_column(sa.Column("user_id", sa.String(40), nullable=True))
        batch.add_column(sa.Column("team_id", sa.String(40), nullable=True))
        batch.add_column(sa.Column("stream", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("stream_seq", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("slack_threads") as batch:
        for column in ("stream_seq", "stream", "team_id", "user_id"):
            batch.drop_column(column)
