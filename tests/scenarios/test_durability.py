"""Tasks survive the death of a worker, and a retried submission never makes a second task."""

from __future__ import annotations

from honk.domain import TaskState
from honk.testing.processes import wait_until
from repos import calc_files, slow_fix


def test_worker_killed_mid_agent_and_a_new_worker_finishes_the_task(stack, make_remote):
    remote = make_remote(calc_files(slow_fix(4)))
    stack.add_repo("calc", remote.url)
    task = stack.ask("calc", "make add() add")
    wait_until(lambda: "agent_started" in stack.kinds(task.id), 30, "the agent to start")

    stack.kill_worker(stack.workers[0])  # kill -9, mid-agent
    stack.start_worker()
    done = stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=120)
    assert done.state == TaskState.ready, done.reason
    assert stack.kinds(task.id).count("agent_started") == 2, "the agent step ran again on the new worker"
    assert stack.kinds(task.id).count("task_ready") == 1


def test_retried_submission_with_the_same_request_id_is_one_task(stack, make_remote):
    remote = make_remote(calc_files(slow_fix(4)))
    stack.add_repo("calc", remote.url)
    body = {"repo": "calc", "text": "make add() add", "request_id": "slack:C123:1700000000.000100"}
    first = stack.http.post("/api/tasks", json=body)
    second = stack.http.post("/api/tasks", json=body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert len(stack.http.get("/api/tasks").json()) == 1
    assert stack.kinds(first.json()["id"]).count("task_accepted") == 1


def test_cancel_stops_the_agent_keeps_the_branch_and_cleans_the_workspace(stack, make_remote):
    remote = make_remote(calc_files(slow_fix(60)))
    stack.add_repo("calc", remote.url)
    task = stack.ask("calc", "make add() add")
    wait_until(lambda: "agent_started" in stack.kinds(task.id), 30, "the agent to start")

    assert stack.http.post(f"/api/tasks/{task.id}/cancel", json={"by": "ana"}).status_code == 202
    done = stack.wait_for(task.id, TaskState.cancelled, TaskState.failed, timeout_s=30)
    assert done.state == TaskState.cancelled
    workspace = stack.root / "data" / "workspaces" / task.id
    wait_until(lambda: not workspace.exists(), 15, "the workspace to be cleaned")
    again = stack.http.post(f"/api/tasks/{task.id}/cancel", json={})
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]
    follow = stack.http.post(f"/api/tasks/{task.id}/followup", json={"text": "more"})
    assert follow.status_code == 409 and "cancelled" in follow.json()["detail"]
