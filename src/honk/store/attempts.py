"""Best of N's reads (honk.attempts). A group has no table of its own: its attempts are ordinary tasks whose
request ids are `<group>-attempt-<i>`, so the group is one prefix query on the tasks' unique (indexed)
request_id, and everything shown of an attempt is its row and the timeline kept with it."""

from __future__ import annotations

from sqlalchemy import select

from honk.domain import TaskView
from honk.store.models import TaskRow
from honk.store.store import Store, _view
from honk.timeline import Timeline


def attempt_request_id(group: str, attempt: int) -> str:
    """The request id of a group's attempt `attempt` (a retried start submits the same tasks)."""
    return f"{group}-attempt-{attempt}"


class AttemptStore:
    def __init__(self, store: Store) -> None:
        self._session = store._session

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
