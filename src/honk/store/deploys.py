"""Deploy history: every deploy of a repo's merged changes — which commit, for which task, who set it off,
when it started and ended, what it came to ("live", "deploy failed", "health never passed"), its link
and why it failed.

Written by the worker that deploys (a row when it starts, moved as it goes), read by `honk deploys REPO`,
the task page and a revert (the last commit that was live). The audit log keeps who asked, unchangeable;
this is the running record, so it is updated in place.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from honk.domain import DEPLOY_ENDED, DeployRecord, DeployState
from honk.store.models import DeployRow
from honk.store.store import Store

MAX_DETAIL = 4000  # the distilled log or the last answer: a page's worth
MAX_LISTED = 500


class DeployHistory:
    def __init__(self, store: Store) -> None:
        self._session, self._writing = store._session, store.writing

    async def started(self, repo: str, task_id: str | None, commit: str, by: str) -> int:
        """A deploy of `commit` began ("deploying"); its id, for `moved`."""
        row = DeployRow(
            repo=repo,
            task_id=task_id,
            commit=commit,
            by=by,
            started_at=datetime.now(UTC),
            result="deploying",
            detail="",
        )
        async with self._writing() as s:
            s.add(row)
            await s.commit()
            return row.id

    async def moved(self, deploy_id: int, state: DeployState, *, detail: str = "", link: str | None = None) -> bool:
        """The deploy is now `state` (it ended, when that is "live", "deploy_failed" or "health_failed").
        An ended deploy stays as it ended; False when there was none to move."""
        values: dict[str, object] = {"result": state, "detail": detail[-MAX_DETAIL:]}
        if link is not None:
            values["link"] = link
        if state in DEPLOY_ENDED:
            values["finished_at"] = datetime.now(UTC)
        q = update(DeployRow).where(DeployRow.id == deploy_id, DeployRow.result.not_in(DEPLOY_ENDED))
        async with self._writing() as s:
            result = await s.execute(q.values(**values))
            await s.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def get(self, deploy_id: int) -> DeployRecord | None:
        async with self._session() as s:
            row = await s.get(DeployRow, deploy_id)
        return _record(row) if row is not None else None

    async def listed(self, repo: str, limit: int = 50) -> list[DeployRecord]:
        """The repo's deploys, newest first."""
        q = select(DeployRow).where(DeployRow.repo == repo).order_by(DeployRow.id.desc())
        async with self._session() as s:
            rows = (await s.scalars(q.limit(max(1, min(limit, MAX_LISTED))))).all()
        return [_record(r) for r in rows]

    async def of_task(self, task_id: str) -> list[DeployRecord]:
        """A task's deploys, oldest first (its merge's, and any again after a failure)."""
        q = select(DeployRow).where(DeployRow.task_id == task_id).order_by(DeployRow.id)
        async with self._session() as s:
            return [_record(r) for r in (await s.scalars(q)).all()]

    async def last_live(self, repo: str, before: int | None = None) -> DeployRecord | None:
        """The newest deploy of `repo` that went live (before deploy `before`, when given): what a revert
        of a failed deploy puts back."""
        q = select(DeployRow).where(DeployRow.repo == repo, DeployRow.result == "live")
        if before is not None:
            q = q.where(DeployRow.id < before)
        async with self._session() as s:
            row = (await s.scalars(q.order_by(DeployRow.id.desc()).limit(1))).first()
        return _record(row) if row is not None else None


def _record(row: DeployRow) -> DeployRecord:
    return DeployRecord(
        id=row.id,
        repo=row.repo,
        task_id=row.task_id,
        commit=row.commit,
        by=row.by,
        started_at=_aware(row.started_at),
        finished_at=_aware(row.finished_at) if row.finished_at is not None else None,
        state=row.result,  # type: ignore[arg-type]  # written from DeployState only
        link=row.link,
        detail=row.detail or "",
    )


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite keeps no time zone
