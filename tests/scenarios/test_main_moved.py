"""Main moves under a task waiting for review on GitHub: Honk brings it in (a merge, or a rebase per
`[merge] update`), runs the checks again and pushes with a lease against its own last push; a conflict
goes to the agent; a pull request a person pushed to is never overwritten, and the task says so.
Real `honk server`/`honk worker`, Temporal, git over smart HTTP against the loopback fake GitHub; the
forge front door's call (`TaskService.target_moved`) is made here the way it will make it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from honk.access import Policy
from honk.domain import TaskState
from honk.events import Refreshed, RefreshSkipped
from honk.gate import Gate
from honk.network import Ceiling
from honk.service import TaskService
from honk.settings import Settings, StoreSettings, TemporalSettings
from honk.store import AuditLog, Store
from honk.testing.fake_github import FakeGitHub
from honk.testing.gitrepo import RemoteRepo, run_git, write_files
from honk.testing.processes import HonkStack, TemporalDevServer, wait_until
from honk.workflow.client import connect
from repos import DIRECT_FIX, calc_files

TOKEN = "ghp_main_moved_0123456789"
RESOLVE = """[[step]]
message = "Resolved the conflict with main."
[[step.edit]]
path = "calc.py"
content = "def add(a, b):\\n    return a + b  # adds\\n"
"""


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(tokens=(TOKEN,)) as fake:
        yield fake


@pytest.fixture(scope="module")
def honk(tmp_path_factory: pytest.TempPathFactory, temporal: TemporalDevServer) -> Iterator[HonkStack]:
    stack = HonkStack(tmp_path_factory.mktemp("honk"), temporal.address, github_token=TOKEN)
    yield stack
    stack.stop()


def on_github(honk: HonkStack, github: FakeGitHub, tmp: Path, name: str, steps: str, toml: str = "") -> RemoteRepo:
    remote = RemoteRepo(tmp / name, calc_files(steps, toml))
    github.add_repo(f"acme/{name}", remote)
    honk.honk("repo", "add", name, remote.url, "--forge", f"github:acme/{name}", "--forge-api", github.url, check=True)
    return remote


def ready(honk: HonkStack, repo: str) -> str:
    task = honk.ask(repo, "make add() add")
    done = honk.wait_for(task.id, TaskState.ready, TaskState.failed)
    assert done.state == TaskState.ready, done.reason
    return task.id


def target_moved(honk: HonkStack, temporal: TemporalDevServer, task_id: str, new_head: str) -> bool:
    """What the forge front door does on a push to the target: TaskService.target_moved, in this process."""

    async def tell() -> bool:
        settings = Settings(
            store=StoreSettings(data_dir=honk.root / "data"), temporal=TemporalSettings(address=temporal.address)
        )
        store = Store(honk.db_url)
        try:
            gate = Gate(Policy.open(), store, AuditLog(store))
            service = TaskService(settings, store, await connect(settings), gate, ceiling=Ceiling([]))
            return await service.target_moved(task_id, new_head, by="github push")
        finally:
            await store.close()

    return asyncio.run(tell())


def human_pushes(remote: RemoteRepo, branch: str, files: dict[str, str]) -> str:
    """A person adds a commit to the pull request's branch on the forge."""
    run_git("fetch", "--quiet", "origin", branch, cwd=remote.clone)
    run_git("checkout", "--quiet", "-B", "human", "FETCH_HEAD", cwd=remote.clone)
    write_files(remote.clone, files)
    run_git("commit", "--quiet", "-am", "a person's fix on the PR", cwd=remote.clone)
    run_git("push", "--quiet", "origin", f"HEAD:{branch}", cwd=remote.clone)
    run_git("checkout", "--quiet", remote.branch, cwd=remote.clone)
    return remote.head(branch)


def events_of(honk: HonkStack, task_id: str, kind: type) -> list:  # noqa: ANN401 - the events of that kind
    return [e.event for e in honk.events(task_id) if isinstance(e.event, kind)]


def test_main_moving_cleanly_is_rebased_in_checked_and_pushed_with_a_lease(honk, github, temporal, tmp_path):
    remote = on_github(honk, github, tmp_path, "calc1", DIRECT_FIX, '[merge]\nupdate = "rebase"\n')
    task_id = ready(honk, "calc1")
    branch, pushed_before = f"honk/{task_id}", remote.head(f"honk/{task_id}")

    moved = remote.push_change({"NOTES.md": "written while the PR waited\n"})
    assert target_moved(honk, temporal, task_id, moved)
    wait_until(lambda: bool(events_of(honk, task_id, Refreshed)), 60, "the target brought in")

    (done,) = events_of(honk, task_id, Refreshed)
    assert done.how == "rebase" and done.pushed and done.new_base == moved
    kinds = honk.kinds(task_id)
    assert "check_finished" in kinds[kinds.index("main_moved") :], "the checks ran again"
    head = remote.head(branch)
    assert head == done.commit != pushed_before
    assert remote.head(f"{head}~1") == moved, "rebased: the task's commit sits on the moved main, no merge"
    assert "return a + b" in remote.show("calc.py", branch) and remote.show("NOTES.md", branch)
    assert honk.task(task_id).state == TaskState.ready and github.pull("acme/calc1", 1).state == "open"

    # Told again of the same push: nothing to do, nothing pushed.
    assert target_moved(honk, temporal, task_id, moved)
    # A merge is refused while that look is under way ("merge once the task is ready again"), then taken.
    merge = lambda: honk.http.post(f"/api/tasks/{task_id}/merge", json={}).status_code == 202  # noqa: E731
    wait_until(merge, 30, "the merge taken")
    assert honk.wait_for(task_id, TaskState.merged, TaskState.failed).state == TaskState.merged
    assert len(events_of(honk, task_id, Refreshed)) == 1
    assert not target_moved(honk, temporal, task_id, moved), "an ended task is not told"


def test_a_conflicting_main_goes_to_the_agent_and_the_pull_request_is_updated(honk, github, temporal, tmp_path):
    # A rebase that conflicts is undone; the agent resolves the conflict in a merge (a plain push after).
    remote = on_github(honk, github, tmp_path, "calc2", DIRECT_FIX + RESOLVE, '[merge]\nupdate = "rebase"\n')
    task_id = ready(honk, "calc2")
    branch = f"honk/{task_id}"

    moved = remote.push_change({"calc.py": "def add(a, b):\n    return a - b  # subtracts\n"})
    assert target_moved(honk, temporal, task_id, moved)
    wait_until(lambda: honk.kinds(task_id).count("task_ready") == 2, 90, "the agent's round on the conflict")

    reasons = [e.event.reason for e in honk.events(task_id) if e.event.kind == "agent_started"]
    assert reasons == ["request", "main_moved"]
    assert remote.show("calc.py", branch) == "def add(a, b):\n    return a + b  # adds"
    assert run_git("--git-dir", str(remote.bare), "merge-base", "--is-ancestor", moved, branch) == ""
    kinds = honk.kinds(task_id)
    assert "check_finished" in kinds[kinds.index("main_moved") :]
    assert honk.task(task_id).state == TaskState.ready


def test_a_pull_request_a_person_pushed_to_is_not_overwritten_and_the_task_says_so(honk, github, temporal, tmp_path):
    remote = on_github(honk, github, tmp_path, "calc3", DIRECT_FIX)
    task_id = ready(honk, "calc3")
    branch = f"honk/{task_id}"
    theirs = human_pushes(remote, branch, {"README.md": "# calc\n\nA person's note.\n"})

    moved = remote.push_change({"NOTES.md": "main moved\n"})
    assert target_moved(honk, temporal, task_id, moved)
    wait_until(lambda: bool(events_of(honk, task_id, RefreshSkipped)), 60, "the refresh declined")

    (skipped,) = events_of(honk, task_id, RefreshSkipped)
    assert "commits Honk did not push" in skipped.reason and "did not overwrite" in skipped.reason
    assert remote.head(branch) == theirs, "their commit is still the pull request's head"
    assert "main_moved" not in honk.kinds(task_id) and honk.task(task_id).state == TaskState.ready
