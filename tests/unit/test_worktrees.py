"""Mirrors and worktrees on real git: fast workspaces that never lose a task branch."""

from __future__ import annotations

import asyncio
import shutil
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


async def test_making_workspaces_leaves_the_mirrors_config_as_it_was(setup):
    """Sandboxes of the repo bind a clean copy over the mirror's config; a write of it (a new branch tracking
    origin/main) would replace the file under them, and a mount at that moment fails. (`setup` keeps no
    spares: every workspace here is a `worktree add -b`.)"""
    _, wss, repo = setup
    await wss.fetch(repo)
    config = wss.mirror_path(repo) / "config"
    before = (config.read_text(), config.stat().st_ino)
    for task in ("t-c1", "t-c2"):
        await wss.ensure(task, repo, "main", new=True)
    assert (config.read_text(), config.stat().st_ino) == before


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


async def test_a_warm_spare_becomes_the_next_workspace(tmp_path: Path):
    remote = RemoteRepo(tmp_path / "remote", {f"d{i}/f{j}.txt": f"{i}.{j}\n" for i in range(5) for j in range(20)})
    wss = WorktreeWorkspaces(tmp_path / "mirrors", tmp_path / "ws", "Honk", "honk@localhost", warm=1)
    repo = RepoRef(name="r", url=remote.url)
    await wss.fetch(repo)
    await asyncio.gather(*wss._refills)
    spares = tmp_path / "ws" / ".spare" / "r"
    assert len(list(spares.glob("*.ready"))) == 1

    ws = await wss.ensure("t-w1", repo, "main")
    assert run_git("symbolic-ref", "HEAD", cwd=ws.path) == "refs/heads/honk/t-w1"
    assert run_git("rev-parse", "HEAD", cwd=ws.path) == remote.head()
    assert ws.at == remote.head(), "a branch started on a spare says where it put it"
    assert run_git("status", "--porcelain", cwd=ws.path) == "" and (ws.path / "d4" / "f19.txt").exists()
    await asyncio.gather(*wss._refills)
    assert len(list(spares.glob("*.ready"))) == 1, "refilled after the claim"

    moved = remote.push_change({"d0/f0.txt": "changed upstream\n"})  # the spare is now behind main
    await wss.fetch(repo)
    ws2 = await wss.ensure("t-w2", repo, "main")
    assert run_git("rev-parse", "HEAD", cwd=ws2.path) == moved
    assert (ws2.path / "d0" / "f0.txt").read_text() == "changed upstream\n"
    assert run_git("status", "--porcelain", cwd=ws2.path) == ""
    await asyncio.gather(*wss._refills)


async def test_concurrent_fetches_see_the_remote_and_a_later_ask_fetches_again(setup):
    remote, wss, repo = setup
    await wss.fetch(repo)
    remote.push_change({"c.txt": "c\n"})
    await asyncio.gather(*(wss.fetch(repo) for _ in range(5)))
    stamp = float((wss.mirrors_dir / "r.fetched").read_text())
    await wss.fetch(repo)  # asked after the last fetch began: fetches again
    assert float((wss.mirrors_dir / "r.fetched").read_text()) > stamp
    assert run_git("--git-dir", str(wss.mirror_path(repo)), "rev-parse", "refs/remotes/origin/main") == remote.head()


@pytest.mark.parametrize("warm", [0, 1])
async def test_a_workspace_whose_directory_vanished_is_made_again(tmp_path: Path, warm: int):
    """A worker died and its directory went (a cleaned disk) while git still has the worktree registered:
    the next ensure makes it again, from the kept branch, with no prune on every task's way."""
    remote = RemoteRepo(tmp_path / "remote", {"a.txt": "a\n"})
    wss = WorktreeWorkspaces(tmp_path / "mirrors", tmp_path / "ws", "Honk", "honk@localhost", warm=warm)
    repo = RepoRef(name="r", url=remote.url)
    await wss.fetch(repo)
    ws = await wss.ensure("t-v", repo, "main")
    (ws.path / "a.txt").write_text("mine\n")
    commit, _ = await wss.commit_all(ws, "mine", {})
    other = await wss.ensure("t-w", repo, "main")  # registered, then its directory vanishes before any branch
    shutil.rmtree(ws.path)
    shutil.rmtree(other.path)
    await asyncio.gather(*wss._refills)
    again = await wss.ensure("t-v", repo, "main")
    assert run_git("rev-parse", "HEAD", cwd=again.path) == commit and (again.path / "a.txt").read_text() == "mine\n"
    fresh = await wss.ensure("t-w", repo, "main")
    assert run_git("symbolic-ref", "HEAD", cwd=fresh.path) == "refs/heads/honk/t-w"
    assert run_git("status", "--porcelain", cwd=fresh.path) == ""
    await asyncio.gather(*wss._refills)


async def test_a_burst_of_fetches_in_one_process_shares_them(setup, tmp_path: Path):
    """Fifty tasks asking at once share the fetches under way: the remote is read once or twice, not 50
    times (counted on the remote's side: the mirror's upload-pack is a wrapper that notes each run)."""
    remote, wss, repo = setup
    await wss.fetch(repo)
    served = tmp_path / "served.log"
    counting = tmp_path / "counting-upload-pack"
    counting.write_text(f'#!/bin/sh\necho run >> "{served}"\nexec git-upload-pack "$@"\n')
    counting.chmod(0o755)
    run_git("--git-dir", str(wss.mirror_path(repo)), "config", "remote.origin.uploadpack", str(counting))
    remote.push_change({"c.txt": "c\n"})
    await asyncio.gather(*(wss.fetch(repo) for _ in range(50)))
    assert run_git("--git-dir", str(wss.mirror_path(repo)), "rev-parse", "refs/remotes/origin/main") == remote.head()
    assert 1 <= len(served.read_text().splitlines()) <= 2
    before = len(served.read_text().splitlines())
    await wss.fetch(repo)  # asked after those began: reads the remote again
    assert len(served.read_text().splitlines()) == before + 1


async def test_a_new_task_is_not_made_from_a_branch_published_under_its_id(tmp_path: Path):
    """Provisioning (`new`: nothing of the task committed yet) does not ask the remote for the task's
    published branch, which only a commit makes: a ref left under the same id (here made by hand) is not
    taken, and the workspace comes back clean. A later step still takes over a published branch."""
    remote = RemoteRepo(tmp_path / "remote", {"a.txt": "a\n"})
    wss = WorktreeWorkspaces(tmp_path / "mirrors", tmp_path / "ws", "Honk", "honk@localhost", share=True)
    repo = RepoRef(name="r", url=remote.url)
    await wss.fetch(repo)
    other = await wss.ensure("t-other", repo, "main", new=True)
    (other.path / "a.txt").write_text("other\n")
    stale, _ = await wss.commit_all(other, "another task's work", {})
    assert stale and await wss.publish(other, repo, "t-new")  # a ref under the new task's id

    ws = await wss.ensure("t-new", repo, "main", new=True)
    assert run_git("rev-parse", "HEAD", cwd=ws.path) == remote.head(), "made from main, not the published ref"
    (ws.path / "a.txt").write_text("half done\n")
    (ws.path / "junk.txt").write_text("left by an attempt\n")
    again = await wss.ensure("t-new", repo, "main", new=True)  # a retried provision
    assert (again.path / "a.txt").read_text() == "a\n" and not (again.path / "junk.txt").exists()

    later = await wss.ensure("t-new", repo, "main")  # a later step takes over what was published
    assert run_git("rev-parse", "HEAD", cwd=later.path) == stale


async def test_a_step_that_knows_the_head_uses_the_worktree_at_it_and_asks_the_remote_otherwise(tmp_path: Path):
    """`head` (the commit the workflow last saw the branch at): a worktree here on the task's branch at
    that commit is used as it is — a later commit another machine published is not taken, since the
    workflow did not see it — while a worktree at any other commit, or on another branch, takes the
    full path and catches up with the published branch."""
    remote = RemoteRepo(tmp_path / "remote", {"a.txt": "a\n"})
    wss = WorktreeWorkspaces(tmp_path / "mirrors", tmp_path / "ws", "Honk", "honk@localhost", share=True)
    elsewhere = WorktreeWorkspaces(tmp_path / "mirrors2", tmp_path / "ws2", "Honk", "honk@localhost", share=True)
    repo = RepoRef(name="r", url=remote.url)
    await wss.fetch(repo)
    ws = await wss.ensure("t-1", repo, "main", new=True)
    (ws.path / "a.txt").write_text("mine\n")
    mine, _ = await wss.commit_all(ws, "mine", {})
    assert mine and await wss.publish(ws, repo, "t-1")

    theirs_ws = await elsewhere.ensure("t-1", repo, "main")  # another machine takes the branch further
    (theirs_ws.path / "a.txt").write_text("theirs\n")
    theirs, _ = await elsewhere.commit_all(theirs_ws, "theirs", {})
    assert theirs and await elsewhere.publish(theirs_ws, repo, "t-1")

    kept = await wss.ensure("t-1", repo, "main", head=mine)
    assert run_git("rev-parse", "HEAD", cwd=kept.path) == mine, "at the known head: the remote is not asked"
    assert kept.at == mine, "and the step knows HEAD without asking git again"

    caught = await wss.ensure("t-1", repo, "main", head=theirs)
    assert run_git("rev-parse", "HEAD", cwd=caught.path) == theirs, "not at the known head: catches up"
    assert caught.at is None, "the full path does not claim to know where HEAD is"

    run_git("checkout", "--quiet", "--detach", cwd=ws.path)  # at the head, but not on the task's branch
    named = await wss.ensure("t-1", repo, "main", head=theirs)
    assert run_git("symbolic-ref", "HEAD", cwd=named.path) == "refs/heads/honk/t-1"


async def test_a_fetch_reads_origins_url_again_once_another_process_changed_it(tmp_path: Path):
    """The mirror's origin URL is remembered per process (no `remote get-url` per fetch), but only while
    the mirror's config is the one read: a process whose repo moved to another URL sets it, and a process
    still configured with the old one notices the change and sets its own back, not fetching the other."""
    old, new = RemoteRepo(tmp_path / "old", {"a.txt": "old\n"}), RemoteRepo(tmp_path / "new", {"a.txt": "new\n"})
    here = WorktreeWorkspaces(tmp_path / "mirrors", tmp_path / "ws", "Honk", "honk@localhost")
    there = WorktreeWorkspaces(tmp_path / "mirrors", tmp_path / "ws2", "Honk", "honk@localhost")
    mirror = tmp_path / "mirrors" / "r.git"
    await here.fetch(RepoRef(name="r", url=old.url))
    await here.fetch(RepoRef(name="r", url=old.url))
    await there.fetch(RepoRef(name="r", url=new.url))
    assert run_git("--git-dir", str(mirror), "remote", "get-url", "origin") == new.url

    await here.fetch(RepoRef(name="r", url=old.url))
    assert run_git("--git-dir", str(mirror), "remote", "get-url", "origin") == old.url
    assert run_git("--git-dir", str(mirror), "rev-parse", "refs/remotes/origin/main") == old.head()
    await here.fetch(RepoRef(name="r", url=new.url))  # this process's repo moved too
    assert run_git("--git-dir", str(mirror), "rev-parse", "refs/remotes/origin/main") == new.head()


async def test_diff_and_stat_in_one_run_are_the_diff_and_the_diffstat(setup):
    """Delivery's one git run gives the same diff as `diff`, and the stat `diffstat` gives (renames aside:
    there it counts the deletion and the addition the diff shows)."""
    remote, wss, repo = setup
    await wss.fetch(repo)
    ws = await wss.ensure("t-d", repo, "main")
    base = run_git("rev-parse", "HEAD", cwd=ws.path)
    assert await wss.diff_and_stat(ws, base) == ("", "")
    (ws.path / "a.txt").write_text("a\nmore\n")
    (ws.path / "new file.txt").write_text("new\n")
    assert (await wss.commit_all(ws, "two", {}))[0]
    diff, stat = await wss.diff_and_stat(ws, base)
    assert (diff, stat) == (await wss.diff(ws, base), await wss.diffstat(ws, base))
    assert diff.startswith("diff --git a/a.txt") and "2 files changed" in stat

    run_git("mv", "a.txt", "b.txt", cwd=ws.path)
    assert (await wss.commit_all(ws, "moved", {}))[0]
    diff, stat = await wss.diff_and_stat(ws, base)
    assert diff == await wss.diff(ws, base) and "deleted file mode" in diff
    assert "a.txt" in stat and "b.txt" in stat
