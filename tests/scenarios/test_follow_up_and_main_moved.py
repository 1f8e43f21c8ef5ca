"""A person steers a ready task with follow-ups, and merging re-verifies when main moved meanwhile."""

from __future__ import annotations

from honk.domain import TaskState
from honk.testing.processes import wait_until
from repos import DIRECT_FIX, FOLLOW_UP_STEP, calc_files, slow_fix


def test_follow_up_after_ready_goes_back_to_the_agent_on_the_same_branch(stack, make_remote):
    remote = make_remote(calc_files(DIRECT_FIX + FOLLOW_UP_STEP))
    stack.add_repo("calc", remote.url)
    task = stack.ask("calc", "make add() add")
    assert stack.wait_for(task.id, TaskState.ready, TaskState.failed).state == TaskState.ready

    r = stack.http.post(f"/api/tasks/{task.id}/followup", json={"text": "add a docstring", "by": "ana"})
    assert r.status_code == 202, r.text
    wait_until(lambda: stack.kinds(task.id).count("task_ready") == 2, 60, "a second ready")
    kinds = stack.kinds(task.id)
    assert kinds.index("follow_up_received") < len(kinds) - 1 - kinds[::-1].index("agent_started")

    assert stack.http.post(f"/api/tasks/{task.id}/merge", json={"by": "bo"}).status_code == 202
    assert stack.wait_for(task.id, TaskState.merged, TaskState.failed).state == TaskState.merged
    calc = remote.show("calc.py")
    assert "return a + b" in calc and "Adds two numbers." in calc


def test_main_moved_before_merge_is_brought_in_and_reverified(stack, make_remote):
    remote = make_remote(calc_files(DIRECT_FIX))
    stack.add_repo("calc", remote.url)
    task = stack.ask("calc", "make add() add")
    assert stack.wait_for(task.id, TaskState.ready, TaskState.failed).state == TaskState.ready

    moved = remote.push_change({"NOTES.md": "written while Honk worked\n"})
    assert stack.http.post(f"/api/tasks/{task.id}/merge", json={"by": "bo"}).status_code == 202
    merged = stack.wait_for(task.id, TaskState.merged, TaskState.failed)
    assert merged.state == TaskState.merged, merged.reason

    kinds = stack.kinds(task.id)
    assert "main_moved" in kinds
    after_move = kinds[kinds.index("main_moved") :]
    assert "check_finished" in after_move, "re-verified after bringing main in"
    parents = remote.log(fmt="%P").splitlines()[0].split()
    assert moved in parents, "the merge sits on top of the moved main"
    assert remote.show("NOTES.md") and "return a + b" in remote.show("calc.py")


def test_follow_ups_sent_while_busy_or_before_the_workspace_exists_are_applied_in_order(stack, make_remote):
    remote = make_remote(calc_files(slow_fix(3) + FOLLOW_UP_STEP))
    stack.add_repo("calc", remote.url)
    task = stack.ask("calc", "make add() add")
    # Straight away: the workspace is not even prepared yet.
    r = stack.http.post(f"/api/tasks/{task.id}/followup", json={"text": "add a docstring", "by": "ana"})
    assert r.status_code == 202, r.text
    wait_until(lambda: stack.kinds(task.id).count("task_ready") >= 1, 60, "ready")
    wait_until(
        lambda: stack.kinds(task.id).count("agent_finished") == 2 and stack.task(task.id).state == TaskState.ready,
        60,
        "the follow-up applied",
    )
    reasons = [e.event.reason for e in stack.events(task.id) if e.event.kind == "agent_started"]
    assert reasons == ["request", "follow_up"]
    assert stack.http.post(f"/api/tasks/{task.id}/merge", json={}).status_code == 202
    assert stack.wait_for(task.id, TaskState.merged, TaskState.failed).state == TaskState.merged
    assert "Adds two numbers." in remote.show("calc.py")
