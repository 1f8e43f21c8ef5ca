"""A forge delivery's workflow, started by the web server (honk.hooks.intake) with the delivery's id as
its own: Temporal refuses a second start of the same id, so a delivery is acted on once however often the
forge sends it, and it runs when a worker is there to run it (a delivery that comes while every worker is
down waits in Temporal, not in the web server).

What to do is the forge front door's activity (`forge_act`, called by name: it lives a layer above, in
honk.forgedoor); the record of what came of it is this package's. An action that keeps failing is recorded
as such, so a delivery never stays "started" for ever.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from honk.hooks.handling import DeliveryHandled, DeliverySteps, HookDelivery

NAME = "HonkHookDelivery"
ACT = "forge_act"  # honk.forgedoor.door.ForgeFrontDoor.act
LOCAL_RECORD = "hook-record-local-v1"
RECORD_RETRY = RetryPolicy(maximum_interval=timedelta(seconds=30))


def workflow_id(delivery: HookDelivery) -> str:
    return f"hook-{delivery.forge}-{delivery.delivery_id}"


# Outside Temporal's sandbox: this workflow calls two activities and does nothing else that could differ on
# replay, and a sandbox built for each of a burst's deliveries was a fifth of the worker's CPU, which the web
# server's answers share the machine with (docs/benchmarks.md, "The pull request as a front door").
@workflow.defn(name=NAME, sandboxed=False)
class HookDeliveryWorkflow:
    @workflow.run
    async def run(self, delivery: HookDelivery) -> str:
        try:
            detail = await workflow.execute_activity(
                ACT,
                delivery,
                result_type=str,
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(minutes=1)),
            )
        except ActivityError as e:
            detail = f"failed: {e.cause or e}"[:1000]
        done = DeliveryHandled(forge=delivery.forge, delivery_id=delivery.delivery_id, detail=detail)
        # A local activity: one short write needs no task queue round trip of its own. Each delivery costs
        # Temporal one workflow task and four history events fewer, which a burst's answers share the
        # machine with (docs/benchmarks.md, "The pull request as a front door"). Histories from before the
        # patch scheduled it as an ordinary activity.
        record = (
            workflow.execute_local_activity_method
            if workflow.patched(LOCAL_RECORD)
            else workflow.execute_activity_method
        )
        await record(
            DeliverySteps.handled, done, start_to_close_timeout=timedelta(seconds=30), retry_policy=RECORD_RETRY
        )
        return detail
