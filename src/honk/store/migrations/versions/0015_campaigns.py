"""Campaigns: one request across many repos (issue 20), and their members (one row per repo, its latest
attempt's task).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("request_id", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("selector", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("front_door", sa.String(20), nullable=False),
        sa.Column("agent", sa.String(50), nullable=True),
        sa.Column("model", sa.String(100), nullable=True),
        sa.Column("slack", sa.JSON(), nullable=True),
        sa.Column("slack_ts", sa.String(40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("request_id"),
    )
    op.create_index("ix_campaigns_created_at", "campaigns", ["created_at"], unique=False)
    op.create_table(
        "campaign_members",
        sa.Column("campaign_id", sa.String(40), nullable=False),
        sa.Column("repo", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("task_id", sa.String(40), nullable=True),
        sa.Column("instruction", sa.Text(), nullable=False),
        sa.Column("cost_cap_usd", sa.Float(), nullable=True),
        sa.Column("earlier_cost_usd", sa.Float(), nullable=False),
        sa.Column("merge_tried", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("campaign_id", "repo"),
    )
    op.create_index("ix_campaign_members_task_id", "campaign_members", ["task_id"], unique=False)


def downgrade() -> None:
    op.drop_table("campaign_members")  # its index goes with it
    op.drop_table("campaigns")
