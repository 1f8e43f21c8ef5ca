"""Which task answers on which issue or pull request.

A task asked for on the forge (a mention on an issue) is linked to that issue; every task with a pull
request is linked to it once the pull request exists, so that a comment, a review or a failed check on
it finds its task. Repos' names are kept in lower case: forges match them without case.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from honk.domain import ForgeKind, Record
from honk.store.models import ForgeThreadRow
from honk.store.store import Store


class LinkedThread(Record):
    forge: ForgeKind
    repo: str
    number: int
    task_id: str
    pull_request: bool


class ForgeThreads:
    def __init__(self, store: Store) -> None:
        self._session, self._writing = store._session, store.writing

    async def link(self, forge: ForgeKind, repo: str, number: int, task_id: str, pull_request: bool) -> bool:
        """Links the issue or pull request to the task (a later task that takes it over replaces the
        link); False when it was linked to that task already."""
        now = datetime.now(UTC)
        async with self._writing() as s:
            row = await s.get(ForgeThreadRow, (forge, repo.lower(), number))
            if row is not None and row.task_id == task_id:
                return False
            if row is None:
                s.add(
                    ForgeThreadRow(
                        forge=forge,
                        repo=repo.lower(),
                        number=number,
                        task_id=task_id,
                        pull_request=pull_request,
                        updated_at=now,
                    )
                )
            else:
                row.task_id, row.pull_request, row.updated_at = task_id, pull_request, now
            try:
                await s.commit()
            except IntegrityError:  # linked concurrently by another delivery: theirs stands
                await s.rollback()
                return False
        return True

    async def get(self, forge: ForgeKind, repo: str, number: int) -> LinkedThread | None:
        async with self._session() as s:
            row = await s.get(ForgeThreadRow, (forge, repo.lower(), number))
        return _record(row) if row is not None else None

    async def of_task(self, task_id: str) -> list[LinkedThread]:
        async with self._session() as s:
            rows = (await s.scalars(select(ForgeThreadRow).where(ForgeThreadRow.task_id == task_id))).all()
        return [_record(r) for r in rows]


def _record(row: ForgeThreadRow) -> LinkedThread:
    return LinkedThread(
        forge=row.forge,  # type: ignore[arg-type]  # written from ForgeKind only
        repo=row.repo,
        number=row.number,
        task_id=row.task_id,
        pull_request=row.pull_request,
    )
