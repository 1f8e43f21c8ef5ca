"""What people do while a task runs, in process: follow-ups queue and are never lost, merges land or
say why not, cancel stops the work but never half a merge, and a pull request closed or merged on
the forge ends the task. The workflow and Honk's store agree at every resting point."""

from __future__ import annotations

import pytest
from harness import Bench, Script, failed
from temporalio.client import WorkflowUpdateFailedError

from honk.domain import MergeResult, PullRequestState, TaskState
from honk.errors import UserFacingError
from honk.events import FollowUpsNotApplied, Merged, MergeHeld, TaskCancelled
from honk.workflow.task_workflow import NOT_READY


def reasons(task) -> list[str]:  # noqa: ANN001 - a harness Task
    return [c.job.reason for c in task.fakes.calls["run_agent"]]


async def test_a_follow_up_during_the_run_is_applied_after_the_first_delivery(bench: Bench) -> None:
    async with bench.task() as task:
        agent = task.fakes.hold("run_agent")
        await task.fakes.entered("run_agent")
        await task.follow_up("also handle negative numbers")
        agent.set()
        await task.fakes.done("deliver", times=2)
        await task.settles_in(TaskState.ready)
        assert reasons(task) == ["request", "follow_up"]
        prompt = task.fakes.calls["run_agent"][1].job.prompt
        assert "- also handle negative numbers" in prompt and "make add() add" in prompt
        # The judge sees every instruction the task was given.
        assert task.fakes.calls["review"][-1].follow_ups == ["also handle negative numbers"]


async def test_a_follow_up_rides_along_with_check_feedback(bench: Bench) -> None:
    async with bench.task(Script(verify=[failed("E1")])) as task:
        agent = task.fakes.hold("run_agent")
        await task.fakes.entered("run_agent")
        await task.follow_up("keep the old name as an alias")
        agent.set()
        await task.settles_in(TaskState.ready)
        assert reasons(task) == ["request", "check_feedback"]  # no extra round for it
        prompt = task.fakes.calls["run_agent"][1].job.prompt
        assert "E1" in prompt and "- keep the old name as an alias" in prompt


async def test_merge_is_refused_until_the_task_is_ready(bench: Bench) -> None:
    async with bench.task() as task:
        agent = task.fakes.hold("run_agent")
        await task.fakes.entered("run_agent")
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await task.merge()
        assert "The task is working; it can be merged only when ready." in str(refused.value.cause)
        agent.set()
        await task.settles_in(TaskState.ready)
        assert await task.merge() == "merging"
        await task.ends(TaskState.merged)


async def test_a_merge_between_the_store_saying_ready_and_the_workflow_knowing_is_refused_as_not_ready(
    bench: Bench,
) -> None:
    """Verify delivers the change and writes "ready" before it reports back to the workflow: a merge in that
    moment is refused as NotReady (TaskService.merge waits and asks again), and taken once the step is back."""
    async with bench.task() as task:
        back = task.fakes.hold("verify reporting back")
        await task.fakes.done("deliver")  # by the verify step: "ready" is written
        assert await task.stored_state() == TaskState.ready and await task.state() != TaskState.ready
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await task.merge()
        assert getattr(refused.value.cause, "type", None) == NOT_READY
        back.set()
        await task.settles_in(TaskState.ready)
        assert await task.merge() == "merging"
        await task.ends(TaskState.merged)


async def test_merge_lands_and_cleans_up(bench: Bench) -> None:
    async with bench.task(slack=True) as task:
        await task.settles_in(TaskState.ready)
        await task.merge(by="bo")
        await task.ends(TaskState.merged)
        merged = [e for e in await task.events() if isinstance(e, Merged)]
        assert [(m.commit, m.approved_by) for m in merged] == [("m1", "bo")]
        merge = task.fakes.calls["merge"][0]
        assert (merge.approved_by, merge.verified_base, merge.summary) == ("bo", "base", "changed it")
        assert len(task.fakes.calls["cleanup"]) == 1
        assert len(task.fakes.calls["notify"]) == 2  # ready, then merged


async def test_a_refused_merge_says_why_and_waits_for_the_next_merge(bench: Bench) -> None:
    no = MergeResult(status="refused", target="main", feedback="a review is required by the repo's rules")
    async with bench.task(Script(merge=[no]), slack=True) as task:
        await task.settles_in(TaskState.ready)
        await task.merge()
        await task.fakes.done("merge")
        await task.settles_in(TaskState.ready)
        held = [e for e in await task.events() if isinstance(e, MergeHeld)]
        assert [(h.reason, h.rework) for h in held] == [("a review is required by the repo's rules", False)]
        await task.fakes.called(
            "notify",
            lambda n: n.detail == "Merge held: a review is required by the repo's rules",
            "the held merge said in the thread",
        )
        await task.merge()
        await task.ends(TaskState.merged)
        assert reasons(task) == ["request"]  # nothing went back to the agent


async def test_main_that_kept_moving_is_held_not_lost(bench: Bench) -> None:
    async with bench.task(Script(merge=[MergeResult(status="kept_moving", target="main")])) as task:
        await task.settles_in(TaskState.ready)
        await task.merge()
        await task.fakes.done("merge")
        await task.settles_in(TaskState.ready)
        held = [e.reason for e in await task.events() if isinstance(e, MergeHeld)]
        assert held == ["main kept moving during the merge; try Merge again"]


async def test_main_that_breaks_the_checks_sends_the_task_back_to_the_agent(bench: Bench) -> None:
    broke = MergeResult(status="checks_failed", target="main", feedback="test_sub: 3 != 1")
    async with bench.task(Script(merge=[broke])) as task:
        await task.settles_in(TaskState.ready)
        await task.merge()
        await task.fakes.done("deliver", times=2)
        await task.settles_in(TaskState.ready)
        assert reasons(task) == ["request", "main_moved"]
        assert "test_sub: 3 != 1" in task.fakes.calls["run_agent"][1].job.prompt
        assert [e.rework for e in await task.events() if isinstance(e, MergeHeld)] == [True]
        await task.merge()
        await task.ends(TaskState.merged)


async def test_a_conflict_has_the_agent_merge_the_target_in(bench: Bench) -> None:
    clash = MergeResult(status="conflict", target="main", conflicts=["calc.py"])
    async with bench.task(Script(merge=[clash])) as task:
        await task.settles_in(TaskState.ready)
        await task.merge()
        await task.fakes.done("deliver", times=2)
        await task.settles_in(TaskState.ready)
        jobs = [c.job for c in task.fakes.calls["run_agent"]]
        assert [(j.reason, j.merge_from) for j in jobs] == [
            ("request", None),
            ("main_moved", "refs/remotes/origin/main"),
        ]
        assert "- calc.py" in jobs[1].prompt


async def test_cancel_stops_the_agent_and_cleans_up(bench: Bench) -> None:
    async with bench.task() as task:
        task.fakes.hold("run_agent")  # never released: only cancel ends it
        await task.fakes.entered("run_agent")
        await task.cancel(by="ada")
        await task.ends(TaskState.cancelled)
        assert [e.by for e in await task.events() if isinstance(e, TaskCancelled)] == ["ada"]
        assert task.fakes.finished["run_agent"] == 1  # the step was cancelled, not left running
        assert len(task.fakes.calls["cleanup"]) == 1
        assert "verify" not in task.fakes.calls


async def test_cancel_never_interrupts_a_merge_and_late_follow_ups_are_said(bench: Bench) -> None:
    async with bench.task() as task:
        await task.settles_in(TaskState.ready)
        merge = task.fakes.hold("merge")
        await task.merge()
        await task.fakes.entered("merge")
        await task.cancel()
        await task.follow_up("and rename it")
        merge.set()
        await task.ends(TaskState.merged)
        events = await task.events()
        assert not any(isinstance(e, TaskCancelled) for e in events)
        dropped = [e for e in events if isinstance(e, FollowUpsNotApplied)]
        assert [d.texts for d in dropped] == [["and rename it"]] and "already merged" in dropped[0].reason


async def test_a_pull_request_closed_on_the_forge_cancels_the_task(bench: Bench) -> None:
    closed = PullRequestState(state="closed", number=7)
    async with bench.task(Script(pull_request=[PullRequestState(state="open", number=7), closed]), forge=True) as task:
        await task.ends(TaskState.cancelled)
        said = [e.by for e in await task.events() if isinstance(e, TaskCancelled)]
        assert said == ["closed on github (pull request #7)"]


async def test_a_pull_request_merged_on_the_forge_ends_the_task_merged(bench: Bench) -> None:
    merged = PullRequestState(state="merged", number=7, merge_commit="f00d")
    down = UserFacingError("GitHub did not answer")
    async with bench.task(Script(pull_request=[down, merged]), forge=True) as task:
        await task.ends(TaskState.merged)  # a forge that did not answer once does not fail a waiting task
        merges = [(e.commit, e.approved_by) for e in await task.events() if isinstance(e, Merged)]
        assert merges == [("f00d", "merged on github (pull request #7)")]
        assert "merge" not in task.fakes.calls
