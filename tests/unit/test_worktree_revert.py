"""A revert task's first step on real git: the revert of what a merge brought in, committed on the task's
branch — or, when a later change touched the same lines, the conflicting files and a clean workspace."""

from __future__ import annotations

from pathlib import Path

import pytest

from honk.domain import RepoRef, Workspace
from honk.errors import UserFacingError
from honk.testing.gitrepo import RemoteRepo, run_git
from honk.workspace.worktrees import WorktreeWorkspaces

GOOD = "def price(n):\n    return n * 10\n"
BROKEN = "def price(n):\n    return n * 0\n"
TRAILERS = {"Honk-Task": "t-rv", "Reverts-Task": "t-bad", "Requested-by": "carol"}


def merge_into_main(remote: RemoteRepo, files: dict[str, str], branch: str, delete: tuple[str, ...] = ()) -> str:
    """Lands `files` on main as a merge commit of a side branch (as Honk or a forge merges a task)."""
    clone = remote.clone
    run_git("pull", "--quiet", "--ff-only", "origin", "main", cwd=clone)
    run_git("checkout", "--quiet", "-b", branch, cwd=clone)
    for rel, text in files.items():
        (clone / rel).write_text(text)
    for rel in delete:
        run_git("rm", "--quiet", rel, cwd=clone)
    run_git("commit", "--quiet", "-am", f"change on {branch}", cwd=clone)
    run_git("checkout", "--quiet", "main", cwd=clone)
    run_git("merge", "--quiet", "--no-ff", "-m", f"Merge {branch}", branch, cwd=clone)
    run_git("push", "--quiet", "origin", "main", cwd=clone)
    return remote.head()


@pytest.fixture
def world(tmp_path: Path) -> tuple[RemoteRepo, WorktreeWorkspaces, RepoRef]:
    remote = RemoteRepo(tmp_path / "remote", {"shop.py": GOOD, "README.md": "shop\n"})
    wss = WorktreeWorkspaces(tmp_path / "mirrors", tmp_path / "ws", "Honk", "honk@localhost")
    return remote, wss, RepoRef(name="shop", url=remote.url)


async def revert_task(wss: WorktreeWorkspaces, repo: RepoRef, task: str = "t-rv") -> Workspace:
    await wss.fetch(repo)
    return await wss.ensure(task, repo, "main")


def clean(ws: Workspace) -> bool:
    return run_git("status", "--porcelain", "--untracked-files=all", cwd=ws.path) == ""


async def test_reverting_a_merge_restores_the_file_and_says_what_it_reverts(world) -> None:
    remote, wss, repo = world
    merge = merge_into_main(remote, {"shop.py": BROKEN}, "honk/t-bad")
    remote.push_change({"README.md": "shop, later\n"})  # an unrelated change after the merge stays
    ws = await revert_task(wss, repo)

    assert await wss.revert(ws, merge, 'Revert "Make prices free"', TRAILERS) == []

    assert (ws.path / "shop.py").read_text() == GOOD
    assert (ws.path / "README.md").read_text() == "shop, later\n"
    message = run_git("log", "-1", "--format=%B", cwd=ws.path)
    assert message.startswith('Revert "Make prices free"\n\nThis reverts commit ' + merge + ".")
    assert "Honk-Task: t-rv\nReverts-Task: t-bad\nRequested-by: carol" in message
    assert run_git("log", "-1", "--format=%an <%ae>", cwd=ws.path) == "Honk <honk@localhost>"
    assert run_git("rev-list", "--parents", "-n1", "HEAD", cwd=ws.path).split()[1] == remote.head()
    assert clean(ws)


async def test_a_plain_commit_is_reverted_plainly(world) -> None:
    remote, wss, repo = world
    plain = remote.push_change({"shop.py": BROKEN, "new.txt": "added\n"}, "Make prices free")
    ws = await revert_task(wss, repo)

    assert await wss.revert(ws, plain, "Revert the free prices", {}) == []

    assert (ws.path / "shop.py").read_text() == GOOD and not (ws.path / "new.txt").exists()


async def test_a_later_change_to_the_same_lines_conflicts_and_leaves_the_workspace_clean(world) -> None:
    remote, wss, repo = world
    merge = merge_into_main(remote, {"shop.py": BROKEN}, "honk/t-bad")
    remote.push_change({"shop.py": "def price(n):\n    return n * 0 + 1\n", "extra.txt": "x\n"})
    ws = await revert_task(wss, repo)
    before = await wss.head(ws)

    assert await wss.revert(ws, merge, "Revert", TRAILERS) == ["shop.py"]

    assert await wss.head(ws) == before, "nothing committed"
    assert clean(ws), "no markers, no half-applied revert left behind"
    assert "revert" not in run_git("status", cwd=ws.path).lower()
    # …and the workspace still works: another revert (of a change nothing touched since) goes through.
    later = remote.push_change({"README.md": "oops\n"})
    await wss.fetch(repo)
    run_git("merge", "--quiet", "--ff-only", "refs/remotes/origin/main", cwd=ws.path)
    assert await wss.revert(ws, later, "Revert README", {}) == []


async def test_a_conflicting_revert_takes_back_the_files_it_had_restored(world) -> None:
    remote, wss, repo = world
    remote.push_change({"terms.txt": "terms\n"})
    merge = merge_into_main(remote, {"shop.py": BROKEN}, "honk/t-two", delete=("terms.txt",))
    remote.push_change({"shop.py": "def price(n):\n    return -n\n"})
    ws = await revert_task(wss, repo)

    assert await wss.revert(ws, merge, "Revert", {}) == ["shop.py"]

    assert clean(ws) and not (ws.path / "terms.txt").exists(), "the restored file went with the abort"


async def test_hostile_or_unknown_commits_and_empty_reverts_are_refused_in_words(world) -> None:
    remote, wss, repo = world
    plain = remote.push_change({"shop.py": BROKEN})
    ws = await revert_task(wss, repo)
    for bad in ("--help", "main", "HEAD~1", "a" * 65, "abc", "-m1 " + plain):
        with pytest.raises(UserFacingError, match="by its id"):
            await wss.revert(ws, bad, "Revert", {})
    with pytest.raises(UserFacingError, match="no such commit"):
        await wss.revert(ws, "0" * 40, "Revert", {})
    assert await wss.revert(ws, plain, "Revert", {}) == []
    with pytest.raises(UserFacingError, match="already undone"):
        await wss.revert(ws, plain, "Revert again", {})
    assert clean(ws)
