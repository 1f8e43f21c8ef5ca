"""The best-of-N group's workflow (HonkAttempts) in process on the real Temporal dev server, its one activity
faked by name: it waits while the attempts run, a task's record of a state change pokes it awake at once (its
timer is an hour: only the poke can wake it in time), and it ends with what the settled look said. The
poke comes from the real record activity writing to the real store."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import cast

from harness import connect, open_store
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.worker import Worker

from honk.domain import RepoRef, TaskRequest
from honk.events import AgentSaid, ChecksStarted, TaskAccepted
from honk.testing.processes import TemporalDevServer
from honk.workflow.activities import Steps, TaskActivities
from honk.workflow.attempts_workflow import SETTLE, AttemptsInput, AttemptsSettled, AttemptsWorkflow, workflow_id
from honk.workflow.records import RecordInput


async def test_a_recorded_move_pokes_the_group_awake(tmp_path: Path, temporal: TemporalDevServer) -> None:
    client = await connect(temporal.address)
    store = await open_store(tmp_path)
    looks: list[int] = []
    settled = asyncio.Event()

    @activity.defn(name=SETTLE)
    async def settle(inp: AttemptsInput) -> AttemptsSettled:
        looks.append(len(looks) + 1)
        return AttemptsSettled(done=True, said="1. attempt 1") if settled.is_set() else AttemptsSettled()

    group = f"best-{uuid.uuid4().hex[:12]}"
    req = TaskRequest(
        task_id=f"t-{uuid.uuid4().hex[:10]}",
        request_id=f"{group}-attempt-1",
        repo=RepoRef(name="calc", url="/nowhere"),
        text="make add() add",
        requested_by="ada",
        attempt_group=group,
        attempt=1,
        attempts=2,
    )
    await store.create_task(req, "honk/x")
    acts = TaskActivities(cast(Steps, None), store, client=client)  # only its record step is used here
    record = acts.record
    queue = f"attempts-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=queue, workflows=[AttemptsWorkflow], activities=[settle]):
        handle = await client.start_workflow(
            AttemptsWorkflow.run, AttemptsInput(group=group, poll_s=3600), id=workflow_id(group), task_queue=queue
        )
        async with asyncio.timeout(30):
            while not looks:
                await asyncio.sleep(0.05)
        # An event that moves nothing pokes nobody; one that moves the task (its state) pokes the group.
        await record(RecordInput(task_id=req.task_id, events=[AgentSaid(text="thinking")], attempt_group=group))
        await record(
            RecordInput(task_id=req.task_id, events=[TaskAccepted(repo="calc", text="x", requested_by="a", agent="s")])
        )
        assert not acts._telling  # nothing was sent: no poke is on its way
        assert looks == [1]
        settled.set()
        await record(
            RecordInput(task_id=req.task_id, events=[ChecksStarted(round=1, names=["test"])], attempt_group=group)
        )
        async with asyncio.timeout(30):  # far sooner than the hour's timer: the poke woke it
            result = await handle.result()
        assert result == AttemptsSettled(done=True, said="1. attempt 1") and looks == [1, 2]
        assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    await store.close()
