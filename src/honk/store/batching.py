"""Writes that come in bursts, made together: the items added while one write is under way go in the next
one, all at once. SQLite has one write lock for every process, and the web server's answers wait on it too,
so a burst's hundred small writes cost them more than two large ones (docs/benchmarks.md, "The pull request
as a front door")."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class WriteBatch(Generic[T]):
    def __init__(self, write: Callable[[Sequence[T]], Awaitable[Sequence[Exception | None] | None]]) -> None:
        """`write`: makes one write of every item it is given. It returns None when all were written, or,
        item by item, what kept each one out (None: that one was written); what it raises fails them all."""
        self._write = write
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None  # held: a task nobody holds may be collected

    def add(self, item: T) -> asyncio.Future[None]:
        """Done once a write holding `item` has finished; failed with what that write raised."""
        written = asyncio.get_running_loop().create_future()
        self._waiting.append((item, written))
        if len(self._waiting) == 1:
            self._writer = asyncio.create_task(self._drain())
        return written

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # the items added in this turn of the loop join the first write
        while batch := self._waiting[:]:
            try:
                failed = await self._write([item for item, _ in batch])
            except Exception as e:  # noqa: BLE001 - each item's future carries it to whoever waits
                failed = [e] * len(batch)
            for (_, written), problem in zip(batch, failed or [None] * len(batch), strict=True):
                if written.done():  # a waiter cancelled meanwhile has nobody to tell
                    continue
                if problem is None:
                    written.set_result(None)
                else:
                    written.set_exception(problem)
            del self._waiting[: len(batch)]  # the loop goes on: items added meanwhile have no other writer
