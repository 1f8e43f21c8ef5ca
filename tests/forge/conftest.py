"""Shared set-up for the forge tests: a team's repo and a task branch on a clone of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from forge_helpers import BRANCH, BUGGY, FIXED, commit

from honk.testing.gitrepo import RemoteRepo, run_git


@pytest.fixture
def remote(tmp_path: Path) -> RemoteRepo:
    return RemoteRepo(tmp_path / "remote", {"calc.py": BUGGY, "README.md": "calc\n"})


@pytest.fixture
def workspace(tmp_path: Path, remote: RemoteRepo) -> Path:
    """A task's workspace: the repo with Honk's branch checked out and one commit on it."""
    ws = tmp_path / "workspace"
    run_git("clone", "--quiet", remote.url, str(ws))
    run_git("checkout", "--quiet", "-b", BRANCH, cwd=ws)
    commit(ws, {"calc.py": FIXED}, "Fix add()")
    return ws
