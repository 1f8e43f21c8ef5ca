"""A request goes from words to a merged, verified commit with provenance trailers on the remote's main."""

from __future__ import annotations

from honk.domain import TaskState
from honk.testing.processes import wait_until
from repos import DIRECT_FIX, calc_files


def test_request_becomes_merged_commit_with_trailers(stack, make_remote):
    remote = make_remote(calc_files(DIRECT_FIX))
    before = remote.head()
    stack.add_repo("calc", remote.url)

    task = stack.ask("calc", "make add() add", requested_by="ana@example.com")
    ready = stack.wait_for(task.id, TaskState.ready, TaskState.failed)
    assert ready.state == TaskState.ready, ready.reason
    assert remote.head() == before, "nothing reaches main before a person merges"

    r = stack.http.post(f"/api/tasks/{task.id}/merge", json={"by": "bo@example.com"})
    assert r.status_code == 202, r.text
    merged = stack.wait_for(task.id, TaskState.merged, TaskState.failed)
    assert merged.state == TaskState.merged, merged.reason

    assert remote.head() == merged.merged_commit
    assert "return a + b" in remote.show("calc.py")
    message = remote.message()  # the merge commit itself
    assert f"Honk-Task: {task.id}" in message
    assert "Requested-by: ana@example.com" in message
    assert "Approved-by: bo@example.com" in message
    assert "Agent: scripted" in message and "Model: scripted" in message and "Honk-Cost: $0.0000" in message
    kinds = stack.kinds(task.id)
    assert kinds.index("checks_started") < kinds.index("task_ready") < kinds.index("merged")
    workspace = stack.root / "data" / "workspaces" / task.id
    wait_until(lambda: not workspace.exists(), 15, "the workspace to be cleaned after the merge")


def test_cli_ask_wait_then_merge(stack, make_remote):
    remote = make_remote(calc_files(DIRECT_FIX))
    assert stack.honk("repo", "add", "calc", remote.url).returncode == 0

    asked = stack.honk("ask", "calc", "make add() add", "--wait")
    assert asked.returncode == 0, asked.stderr
    task_id = asked.stdout.splitlines()[0]
    assert "ready for review" in asked.stdout

    status = stack.honk("status", task_id, "--json")
    assert '"state": "ready"' in status.stdout
    merged = stack.honk("merge", task_id)
    assert merged.returncode == 0, merged.stderr
    assert "merged into main" in merged.stdout

    again = stack.honk("merge", task_id)
    assert again.returncode == 1
    assert "already merged" in again.stderr
