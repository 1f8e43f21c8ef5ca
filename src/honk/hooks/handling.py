"""A forge delivery as its workflow (honk.hooks.delivery_workflow) carries it, and the record of what
came of it (the activity `DeliverySteps.handled`). What Honk does with it is the forge front door's
activity (`honk.forgedoor.door`, named `forge_act`): it acts through TaskService, a layer above this one.
"""

from __future__ import annotations

import asyncio

from temporalio import activity

from honk.domain import Carried, ForgeKind
from honk.hooks.events import ForgeEvent
from honk.store.deliveries import HookDeliveries


class HookDelivery(Carried):
    """A delivery handed to its workflow: which one (to record what came of it), and what it says."""

    forge: ForgeKind
    delivery_id: str
    event: ForgeEvent


class DeliveryHandled(Carried):
    forge: ForgeKind
    delivery_id: str
    detail: str


class DeliverySteps:
    """The delivery workflow's activities: the worker builds one with the store and registers `all()`.

    A worker finishing a burst records many deliveries at once: the records that come while one write is
    under way wait for the next, which takes them all. SQLite has one write lock for every process, and
    the web server's answers wait for it too (each one stores its delivery), so fewer, larger writes here
    keep those answers fast.
    """

    def __init__(self, deliveries: HookDeliveries) -> None:
        self.deliveries = deliveries
        self._waiting: list[tuple[DeliveryHandled, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    @activity.defn(name="hook_delivery_handled")
    async def handled(self, done: DeliveryHandled) -> None:
        written = asyncio.get_running_loop().create_future()
        self._waiting.append((done, written))
        if len(self._waiting) == 1:
            self._writer = asyncio.create_task(self._write())  # held: a task nobody holds may be collected
        await written  # the activity completes once its record is written, or fails with the write

    async def _write(self) -> None:
        await asyncio.sleep(0)  # the records arriving in this turn of the loop join the first write
        while batch := self._waiting[:]:
            try:
                await self.deliveries.all_handled([(d.forge, d.delivery_id, d.detail) for d, _ in batch])
            except Exception as e:  # noqa: BLE001 - each activity fails with it, and Temporal retries it
                for _, written in batch:
                    if not written.done():
                        written.set_exception(e)
            else:
                for _, written in batch:
                    if not written.done():  # an activity cancelled meanwhile has nobody waiting
                        written.set_result(None)
            del self._waiting[: len(batch)]

    def all(self) -> list:
        return [self.handled]
