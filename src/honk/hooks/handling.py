"""A forge delivery as its workflow (honk.hooks.delivery_workflow) carries it, and the record of what
came of it (the activity `DeliverySteps.handled`). What Honk does with it is the forge front door's
activity (`honk.forgedoor.door`, named `forge_act`): it acts through TaskService, a layer above this one.
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio import activity

from honk.domain import Carried, ForgeKind
from honk.hooks.events import ForgeEvent
from honk.store.batching import WriteBatch
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

    A worker finishing a burst records its deliveries together (honk.store.batching): the web server's
    answers wait on the same SQLite write lock.
    """

    def __init__(self, deliveries: HookDeliveries) -> None:
        self.deliveries = deliveries
        self._records: WriteBatch[DeliveryHandled] = WriteBatch(self._write)

    @activity.defn(name="hook_delivery_handled")
    async def handled(self, done: DeliveryHandled) -> None:
        await self._records.add(done)  # completes once its record is written, or fails with the write

    async def _write(self, records: Sequence[DeliveryHandled]) -> None:
        await self.deliveries.all_handled([(d.forge, d.delivery_id, d.detail) for d in records])

    def all(self) -> list:
        return [self.handled]
