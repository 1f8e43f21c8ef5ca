"""Triggers: preset tasks a URL starts, as the person who made them (honk.triggering). A trigger's name is
unique on the server (`honk hook delete NAME` needs no repo); its token is kept only as a SHA-256 digest,
which is what a caller's token is looked up by. Nothing here decides who may make one: TaskService's gate
does, before.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from honk.domain import TriggerInfo
from honk.errors import Conflict
from honk.store.models import TriggerRow
from honk.store.store import Store


class Triggers:
    def __init__(self, store: Store) -> None:
        self._session, self._writing = store._session, store.writing

    async def add(
        self, name: str, repo: str, prompt: str, agent: str | None, token_digest: str, by: str
    ) -> TriggerInfo:
        row = TriggerRow(
            name=name,
            repo=repo,
            prompt=prompt,
            agent=agent,
            token_digest=token_digest,
            created_by=by,
            created_at=datetime.now(UTC),
            fired=0,
            last_fired_at=None,
        )
        async with self._writing() as s:
            s.add(row)
            try:
                await s.commit()
            except IntegrityError:
                await s.rollback()
                raise Conflict(
                    f"A trigger named {name!r} already exists (`honk hook list`); pick another name, or delete it first."
                ) from None
        return _record(row)

    async def get(self, name: str) -> TriggerInfo | None:
        async with self._session() as s:
            row = await s.get(TriggerRow, name)
        return _record(row) if row is not None else None

    async def by_digest(self, token_digest: str) -> TriggerInfo | None:
        async with self._session() as s:
            row = (await s.scalars(select(TriggerRow).where(TriggerRow.token_digest == token_digest))).first()
        return _record(row) if row is not None else None

    async def listed(self, repo: str | None = None) -> list[TriggerInfo]:
        q = select(TriggerRow).order_by(TriggerRow.repo, TriggerRow.name)
        if repo is not None:
            q = q.where(TriggerRow.repo == repo)
        async with self._session() as s:
            return [_record(r) for r in (await s.scalars(q)).all()]

    async def remove(self, name: str) -> bool:
        async with self._writing() as s:
            result = await s.execute(delete(TriggerRow).where(TriggerRow.name == name))
            await s.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def fired(self, name: str) -> None:
        """Counts a task the trigger started (a retry that started nothing is not counted)."""
        q = update(TriggerRow).where(TriggerRow.name == name)
        async with self._writing() as s:
            await s.execute(q.values(fired=TriggerRow.fired + 1, last_fired_at=datetime.now(UTC)))
            await s.commit()


def _aware(at: datetime | None) -> datetime | None:
    return at if at is None or at.tzinfo else at.replace(tzinfo=UTC)  # SQLite keeps no zone


def _record(row: TriggerRow) -> TriggerInfo:
    created = _aware(row.created_at)
    assert created is not None
    return TriggerInfo(
        name=row.name,
        repo=row.repo,
        prompt=row.prompt,
        agent=row.agent,
        created_by=row.created_by,
        created_at=created,
        fired=row.fired or 0,
        last_fired_at=_aware(row.last_fired_at),
    )
