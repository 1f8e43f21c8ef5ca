"""The workflow that follows a best-of-N group (`HonkAttempts`, id `attempts-<group>`; honk.attempts).

The attempts are ordinary top-level task workflows; this one only waits until every attempt settled, then
hands the group to the `attempts_settle` activity once more, which picks the top one where the repo's
`[attempts] auto_pick` allows it, or tells where the group was asked that a person picks. It wakes when an
attempt moves (the task workflow's record activity signals `poke`: honk.workflow.pokes) and on a durable
timer (`settings.attempts.poll_s`), the fallback for a poke lost while no worker ran. The activity lives in
the service layer (it needs TaskService), so it is called by name, as schedule_fire.py does.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

from honk.domain import Carried, SlackThread

NAME = "HonkAttempts"
SETTLE = "attempts_settle"


def workflow_id(group: str) -> str:
    return f"attempts-{group}"


class AttemptsInput(Carried):
    group: str
    poll_s: float = 30.0
    slack: SlackThread | None = None  # where the group was asked in Slack: told there once it settled


class AttemptsSettled(Carried):
    """What one look at the group came to: `done` once every attempt settled (and what was picked, or why
    nothing was), else nothing yet."""

    done: bool = False
    picked: str | None = None  # the task auto-pick picked
    said: str = ""  # the ranking, as told


@workflow.defn(name=NAME)
class AttemptsWorkflow:
    def __init__(self) -> None:
        self.poked = False

    @workflow.signal
    def poke(self) -> None:
        """An attempt moved: look again now rather than at the next timer."""
        self.poked = True

    @workflow.run
    async def run(self, inp: AttemptsInput) -> AttemptsSettled:
        while True:
            self.poked = False  # a poke while the activity runs is kept: the loop looks again at once
            settled: AttemptsSettled = await workflow.execute_activity(
                SETTLE,
                inp,
                result_type=AttemptsSettled,
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
            )
            if settled.done:
                return settled
            try:
                await workflow.wait_condition(lambda: self.poked, timeout=timedelta(seconds=inp.poll_s))
            except TimeoutError:
                pass
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(inp)
