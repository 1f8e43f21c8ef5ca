"""The files that came with requests, kept with their tasks (the records travel; the bytes stay here)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, func, select

from honk.domain import Attachment
from honk.store.models import AttachmentRow
from honk.store.store import Store


class AttachmentStore:
    def __init__(self, store: Store) -> None:
        self._session, self._writing = store._session, store.writing

    async def keep(self, task_id: str, files: list[tuple[Attachment, bytes]]) -> None:
        """Kept after the task's earlier files (a follow-up's come after the request's)."""
        now = datetime.now(UTC)
        async with self._writing() as s:
            count = select(func.count()).select_from(AttachmentRow).where(AttachmentRow.task_id == task_id)
            start = int((await s.scalar(count)) or 0)
            for position, (a, data) in enumerate(files, start):
                s.add(
                    AttachmentRow(
                        id=a.id,
                        task_id=task_id,
                        position=position,
                        name=a.name,
                        kind=a.kind,
                        media_type=a.media_type,
                        size=a.size,
                        note=a.note,
                        data=data,
                        created_at=now,
                    )
                )
            await s.commit()

    async def files(self, task_id: str) -> list[tuple[Attachment, bytes]]:
        """The task's files in the order they came; [] once retention removed them."""
        q = select(AttachmentRow).where(AttachmentRow.task_id == task_id).order_by(AttachmentRow.position)
        async with self._session() as s:
            rows = (await s.scalars(q)).all()
        return [(_record(r), r.data) for r in rows]

    async def forget(self, ids: list[str]) -> None:
        """Removes these files (a follow-up that could not be delivered leaves none behind)."""
        if not ids:
            return
        async with self._writing() as s:
            await s.execute(delete(AttachmentRow).where(AttachmentRow.id.in_(ids)))
            await s.commit()

    async def forget_before(self, cutoff: datetime) -> int:
        """Removes files kept before `cutoff` (the retention setting); returns how many."""
        async with self._writing() as s:
            result = await s.execute(delete(AttachmentRow).where(AttachmentRow.created_at < cutoff))
            await s.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]  # a DELETE's CursorResult


def _record(row: AttachmentRow) -> Attachment:
    return Attachment.model_validate(
        {
            "id": row.id,
            "name": row.name,
            "kind": row.kind,
            "media_type": row.media_type,
            "size": row.size,
            "note": row.note,
        }
    )
