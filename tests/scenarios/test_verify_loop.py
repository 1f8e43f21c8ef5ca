"""The repo's own checks drive the agent: distilled failures go back to it, within a round budget."""

from __future__ import annotations

from honk.domain import TaskState
from honk.events import AgentStarted, ChecksFailed
from honk.testing.gitrepo import run_git
from honk.testing.processes import wait_until
from repos import RIGHT_FIX, WRONG_FIX, calc_files


def test_failing_check_is_fed_back_and_fixed_in_round_two(stack, make_remote):
    remote = make_remote(calc_files(WRONG_FIX + RIGHT_FIX))
    stack.add_repo("calc", remote.url)
    task = stack.ask("calc", "make add() add")
    done = stack.wait_for(task.id, TaskState.ready, TaskState.failed)
    assert done.state == TaskState.ready, done.reason

    events = [e.event for e in stack.events(task.id)]
    failed = [e for e in events if isinstance(e, ChecksFailed)]
    assert len(failed) == 1 and not failed[0].giving_up
    # Distilled: the failing test and the assertion, not the whole log.
    assert "test_add" in failed[0].feedback
    assert "6 != 5" in failed[0].feedback
    assert len(failed[0].feedback.splitlines()) < 20
    starts = [e for e in events if isinstance(e, AgentStarted)]
    assert [(s.round, s.reason) for s in starts] == [(1, "request"), (2, "check_feedback")]


def test_gives_up_after_the_round_budget_with_a_clear_reason(stack, make_remote):
    remote = make_remote(calc_files(WRONG_FIX))  # one wrong edit, then nothing new: never green
    stack.add_repo("calc", remote.url)
    task = stack.ask("calc", "make add() add")
    done = stack.wait_for(task.id, TaskState.ready, TaskState.failed)
    assert done.state == TaskState.failed
    assert "Checks still fail after 3 rounds" in (done.reason or "")
    assert f"honk/{task.id}" in (done.reason or ""), "the reason says where the work is kept"
    rounds = [e.event for e in stack.events(task.id) if isinstance(e.event, ChecksFailed)]
    assert [r.giving_up for r in rounds] == [False, False, True]
    workspace = stack.root / "data" / "workspaces" / task.id
    wait_until(lambda: not workspace.exists(), 15, "the workspace to be cleaned on failure")
    mirror = stack.root / "data" / "mirrors" / "calc.git"
    assert "return a * b" in run_git("--git-dir", str(mirror), "show", f"honk/{task.id}:calc.py"), "branch kept"
