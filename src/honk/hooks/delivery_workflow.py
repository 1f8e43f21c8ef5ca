"""A forge delivery's workflow, started by the web server (honk.hooks.intake) with the delivery's id as
its own: Temporal refuses a second start of the same id, so a delivery is acted on once however often the
forge sends it, and it runs when a worker is there to run it (a delivery that comes while every worker is
down waits in Temporal, not in the web server).

Deterministic: what to do is decided by a pure function, the record of it is an activity.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from honk.hooks.handling import DeliveryHandled, DeliverySteps, HookDelivery, would_do

NAME = "HonkHookDelivery"


def workflow_id(delivery: HookDelivery) -> str:
    return f"hook-{delivery.forge}-{delivery.delivery_id}"


@workflow.defn(name=NAME)
class HookDeliveryWorkflow:
    @workflow.run
    async def run(self, delivery: HookDelivery) -> str:
        detail = would_do(delivery.event)
        await workflow.execute_activity_method(
            DeliverySteps.handled,
            DeliveryHandled(forge=delivery.forge, delivery_id=delivery.delivery_id, detail=detail),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
        )
        return detail
