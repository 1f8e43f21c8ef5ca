"""Best of N's reads (honk.attempts). A group has no table of its own: its attempts are ordinary tasks whose
request ids are `<group>-attempt-<i>`, so the group is one prefix query on the tasks' unique (indexed)
request_id, and everything shown of an attempt is its row and the timeline kept with it."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from honk.domain import Record, TaskView
from honk.store.models import AttemptPickRow, TaskRow
from honk.store.store import Store, _view
from honk.timeline import Timeline


def attempt_request_id(group: str, attempt: int) -> str:
    """The request id of a group's attempt `attempt` (a retried start submits the same tasks)."""
    return f"{group}-attempt-{attempt}"


class StoredPick(Record):
    """A group's pick as the store keeps it: which attempt, by whom."""

    group: str
    task_id: str
    attempt: int
    picked_by: str


class AttemptStore:
    def __init__(self, store: Store) -> None:
        self._session, self._writing = store._session, store.writing

    async def claim_pick(self, pick: StoredPick) -> tuple[StoredPick, bool]:
        """Records the group's pick unless one is recorded already: the pick that stands, and whether it is
        this one. A conditional write (an insert keyed by the group), so two picks at once from separate
        processes cannot both win; an in-process lock could not see the other process."""
        row = {
            "group_id": pick.group,
            "task_id": pick.task_id,
            "attempt": pick.attempt,
            "picked_by": pick.picked_by,
            "picked_at": datetime.now(UTC),
        }
        async with self._writing() as s:
            try:
                await s.execute(insert(AttemptPickRow).values(**row))
                await s.commit()
                return pick, True
            except IntegrityError:
                await s.rollback()
        earlier = await self.picked(pick.group)
        assert earlier is not None, "a pick is never deleted"
        return earlier, False

    async def picked(self, group: str) -> StoredPick | None:
        """The group's pick, if one was made."""
        async with self._session() as s:
            row = await s.get(AttemptPickRow, group)
        if row is None:
            return None
        return StoredPick(group=row.group_id, task_id=row.task_id, attempt=row.attempt, picked_by=row.picked_by)

    async def of_group(self, group: str) -> list[tuple[TaskView, Timeline]]:
        """The group's attempts in the order they were asked (none: no such group)."""
        prefix = attempt_request_id(group, 0)[:-1]
        q = (
            select(TaskRow)
            .where(TaskRow.request_id.startswith(prefix, autoescape=True))
            .order_by(TaskRow.created_at, TaskRow.id)
            .limit(100)  # a group has at most MAX_ATTEMPTS; a prefix never reaches further
        )
        async with self._session() as s:
            rows = (await s.scalars(q)).all()
        return [(_view(r), Timeline.model_validate(r.timeline) if r.timeline else Timeline()) for r in rows]
