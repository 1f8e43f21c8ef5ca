"""Each task keeps its Timeline (honk.timeline) — one reading of its events, folded as they arrive —
as JSON beside its summary columns. NULL for a task written before: it is folded from its events the
first time it is read or written.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:  # batch: SQLite cannot ALTER every way PostgreSQL can
        batch.add_column(sa.Column("timeline", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_column("timeline")
