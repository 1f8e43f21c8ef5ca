"""Moments a `kill -9` hit in test_chaos.py, replayed deterministically.

The chaos test kills workers at random and meets these only now and then (a task then ends failed,
with a misleading reason). Here the worker dies at exactly that step, and what the retried activity
does next is checked.
"""

from __future__ import annotations

from test_chaos import notes_repo

from honk.domain import RepoRef, TaskState
from honk.testing.gitrepo import run_git
from honk.testing.processes import HonkStack, TemporalDevServer, wait_until
from honk.workspace.worktrees import WorktreeWorkspaces, task_branch

TASK = "t-chaoskill0001"


def workspaces(root) -> WorktreeWorkspaces:  # noqa: ANN001 - a Path
    return WorktreeWorkspaces(root / "mirrors", root / "workspaces", "Honk", "honk@localhost", warm=2)


async def test_a_worker_killed_while_naming_the_branch_leaves_the_retry_on_the_branch(tmp_path, make_remote):
    """What a kill between claiming a spare worktree and naming the branch leaves behind: the spare
    moved into the task's place, detached at the base, no task branch. The retried step must finish."""
    remote = make_remote(notes_repo(pause=0))
    repo = RepoRef(name="notes", url=remote.url)
    dying = workspaces(tmp_path)
    await dying.fetch(repo)
    await dying.close()
    mirror, place = dying.mirror_path(repo), dying.path(TASK)
    run_git(f"--git-dir={mirror}", "worktree", "add", "--quiet", "--detach", str(place), "refs/remotes/origin/main")
    assert run_git("branch", "--show-current", cwd=place) == ""

    fresh = workspaces(tmp_path)  # the new worker; the activity is retried
    ws = await fresh.ensure(TASK, repo, "main")
    await fresh.close()
    assert run_git("branch", "--show-current", cwd=ws.path) == task_branch(TASK), (
        "the retried provision left the task on a detached HEAD"
    )


def test_a_worker_dying_after_its_agent_committed_keeps_the_change(tmp_path, make_remote):
    """The agent committed, then the worker died before Temporal heard of it: the rerun must deliver."""
    temporal = TemporalDevServer(tmp_path / "temporal")
    stack = HonkStack(tmp_path / "honk", temporal.address, max_rounds="3")
    try:
        remote = make_remote(notes_repo(pause=2))
        stack.add_repo("notes", remote.url)
        task = stack.ask("notes", "note one")
        wait_until(lambda: "agent_started" in stack.kinds(task.id), 60, "the agent to start")
        temporal.stop()  # from here the agent's result can reach Temporal only through this worker…
        wait_until(lambda: "agent_finished" in stack.kinds(task.id), 30, "the agent to commit")
        finished = [e.event for e in stack.events(task.id) if e.event.kind == "agent_finished"]
        assert finished[0].commit, "the first run committed the change"  # type: ignore[union-attr]
        stack.kill_worker(stack.workers[0])  # …which dies before it can deliver it
        temporal.start_again()
        stack.start_worker()
        done = stack.wait_for(task.id, TaskState.ready, TaskState.failed, timeout_s=90)
        assert done.state == TaskState.ready, done.reason
        kinds = stack.kinds(task.id)
        assert kinds.count("agent_started") == 1, "the retried step kept the committed work, no second agent run"
        assert kinds.count("agent_finished") == 1
    finally:
        stack.stop()
        temporal.stop()
