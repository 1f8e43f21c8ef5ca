"""Network allowances: per repo and host, the phases an admin allowed it for, and who did so when.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "repo_network_allowances",
        sa.Column("repo", sa.String(100), sa.ForeignKey("repos.name", ondelete="CASCADE"), primary_key=True),
        sa.Column("host", sa.String(260), primary_key=True),
        sa.Column("phases", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("repo_network_allowances")
