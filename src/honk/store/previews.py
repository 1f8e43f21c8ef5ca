"""Running previews: per task, where its server answers (the worker that runs it and the endpoint the
web server reaches), its state, when it was last opened, and the generation of its signed links.

Written by the worker that runs a preview (`honk.preview.host`), read by the web server through
TaskService (to proxy, to wake, to revoke links) and by each worker's reaper (idle stop, stop wanted).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from honk.domain import PreviewEndpoint, PreviewInfo, PreviewState
from honk.store.models import PreviewRow
from honk.store.store import Store


class PreviewRegistry:
    def __init__(self, store: Store) -> None:
        self._session, self._writing = store._session, store.writing

    async def register(
        self,
        task_id: str,
        worker: str,
        state: PreviewState,
        endpoint: PreviewEndpoint | None = None,
        detail: str = "",
        idle_stop_s: float = 900.0,
    ) -> None:
        """Where the task's preview is now (made, or moved to this worker); its links stay as they were."""
        now = datetime.now(UTC)
        async with self._writing() as s:
            row = await s.get(PreviewRow, task_id)
            if row is None:
                row = PreviewRow(task_id=task_id, link_generation=0)
                s.add(row)
            row.worker, row.state, row.detail, row.idle_stop_s = worker, state, detail[-4000:], idle_stop_s
            row.address = endpoint.address if endpoint else None
            row.token = endpoint.token if endpoint else None
            row.stop_wanted = False
            row.updated_at = now
            if state == "running":
                row.started_at, row.last_access = now, now
            await s.commit()

    async def set_state(self, task_id: str, state: PreviewState, detail: str = "", worker: str | None = None) -> bool:
        """Moves the preview to `state` (only where `worker` still holds it, when given); False when it did not."""
        q = update(PreviewRow).where(PreviewRow.task_id == task_id)
        if worker is not None:
            q = q.where(PreviewRow.worker == worker)
        values: dict[str, object] = {"state": state, "updated_at": datetime.now(UTC)}
        if detail or state != "running":
            values["detail"] = detail[-4000:]
        if state in ("stopped", "failed"):
            values |= {"address": None, "token": None, "stop_wanted": False}
        async with self._writing() as s:
            result = await s.execute(q.values(**values))
            await s.commit()
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def get(self, task_id: str) -> PreviewInfo | None:
        async with self._session() as s:
            row = await s.get(PreviewRow, task_id)
        return _info(row) if row is not None else None

    async def touch(self, task_id: str) -> None:
        """Someone opened it just now (the web server says so at most every few seconds per preview)."""
        async with self._writing() as s:
            await s.execute(
                update(PreviewRow).where(PreviewRow.task_id == task_id).values(last_access=datetime.now(UTC))
            )
            await s.commit()

    async def revoke_links(self, task_id: str) -> int:
        """Every link signed so far stops working; returns the new generation (links are signed with it)."""
        async with self._writing() as s:
            row = await s.get(PreviewRow, task_id)
            if row is None:
                row = PreviewRow(task_id=task_id, state="stopped", worker="", detail="", link_generation=0)
                s.add(row)
            row.link_generation += 1
            row.updated_at = datetime.now(UTC)
            generation = row.link_generation
            await s.commit()
        return generation

    async def want_stop(self, task_id: str) -> None:
        """Asks the worker that runs it to stop it (its reaper looks every few seconds)."""
        async with self._writing() as s:
            await s.execute(update(PreviewRow).where(PreviewRow.task_id == task_id).values(stop_wanted=True))
            await s.commit()

    async def on_worker(self, worker: str) -> list[PreviewInfo]:
        """The previews a worker holds (starting or running)."""
        q = select(PreviewRow).where(PreviewRow.worker == worker, PreviewRow.state.in_(("starting", "running")))
        async with self._session() as s:
            return [_info(r) for r in (await s.scalars(q)).all()]


def _info(row: PreviewRow) -> PreviewInfo:
    endpoint = PreviewEndpoint(address=row.address, token=row.token or "") if row.address else None
    return PreviewInfo(
        task_id=row.task_id,
        state=row.state,  # type: ignore[arg-type]  # written from PreviewState only
        endpoint=endpoint,
        worker=row.worker or "",
        detail=row.detail or "",
        started_at=_aware(row.started_at),
        last_access=_aware(row.last_access),
        link_generation=row.link_generation,
        stop_wanted=bool(row.stop_wanted),
        idle_stop_s=row.idle_stop_s or 900.0,
    )


def _aware(at: datetime | None) -> datetime | None:
    return at if at is None or at.tzinfo else at.replace(tzinfo=UTC)  # SQLite keeps no time zone
