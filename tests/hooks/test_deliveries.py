"""The deliveries' store: one row per (forge, delivery id), kept as it first came, moved only forward."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from honk.hooks.handling import DeliveryHandled, DeliverySteps
from honk.store import Store
from honk.store.deliveries import HookDeliveries


@pytest.fixture
async def deliveries(tmp_path: Path) -> AsyncIterator[HookDeliveries]:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'honk.db'}")
    await store.create_schema()
    yield HookDeliveries(store)
    await store.close()


async def test_a_delivery_is_stored_once(deliveries: HookDeliveries):
    first, new = await deliveries.received("github", "d-1", "push", '{"a": 1}')
    assert new and first.state == "received" and first.received_at.tzinfo is not None
    again, new_again = await deliveries.received("github", "d-1", "push", '{"forged": true}')
    assert not new_again and again.payload == '{"a": 1}', "a redelivery keeps the first payload"
    other, other_new = await deliveries.received("gitlab", "d-1", "Push Hook", "{}")
    assert other_new and other.forge == "gitlab", "ids are per forge"


async def test_racing_redeliveries_store_one(deliveries: HookDeliveries):
    results = await asyncio.gather(*(deliveries.received("github", "d-2", "push", "{}") for _ in range(8)))
    assert sum(new for _, new in results) == 1


async def test_states_only_move_forward(deliveries: HookDeliveries):
    await deliveries.received("github", "d-3", "push", "{}")
    assert await deliveries.moved("github", "d-3", "started")
    assert not await deliveries.moved("github", "d-3", "started")
    assert await deliveries.moved("github", "d-3", "handled", "would do: nothing")
    assert not await deliveries.moved("github", "d-3", "started"), "a late start does not take it back"
    stored = await deliveries.get("github", "d-3")
    assert stored is not None and (stored.state, stored.detail) == ("handled", "would do: nothing")
    assert not await deliveries.moved("github", "missing", "started")


async def test_a_burst_moves_in_one_write_and_still_only_forward(deliveries: HookDeliveries):
    ids = [f"b-{i}" for i in range(1200)]  # more than one statement's worth of ids
    for i in ids:
        await deliveries.received("github", i, "push", "{}")
    await deliveries.moved("github", "b-7", "handled", "done")
    assert await deliveries.all_moved("github", [*ids, "missing"], "started") == len(ids) - 1
    assert await deliveries.all_moved("github", ids, "started") == 0, "a second time moves none"
    assert await deliveries.all_moved("gitlab", ids, "started") == 0, "ids are per forge"
    seventh, last = await deliveries.get("github", "b-7"), await deliveries.get("github", "b-1199")
    assert seventh is not None and (seventh.state, seventh.detail) == ("handled", "done"), "not taken back"
    assert last is not None and last.state == "started"


async def test_waiting_lists_what_was_never_handed_on(deliveries: HookDeliveries):
    await deliveries.received("github", "old", "push", "{}")
    await deliveries.received("github", "gone-on", "push", "{}")
    await deliveries.moved("github", "gone-on", "started")
    assert [d.id for d in await deliveries.waiting(datetime.now(UTC) + timedelta(seconds=1))] == ["old"]
    assert await deliveries.waiting(datetime.now(UTC) - timedelta(minutes=1)) == []


async def test_a_workers_records_are_written_together_each_with_its_detail(deliveries: HookDeliveries):
    ids = [f"h-{i}" for i in range(30)]
    for i in ids:
        await deliveries.received("github", i, "push", "{}")
    await deliveries.moved("github", "h-3", "handled", "first")
    steps = DeliverySteps(deliveries)
    done = [DeliveryHandled(forge="github", delivery_id=i, detail=f"did {i}") for i in ids]
    await asyncio.gather(*(steps.handled(d) for d in done))
    stored = {i: await deliveries.get("github", i) for i in ids}
    assert {i: (s.state, s.detail) for i, s in stored.items() if s} == {
        i: ("handled", "first" if i == "h-3" else f"did {i}") for i in ids
    }, "each its own detail; one handled before keeps its own"
    assert await deliveries.all_handled([]) == 0
