"""Real git repositories for tests and benchmarks: a bare "remote" seeded from a dict of files."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Protocol

AUTHOR_ENV = {
    "GIT_AUTHOR_NAME": "Tester",
    "GIT_AUTHOR_EMAIL": "tester@localhost",
    "GIT_COMMITTER_NAME": "Tester",
    "GIT_COMMITTER_EMAIL": "tester@localhost",
}


def run_git(*args: str, cwd: Path | None = None) -> str:
    out = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **AUTHOR_ENV}, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def write_files(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


class BareRemote(Protocol):
    """What the fake forges serve: a bare repo and its main branch (a `RemoteRepo`, or a repo of the
    synthetic fleet, honk.testing.fleet)."""

    @property
    def bare(self) -> Path: ...

    @property
    def branch(self) -> str: ...


class RemoteRepo:
    """A bare repo standing in for a team's remote, with a clone for pushing changes "from elsewhere"."""

    def __init__(self, root: Path, files: dict[str, str], branch: str = "main") -> None:
        self.bare, self.clone, self.branch = root / "remote.git", root / "elsewhere", branch
        self.clone.mkdir(parents=True)
        run_git("init", "--quiet", "-b", branch, cwd=self.clone)
        write_files(self.clone, files)
        run_git("add", "--all", cwd=self.clone)
        run_git("commit", "--quiet", "-m", "initial", cwd=self.clone)
        run_git("clone", "--quiet", "--bare", str(self.clone), str(self.bare))
        run_git("remote", "add", "origin", str(self.bare), cwd=self.clone)
        run_git("fetch", "--quiet", "origin", cwd=self.clone)

    @property
    def url(self) -> str:
        return str(self.bare)

    def push_change(self, files: dict[str, str], message: str = "change from elsewhere") -> str:
        """Commits on the remote's branch as another engineer would (main moves)."""
        run_git("pull", "--quiet", "--ff-only", "origin", self.branch, cwd=self.clone)
        write_files(self.clone, files)
        run_git("add", "--all", cwd=self.clone)
        run_git("commit", "--quiet", "-m", message, cwd=self.clone)
        run_git("push", "--quiet", "origin", f"HEAD:{self.branch}", cwd=self.clone)
        return self.head()

    def head(self, ref: str | None = None) -> str:
        return run_git("--git-dir", str(self.bare), "rev-parse", ref or self.branch)

    def log(self, ref: str | None = None, fmt: str = "%H%n%B%n----") -> str:
        return run_git("--git-dir", str(self.bare), "log", f"--format={fmt}", ref or self.branch)

    def message(self, ref: str | None = None) -> str:
        return run_git("--git-dir", str(self.bare), "log", "-1", "--format=%B", ref or self.branch)

    def show(self, path: str, ref: str | None = None) -> str:
        return run_git("--git-dir", str(self.bare), "show", f"{ref or self.branch}:{path}")

    def branches(self) -> list[str]:
        out = run_git("--git-dir", str(self.bare), "for-each-ref", "--format=%(refname:short)", "refs/heads")
        return out.splitlines()
