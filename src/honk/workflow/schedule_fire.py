"""The workflow a Temporal schedule starts each time a repo's `[[schedule]]` fires (honk.scheduling).

It only hands the fire to the `schedule_fire` activity, which submits the task through TaskService as
the schedule itself: a worker that is down when the schedule fires leaves the workflow waiting in
Temporal, and the task starts when a worker is back. The activity's answer is data: the task it
started, or why none (the policy refused the schedule, the repo is gone).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from honk.domain import Carried, ScheduleSpec

NAME = "HonkScheduleFire"
ACTIVITY = "schedule_fire"


class ScheduleFired(Carried):
    """What a schedule's action carries: the repo, and its `[[schedule]]` entry as the file says it (the
    entry's `paused` is the file's: a person's pause is the schedule's state, not this)."""

    repo: str
    spec: ScheduleSpec


class ScheduleFireResult(Carried):
    task_id: str | None = None
    refused: str | None = None  # why no task was started, in words for the repo's admins


@workflow.defn(name=NAME)
class ScheduleFireWorkflow:
    @workflow.run
    async def run(self, fired: ScheduleFired) -> ScheduleFireResult:
        return await workflow.execute_activity(
            ACTIVITY,
            fired,
            result_type=ScheduleFireResult,
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
        )
