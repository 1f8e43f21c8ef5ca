"""The audit log: an append-only record of every request, follow-up, merge, cancel, refusal and
sandbox violation — who, when, what, through which front door.

Append-only is the database's job, not only this module's: triggers refuse UPDATE and DELETE on
the table, so a bug (or a person with the database open) cannot quietly rewrite history.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from honk.domain import AuditAction, AuditOutcome, Door, Record
from honk.redaction import redactor
from honk.store.models import AuditRow
from honk.store.store import Store

# The triggers that make the table append-only, per dialect. Revision 0002 (honk.store.migrations)
# installs them with the table; this is their one definition. They are frozen with that revision:
# changing them means a new revision that replaces them, never an edit here.
_SQLITE_GUARD = """CREATE TRIGGER IF NOT EXISTS audit_append_only_{op} BEFORE {op} ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"""
_PG_FUNCTION = """CREATE OR REPLACE FUNCTION honk_audit_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$ LANGUAGE plpgsql"""
_PG_TRIGGER = """CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit
FOR EACH STATEMENT EXECUTE FUNCTION honk_audit_append_only()"""
APPEND_ONLY_DDL: dict[str, list[str]] = {
    "sqlite": [_SQLITE_GUARD.format(op=op) for op in ("UPDATE", "DELETE")],
    "postgresql": [_PG_FUNCTION, _PG_TRIGGER],
}
# What undoes them (a downgrade); on both dialects dropping the table drops its triggers.
APPEND_ONLY_DROP: dict[str, list[str]] = {
    "sqlite": [],
    "postgresql": ["DROP FUNCTION IF EXISTS honk_audit_append_only()"],
}


class AuditEntry(Record):
    id: int | None = None
    at: datetime | None = None
    actor: str
    front_door: Door
    action: AuditAction
    outcome: AuditOutcome
    repo: str | None = None
    task_id: str | None = None
    rule: str | None = None
    detail: str = ""


class AuditQuery(Record):
    actor: str | None = None
    action: AuditAction | None = None
    outcome: AuditOutcome | None = None
    repo: str | None = None
    task_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200


class AuditLog:
    def __init__(self, store: Store) -> None:
        self._session, self._writing = store._session, store.writing

    async def add(self, *entries: AuditEntry) -> None:
        now = datetime.now(UTC)
        async with self._writing() as s:
            for e in map(redactor().record, entries):
                s.add(
                    AuditRow(
                        at=e.at or now,
                        actor=e.actor[:200],
                        front_door=e.front_door,
                        action=e.action,
                        outcome=e.outcome,
                        repo=e.repo,
                        task_id=e.task_id,
                        rule=e.rule,
                        detail=e.detail[:4000],
                    )
                )
            await s.commit()

    async def find(self, q: AuditQuery) -> list[AuditEntry]:
        stmt = select(AuditRow).order_by(AuditRow.id.desc()).limit(max(1, min(q.limit, 10_000)))
        for column, value in (
            (AuditRow.actor, q.actor),
            (AuditRow.action, q.action),
            (AuditRow.outcome, q.outcome),
            (AuditRow.repo, q.repo),
            (AuditRow.task_id, q.task_id),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if q.since is not None:
            stmt = stmt.where(AuditRow.at >= _utc(q.since))
        if q.until is not None:
            stmt = stmt.where(AuditRow.at < _utc(q.until))
        async with self._session() as s:
            rows = (await s.scalars(stmt)).all()
        return [
            AuditEntry(
                id=r.id,
                at=r.at if r.at.tzinfo else r.at.replace(tzinfo=UTC),
                actor=r.actor,
                front_door=r.front_door,  # pyright: ignore[reportArgumentType] - validated by the model
                action=r.action,  # pyright: ignore[reportArgumentType]
                outcome=r.outcome,  # pyright: ignore[reportArgumentType]
                repo=r.repo,
                task_id=r.task_id,
                rule=r.rule,
                detail=r.detail,
            )
            for r in rows
        ]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
