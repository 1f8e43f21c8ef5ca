"""Agents' own conversations (Claude Code's session transcripts), kept with Honk so that a follow-up
resumes the conversation on any worker: one row per transcript line, in order.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "agent_transcripts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("session", sa.String(200), nullable=False),
        sa.Column("uuid", sa.String(64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entry", sa.JSON(), nullable=False),
    )
    op.create_index("ix_agent_transcripts_session_id", "agent_transcripts", ["session", "id"])


def downgrade() -> None:
    op.drop_index("ix_agent_transcripts_session_id", table_name="agent_transcripts")
    op.drop_table("agent_transcripts")
