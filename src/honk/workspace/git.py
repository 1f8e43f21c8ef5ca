"""A thin async wrapper over the git command line: Honk's workspaces, branches and merges are real git."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from honk.errors import UserFacingError
from honk.workspace.proc import child_env

GIT_TIMEOUT_S = 600.0


_CREDENTIALS = re.compile(r"(\w+://)[^/@\s]+@")  # the user (and token) written into a URL


def redact_url(text: str) -> str:
    """Hides credentials written into URLs (https://user:token@host/…) wherever text is shown."""
    return _CREDENTIALS.sub(r"\1***@", text)


def without_credentials(url: str) -> str:
    """The URL as a person clones it: without a user or token written into it."""
    return _CREDENTIALS.sub(r"\1", url, count=1) if _CREDENTIALS.match(url) else url


class GitError(Exception):
    def __init__(self, args: list[str], code: int | None, stderr: str) -> None:
        super().__init__(redact_url(f"git {' '.join(args)} failed ({code}): {stderr.strip()[-2000:]}"))
        self.code = code
        self.stderr = stderr


def git_identity(name: str, email: str) -> dict[str, str]:
    """Who Honk's own commits are by (author and committer alike)."""
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
    }


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = child_env(extra)
    # Never stop to ask for a password or open an editor in a background worker.
    env.update(
        {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_EDITOR": "true",
            "GIT_SSH_COMMAND": os.environ.get("GIT_SSH_COMMAND", "ssh -o BatchMode=yes"),
        }
    )
    return env


async def git(
    *args: str,
    cwd: Path | None = None,
    git_dir: Path | None = None,
    env: dict[str, str] | None = None,
    timeout_s: float = GIT_TIMEOUT_S,
    check: bool = True,
    stdin: str | None = None,
) -> str:
    argv = ["git"]
    if git_dir is not None:
        argv.append(f"--git-dir={git_dir}")
    argv += list(args)
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=env or git_env(),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin.encode() if stdin is not None else None), timeout_s)
    except (TimeoutError, asyncio.CancelledError):
        # Bounded: once communicate() is cancelled its transport is closed and wait() may never return.
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(proc.wait(), 5)
        raise
    if check and proc.returncode != 0:
        raise GitError(list(args), proc.returncode, err.decode("utf-8", "replace"))
    return out.decode("utf-8", "replace").strip()


async def git_ok(*args: str, cwd: Path | None = None, git_dir: Path | None = None) -> bool:
    """True when the git command exits 0 (for yes/no questions like `merge-base --is-ancestor`)."""
    try:
        await git(*args, cwd=cwd, git_dir=git_dir)
    except GitError:
        return False
    return True


async def check_remote_branch(url: str, branch: str) -> None:
    """Refuse, in words a person can act on, a branch name git would not take or a remote that
    cannot be reached or has no such branch. Adding a repo asks this before anything is stored."""
    if not await git_ok("check-ref-format", "--branch", branch):
        raise UserFacingError(f"{branch!r} is not a valid branch name.")
    try:
        heads = await git("ls-remote", "--heads", url, f"refs/heads/{branch}", timeout_s=60)
    except GitError as e:
        last = e.stderr.strip().splitlines()[-1:] or ["no detail"]
        raise UserFacingError(f"Cannot reach {redact_url(url)}: {redact_url(last[0])}") from e
    if not heads:
        raise UserFacingError(f"{redact_url(url)} has no branch {branch!r}; pass --branch with an existing one.")


@asynccontextmanager
async def file_lock(path: Path) -> AsyncIterator[None]:
    """An exclusive lock shared by every worker process on this machine (fetches and worktree edits)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                await asyncio.sleep(0.01)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
