"""Honk's `Transcripts`, kept in memory: for agent runs outside a worker (benchmarks, conformance tests)."""

from __future__ import annotations

from typing import Any


class MemoryTranscripts:
    def __init__(self) -> None:
        self.sessions: dict[str, list[dict[str, Any]]] = {}

    async def append(self, session: str, entries: list[dict[str, Any]]) -> None:
        self.sessions.setdefault(session, []).extend(entries)

    async def load(self, session: str) -> list[dict[str, Any]] | None:
        return self.sessions.get(session)
