"""Repos may live on a forge (GitHub, GitLab): where, as JSON ({kind, project, api_url}); NULL for a
plain git remote.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("repos") as batch:  # batch: SQLite cannot ALTER every way PostgreSQL can
        batch.add_column(sa.Column("forge", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("repos") as batch:
        batch.drop_column("forge")
