"""The infrastructure's push of a task branch: over HTTPS to a forge, the token never at rest."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from forge_helpers import BRANCH, commit
from pydantic import SecretStr

from honk.errors import Conflict, Unauthorized
from honk.forge import push_branch
from honk.testing.fake_github import FakeGitHub
from honk.testing.gitrepo import RemoteRepo, run_git

TOKEN = "ghp_pushtoken0123456789"


@pytest.fixture(scope="module")
def forge() -> Iterator[FakeGitHub]:
    with FakeGitHub(tokens=(TOKEN,)) as fake:
        yield fake


@pytest.fixture
def forge_remote(forge: FakeGitHub, remote: RemoteRepo) -> str:
    """The team's repo served over HTTP by a forge that wants TOKEN: its git URL."""
    forge.reset()
    forge.add_repo("acme/widgets", remote)
    return f"{forge.url}/acme/widgets.git"


@pytest.fixture
def spied_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every git started from now on logs its arguments (a real `git` script first on PATH); HOME
    holds a user config that asks git to store credentials in a file, as some machines do."""
    real = shutil.which("git")
    assert real
    bin_dir, home = tmp_path / "bin", tmp_path / "home"
    bin_dir.mkdir()
    home.mkdir()
    log = tmp_path / "argv.log"
    spy = bin_dir / "git"
    spy.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{log}"\nexec "{real}" "$@"\n')
    spy.chmod(0o755)
    (home / ".gitconfig").write_text("[credential]\n\thelper = store\n")
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("HOME", str(home))
    return log


def files_under(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file())


async def test_pushes_over_https_with_the_token_in_the_environment_only(
    workspace: Path, remote: RemoteRepo, forge_remote: str, spied_git: Path, tmp_path: Path
) -> None:
    sha = await push_branch(workspace, forge_remote, BRANCH, SecretStr(TOKEN))

    assert BRANCH in remote.branches() and remote.head(BRANCH) == sha
    # Not in any argument git was started with...
    argv = spied_git.read_text()
    assert "push" in argv and "credential.helper=" in argv and TOKEN not in argv
    # ...nor in the workspace's config or any file git keeps, nor saved by the user's `store` helper.
    config = run_git("config", "--list", "--show-origin", cwd=workspace)
    assert TOKEN not in config and forge_remote not in config
    assert not any(TOKEN.encode() in p.read_bytes() for p in files_under(workspace / ".git"))
    assert not (tmp_path / "home" / ".git-credentials").exists()


async def test_the_forge_saw_basic_auth_and_no_token_in_any_url(
    workspace: Path, forge: FakeGitHub, forge_remote: str
) -> None:
    await push_branch(workspace, forge_remote, BRANCH, SecretStr(TOKEN), username="honk-bot")

    answered = [c for c in forge.calls if c.status == 200]
    assert {c.path for c in answered} == {"/acme/widgets.git/info/refs", "/acme/widgets.git/git-receive-pack"}
    assert all(c.auth == "basic" and c.username == "honk-bot" and c.credential == TOKEN for c in answered)
    assert all(TOKEN not in c.path and TOKEN not in str(c.query) for c in forge.calls)


async def test_a_wrong_token_is_a_clear_error_that_does_not_show_it(workspace: Path, forge_remote: str) -> None:
    with pytest.raises(Unauthorized) as raised:
        await push_branch(workspace, forge_remote, BRANCH, SecretStr("ghp_wrong_one"))

    assert "refused Honk's credentials when pushing honk/t1" in str(raised.value)
    assert "ghp_wrong_one" not in str(raised.value)


async def test_commits_someone_else_pushed_to_the_branch_are_never_overwritten(
    workspace: Path, remote: RemoteRepo, forge_remote: str, tmp_path: Path
) -> None:
    pushed = await push_branch(workspace, forge_remote, BRANCH, SecretStr(TOKEN))
    reviewer = tmp_path / "reviewer"
    run_git("clone", "--quiet", "--branch", BRANCH, remote.url, str(reviewer))
    theirs = commit(reviewer, {"NOTES.md": "a suggestion\n"}, "Reviewer's suggestion")
    run_git("push", "--quiet", "origin", BRANCH, cwd=reviewer)
    commit(workspace, {"calc.py": "def add(a, b):\n    return b + a\n"}, "Follow-up")

    with pytest.raises(Conflict, match="has commits Honk did not push"):
        await push_branch(workspace, forge_remote, BRANCH, SecretStr(TOKEN))
    with pytest.raises(Conflict):
        await push_branch(workspace, forge_remote, BRANCH, SecretStr(TOKEN), expect=pushed)
    assert remote.head(BRANCH) == theirs


async def test_honk_may_replace_what_it_pushed_itself(workspace: Path, remote: RemoteRepo, forge_remote: str) -> None:
    pushed = await push_branch(workspace, forge_remote, BRANCH, SecretStr(TOKEN))
    run_git("commit", "--quiet", "--amend", "-m", "Fix add() (reworded)", cwd=workspace)

    rewritten = await push_branch(workspace, forge_remote, BRANCH, SecretStr(TOKEN), expect=pushed)

    assert rewritten != pushed and remote.head(BRANCH) == rewritten


async def test_a_plain_remote_needs_no_token(workspace: Path, remote: RemoteRepo) -> None:
    sha = await push_branch(workspace, remote.url, BRANCH, None)

    assert remote.head(BRANCH) == sha
