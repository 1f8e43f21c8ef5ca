"""The audit log, append-only: triggers refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from honk.store.audit import APPEND_ONLY_DDL, APPEND_ONLY_DROP

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("front_door", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("repo", sa.String(length=100), nullable=True),
        sa.Column("task_id", sa.String(length=40), nullable=True),
        sa.Column("rule", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("action", "actor", "at", "task_id"):
        op.create_index(op.f(f"ix_audit_{column}"), "audit", [column], unique=False)
    dialect = op.get_context().dialect.name
    if dialect not in APPEND_ONLY_DDL:
        logging.getLogger(__name__).warning("the audit log is not append-only on %s: no triggers for it", dialect)
    for statement in APPEND_ONLY_DDL.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("audit")  # its indexes and triggers go with it
    for statement in APPEND_ONLY_DROP.get(op.get_context().dialect.name, []):
        op.execute(statement)
