"""One bare mirror per repo, fetched before each task; one worktree per task on `honk/<task-id>`.

The mirror keeps the remote's branches under `refs/remotes/origin/*` so that `fetch --prune`
never touches Honk's own task branches (`refs/heads/honk/*`), which live only in the mirror.
A workspace is a cache of its branch: any step can recreate it, on any worker sharing the data dir.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from honk.domain import RepoRef
from honk.errors import UserFacingError
from honk.workspace.git import GitError, file_lock, git, git_env


@dataclass(frozen=True)
class Workspace:
    path: Path
    branch: str
    mirror: Path


def task_branch(task_id: str) -> str:
    return f"honk/{task_id}"


class WorktreeWorkspaces:
    def __init__(self, mirrors_dir: Path, workspaces_dir: Path, author_name: str, author_email: str) -> None:
        self.mirrors_dir = mirrors_dir.resolve()
        self.workspaces_dir = workspaces_dir.resolve()
        self.author = {
            "GIT_AUTHOR_NAME": author_name, "GIT_AUTHOR_EMAIL": author_email,
            "GIT_COMMITTER_NAME": author_name, "GIT_COMMITTER_EMAIL": author_email,
        }

    def mirror_path(self, repo: RepoRef) -> Path:
        return self.mirrors_dir / f"{repo.name}.git"

    def _lock(self, repo: RepoRef) -> Path:
        return self.mirrors_dir / f"{repo.name}.lock"

    async def fetch(self, repo: RepoRef) -> None:
        """Creates the mirror on first use, then brings it up to date with the remote."""
        mirror = self.mirror_path(repo)
        async with file_lock(self._lock(repo)):
            if not (mirror / "HEAD").exists():
                mirror.mkdir(parents=True, exist_ok=True)
                await git("init", "--quiet", "--bare", str(mirror))
                await git("remote", "add", "origin", repo.url, git_dir=mirror)
            elif await git("remote", "get-url", "origin", git_dir=mirror) != repo.url:
                await git("remote", "set-url", "origin", repo.url, git_dir=mirror)
            try:
                await git("fetch", "--quiet", "--prune", "origin", git_dir=mirror, timeout_s=900)
            except GitError as e:
                last = e.stderr.strip().splitlines()[-1:] or ["no detail"]
                raise UserFacingError(
                    f"Could not fetch repo {repo.name!r} from {repo.url}: {last[0]} "
                    "— check the URL and that this machine can reach it."
                ) from e

    async def remote_head(self, repo: RepoRef, branch: str) -> str:
        try:
            return await git("rev-parse", "--verify", f"refs/remotes/origin/{branch}^{{commit}}",
                             git_dir=self.mirror_path(repo))
        except GitError as e:
            raise UserFacingError(f"Repo {repo.name!r} has no branch {branch!r} on its remote.") from e

    def path(self, task_id: str) -> Path:
        return self.workspaces_dir / task_id

    async def ensure(self, task_id: str, repo: RepoRef, base_branch: str) -> Workspace:
        """The task's worktree, made from the branch if it exists, else from the remote's base branch."""
        mirror, path, branch = self.mirror_path(repo), self.path(task_id), task_branch(task_id)
        if (path / ".git").exists():
            return Workspace(path, branch, mirror)
        async with file_lock(self._lock(repo)):
            if path.exists():  # a half-made directory from a worker that died
                shutil.rmtree(path)
            await git("worktree", "prune", git_dir=mirror)
            path.parent.mkdir(parents=True, exist_ok=True)
            exists = await git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}",
                               git_dir=mirror, check=False)
            if exists:
                await git("worktree", "add", "--quiet", str(path), branch, git_dir=mirror)
            else:
                await git("worktree", "add", "--quiet", "-b", branch, str(path),
                          f"refs/remotes/origin/{base_branch}", git_dir=mirror)
        return Workspace(path, branch, mirror)

    async def remove(self, task_id: str, repo: RepoRef) -> None:
        """Deletes the working files; the branch stays in the mirror."""
        mirror, path = self.mirror_path(repo), self.path(task_id)
        async with file_lock(self._lock(repo)):
            if path.exists():
                await git("worktree", "remove", "--force", str(path), git_dir=mirror, check=False)
                shutil.rmtree(path, ignore_errors=True)
            if mirror.exists():
                await git("worktree", "prune", git_dir=mirror)

    async def reset(self, ws: Workspace) -> None:
        """Back to the branch's last commit: a retried step starts from what was committed."""
        await git("reset", "--quiet", "--hard", "HEAD", cwd=ws.path)
        await git("clean", "--quiet", "-fd", cwd=ws.path)

    async def head(self, ws: Workspace) -> str:
        return await git("rev-parse", "HEAD", cwd=ws.path)

    async def commit_all(self, ws: Workspace, message: str, trailers: dict[str, str]) -> tuple[str | None, list[str]]:
        """Commits every change in the worktree; returns (commit or None when clean, changed files)."""
        await git("add", "--all", cwd=ws.path)
        changed = (await git("diff", "--cached", "--name-only", cwd=ws.path)).splitlines()
        if not changed:
            return None, []
        args = ["commit", "--quiet", "--no-verify", "-m", message]
        for key, value in trailers.items():
            args += ["--trailer", f"{key}: {value}"]
        await git(*args, cwd=ws.path, env=git_env(self.author))
        return await self.head(ws), changed

    async def merge_in(self, ws: Workspace, ref: str, message: str, trailers: dict[str, str]) -> list[str]:
        """Merges `ref` into the task branch; returns the conflicting files (merge aborted) or []."""
        msg = message + "\n\n" + "\n".join(f"{k}: {v}" for k, v in trailers.items())
        try:
            await git("merge", "--quiet", "--no-ff", "--no-edit", "-m", msg, ref,
                      cwd=ws.path, env=git_env(self.author))
        except GitError:
            conflicts = (await git("diff", "--name-only", "--diff-filter=U", cwd=ws.path, check=False)).splitlines()
            await git("merge", "--abort", cwd=ws.path, check=False)
            return conflicts or ["(merge failed)"]
        return []

    async def diffstat(self, ws: Workspace, base: str) -> str:
        return await git("diff", "--stat", f"{base}...HEAD", cwd=ws.path)

    async def diff(self, ws: Workspace, base: str) -> str:
        return await git("diff", f"{base}...HEAD", cwd=ws.path)
