"""Mirrors and worktrees on real git: fast workspaces that never lose a task branch."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from honk.domain import RepoRef
from honk.errors import UserFacingError
from honk.testing.gitrepo import RemoteRepo, run_git
from honk.workspace.worktrees import WorktreeWorkspaces


@pytest.fixture
def setup(tmp_path: Path):
    remote = RemoteRepo(tmp_path / "remote", {"a.txt": "a\n"})
    wss = WorktreeWorkspaces(tmp_path / "mirrors", tmp_path / "ws", "Honk", "honk@localhost")
    return remote, wss, RepoRef(name="r", url=remote.url)


async def test_workspace_is_a_worktree_on_the_task_branch(setup):
    remote, wss, repo = setup
    await wss.fetch(repo)
    ws = await wss.ensure("t-1", repo, "main")
    assert ws.branch == "honk/t-1"
    assert run_git("rev-parse", "--abbrev-ref", "HEAD", cwd=ws.path) == "honk/t-1"
    assert run_git("rev-parse", "HEAD", cwd=ws.path) == remote.head()
    assert (ws.path / ".git").is_file(), "a worktree of the mirror, not a clone"


async def test_commits_carry_trailers_and_survive_fetch_prune_and_removal(setup):
    remote, wss, repo = setup
    await wss.fetch(repo)
    ws = await wss.ensure("t-2", repo, "main")
    (ws.path / "a.txt").write_text("changed\n")
    commit, changed = await wss.commit_all(ws, "change a", {"Honk-Task": "t-2", "Requested-by": "ana"})
    assert changed == ["a.txt"] and commit
    assert "Honk-Task: t-2\nRequested-by: ana" in run_git("log", "-1", "--format=%B", cwd=ws.path)

    remote.push_change({"b.txt": "b\n"})
    await wss.fetch(repo)  # --prune must not touch Honk's own branches
    await wss.remove("t-2", repo)
    assert not ws.path.exists()
    again = await wss.ensure("t-2", repo, "main")
    assert run_git("rev-parse", "HEAD", cwd=again.path) == commit, "recreated from the kept branch"


async def test_nothing_to_commit_returns_none(setup):
    _, wss, repo = setup
    await wss.fetch(repo)
    ws = await wss.ensure("t-3", repo, "main")
    assert await wss.commit_all(ws, "nothing", {}) == (None, [])


async def test_concurrent_tasks_on_one_mirror(setup):
    _, wss, repo = setup
    await asyncio.gather(*(wss.fetch(repo) for _ in range(4)))
    spaces = await asyncio.gather(*(wss.ensure(f"t-c{i}", repo, "main") for i in range(6)))
    assert len({s.path for s in spaces}) == 6 and all((s.path / "a.txt").exists() for s in spaces)


async def test_unreachable_remote_is_a_user_facing_error(tmp_path: Path):
    wss = WorktreeWorkspaces(tmp_path / "m", tmp_path / "w", "Honk", "honk@localhost")
    with pytest.raises(UserFacingError, match="Could not fetch repo 'gone'"):
        await wss.fetch(RepoRef(name="gone", url=str(tmp_path / "nowhere")))
