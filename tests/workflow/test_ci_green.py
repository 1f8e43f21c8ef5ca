"""CI passing on the task's pull request, as the task workflow hears it (the forge front door tells it only
on the commit Honk pushed last, after a fix: tests/scenarios/test_pull_request_front_door.py): said once,
and only after a fix attempt since CI last passed."""

from __future__ import annotations

from harness import Bench, Script

from honk.domain import TaskState
from honk.events import CiPassed, ForgeChecksFailed
from honk.workflow.records import CiFailure, CiPassing, NotifyInput
from honk.workflow.task_workflow import TaskWorkflow


def passed_lines(calls: list[NotifyInput]) -> list[NotifyInput]:
    return [c for c in calls if c.note and c.detail.startswith("CI passed")]


async def test_ci_passing_after_a_fix_is_said_once_and_a_pass_before_any_fix_not_at_all(bench: Bench) -> None:
    async with bench.task(Script(), forge=True) as task:
        await task.settles_in(TaskState.ready)
        # CI passes and fails on Honk's first push (two suites of one CI): not green, and no fix tried yet.
        await task.handle.signal(TaskWorkflow.ci_passed, CiPassing(commit="c1"))
        await task.handle.signal(TaskWorkflow.ci_failed, CiFailure(commit="c1", name="test"))
        delivered = task.fakes.hold("deliver")
        await task.fakes.entered("deliver", times=2)  # the fix, checked, being delivered
        # CI passing on the fix, twice (a suite and its workflow run, or a redelivery): one line, however the
        # two arrive (together while the fix is delivered, or one after the other once the task waits).
        for _ in range(2):
            await task.handle.signal(TaskWorkflow.ci_passed, CiPassing(commit="c2", name="CI"))
        delivered.set()
        await task.fakes.called("notify", lambda c: c.detail.startswith("CI passed"), "CI passing to be said")
        await task.settles_in(TaskState.ready)

        events = await task.events()
        fixes = [e for e in events if isinstance(e, ForgeChecksFailed)]
        assert [(f.commit, f.attempt, f.skipped) for f in fixes] == [("c1", 1, "")]
        passes = [e for e in events if isinstance(e, CiPassed)]
        assert [(p.commit, p.after_attempts) for p in passes] == [("c2", 1)]
        assert passes[0].line() == "CI passed on c2 after 1 fix attempt"
        said = passed_lines(task.fakes.calls["notify"])
        assert [(c.detail, c.asked_too) for c in said] == [("CI passed on c2 after 1 fix attempt", True)]
