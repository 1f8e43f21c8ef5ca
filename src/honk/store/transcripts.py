"""Agents' session transcripts in Honk's store (Honk's `Transcripts`): what a follow-up needs to resume
the conversation on any worker. Entries are opaque JSON, redacted like everything Honk keeps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from honk.redaction import Redactor
from honk.store.models import TranscriptRow
from honk.store.store import Store


class TranscriptStore:
    def __init__(self, store: Store, redactor: Redactor | None = None) -> None:
        self._session, self._writing = store._session, store.writing
        self.redactor = redactor or Redactor()

    async def append(self, session: str, entries: list[dict[str, Any]]) -> None:
        """Adds the entries in order; an entry whose `uuid` is already kept (a retried batch) is skipped."""
        async with self._writing() as s:
            uuids = [str(e["uuid"]) for e in entries if e.get("uuid")]
            seen = set()
            if uuids:
                q = select(TranscriptRow.uuid).where(TranscriptRow.session == session, TranscriptRow.uuid.in_(uuids))
                seen = set((await s.scalars(q)).all())
            now = datetime.now(UTC)
            for entry in entries:
                uuid = str(entry["uuid"]) if entry.get("uuid") else None
                if uuid is not None and uuid in seen:
                    continue
                seen.add(uuid)
                s.add(TranscriptRow(session=session[:200], uuid=uuid, at=now, entry=self.redactor.json(entry)))
            await s.commit()

    async def load(self, session: str) -> list[dict[str, Any]] | None:
        q = select(TranscriptRow.entry).where(TranscriptRow.session == session).order_by(TranscriptRow.id)
        async with self._session() as s:
            rows = list((await s.scalars(q)).all())
        return rows or None
