"""honk.store.batching.WriteBatch: a burst's items in few writes, each waiter told how its write went."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from honk.store.batching import WriteBatch


async def test_a_burst_goes_in_two_writes_and_every_item_once():
    writes: list[list[int]] = []
    writing = asyncio.Event()

    async def write(items: Sequence[int]) -> None:
        writes.append(list(items))
        writing.set()
        await asyncio.sleep(0.01)  # a write takes a moment: what comes meanwhile waits for the next

    batch = WriteBatch(write)
    first = [batch.add(i) for i in range(10)]
    await writing.wait()  # the first write is under way
    later = [batch.add(i) for i in range(10, 20)]
    await asyncio.gather(*first, *later)
    assert writes == [list(range(10)), list(range(10, 20))]


async def test_a_failed_write_fails_its_items_and_the_next_ones_are_still_written():
    writes: list[list[str]] = []
    failing = asyncio.Event()

    async def write(items: Sequence[str]) -> None:
        writes.append(list(items))
        if "bad" in items:
            failing.set()
            await asyncio.sleep(0.01)
            raise RuntimeError("disk full")

    batch = WriteBatch(write)
    bad = batch.add("bad")
    await failing.wait()
    after = batch.add("after")  # added while the failing write is under way
    with pytest.raises(RuntimeError, match="disk full"):
        await bad
    await asyncio.wait_for(after, 5)
    assert writes == [["bad"], ["after"]]
    await batch.add("again")
    assert writes[-1] == ["again"], "a new burst starts a new writer"


async def test_a_write_can_fail_some_items_and_write_the_others():
    async def write(items: Sequence[str]) -> list[Exception | None]:
        return [LookupError(item) if item.startswith("no") else None for item in items]

    batch = WriteBatch(write)
    good, bad = batch.add("yes"), batch.add("no such task")
    await good
    with pytest.raises(LookupError, match="no such task"):
        await bad
