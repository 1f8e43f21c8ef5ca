"""A file of a repo as its remote's branch has it, read from Honk's mirror: no workspace, no checkout.
Used where Honk needs a repo's `.honk.toml` outside a task (its schedules, synced on a push)."""

from __future__ import annotations

from honk.domain import RepoRef
from honk.errors import UserFacingError
from honk.workspace.git import GitError, git
from honk.workspace.worktrees import WorktreeWorkspaces

MAX_FILE_BYTES = 1_000_000  # a config file, not a data file: anything bigger is refused, not read


async def file_at_remote_head(
    workspaces: WorktreeWorkspaces, repo: RepoRef, branch: str, path: str
) -> tuple[str, str | None]:
    """The remote head of `branch` (fetched now) and the text of `path` there; None when it has no such file."""
    await workspaces.fetch(repo)
    head = await workspaces.remote_head(repo, branch)
    mirror = workspaces.mirror_path(repo)
    try:
        kind = await git("cat-file", "-t", f"{head}:{path}", git_dir=mirror)
    except GitError:
        return head, None
    if kind != "blob":
        raise UserFacingError(f"{path} on {repo.name}'s {branch} is a {kind}, not a file.")
    size = int(await git("cat-file", "-s", f"{head}:{path}", git_dir=mirror))
    if size > MAX_FILE_BYTES:
        raise UserFacingError(
            f"{path} on {repo.name}'s {branch} is {size:,} bytes; at most {MAX_FILE_BYTES:,} are read."
        )
    return head, await git("cat-file", "blob", f"{head}:{path}", git_dir=mirror)
