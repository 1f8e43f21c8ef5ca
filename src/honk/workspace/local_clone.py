"""A person's own clone of a repo, where `honk checkout` brings a task's branch (honk.cli.checkout): found
among the work tree's remotes by the repo's URL, fetched into, and switched to a new branch. git runs
through honk.workspace.git as everywhere else, but with the person's own environment (their credential
helpers, their ssh agent). It never stops to prompt: a fetch that needs a typed password fails with git's
own message, which says what to set up."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from honk.errors import UserFacingError
from honk.workspace.git import GitError, git, git_ok


def same_repo_key(url: str) -> str:
    """A repo URL without what differs between clones of the same repo: scheme, user, `.git`, a trailing
    slash, the host's case; `git@host:path` as `host/path`; a local path resolved."""
    url = url.strip()
    if m := re.fullmatch(r"[\w.-]+@([\w.-]+):(?!//)(.+)", url):
        host, path = m.group(1), m.group(2)
    elif "://" in url:
        parts = urlsplit(url)
        if parts.scheme == "file":
            return str(Path(parts.path).resolve()).removesuffix(".git").rstrip("/")
        host, path = (parts.hostname or ""), parts.path
    else:
        return str(Path(url).expanduser().resolve()).removesuffix("/.git").removesuffix(".git").rstrip("/")
    return f"{host.lower()}/{path.strip('/').removesuffix('.git')}"


@dataclass(frozen=True)
class LocalClone:
    top: Path  # the work tree
    git_dir: Path  # where the agent's summary goes: beside the repo's data, never committed
    remote: str  # the name of its remote for the repo

    @classmethod
    async def here(cls, cwd: Path, repo_url: str) -> LocalClone | None:
        """`cwd`'s clone of the repo at `repo_url`; None outside a work tree, or in a clone of another repo."""
        if not await git_ok("rev-parse", "--is-inside-work-tree", cwd=cwd):
            return None
        top = Path(await _git(cwd, "rev-parse", "--show-toplevel"))
        git_dir = Path(await _git(top, "rev-parse", "--absolute-git-dir"))
        wanted = same_repo_key(repo_url)
        for line in (await _git(top, "remote", "-v")).splitlines():
            parts = line.split()
            if len(parts) >= 2 and parts[-1] == "(fetch)" and same_repo_key(parts[1]) == wanted:
                return cls(top, git_dir, parts[0])
        return None

    async def fetch(self, source: str, ref: str) -> str:
        """Fetches `ref` from `source` (a remote's name or a URL); the commit fetched."""
        await _git(self.top, "fetch", "--quiet", source, ref)
        return await _git(self.top, "rev-parse", "FETCH_HEAD")

    async def has_branch(self, branch: str) -> bool:
        return await git_ok("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", cwd=self.top)

    async def switch_new(self, branch: str, commit: str) -> None:
        await _git(self.top, "switch", "--quiet", "-c", branch, commit)


async def _git(cwd: Path, *args: str) -> str:
    try:
        return await git(*args, cwd=cwd, env=dict(os.environ))
    except GitError as e:
        last = (e.stderr.strip().splitlines() or [f"exit code {e.code}"])[-1]
        raise UserFacingError(f"git {args[0]} failed: {last}") from e
