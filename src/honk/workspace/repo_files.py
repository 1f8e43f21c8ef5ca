"""`RepoFiles` over the worker's mirrors: which files a repo's branch has, read with git plumbing on the bare
mirror (no worktree, no checkout, no agent), for a campaign's "repos whose files match" selector.

The path glob is matched in Python (honk.workspace.pathglob) on `git ls-tree -r -l`'s listing, which also
gives each file's size, so files over MAX_BYTES are never read. Content is `git grep -E -I -l` over the
matching paths only: POSIX extended regular expressions as git's regex library reads them (no `\\d`, no
lookaround), binary files skipped by git's own test. POSIX ERE has no backreferences (glibc accepts them, and
they make matching exponential), so a regex with one is refused; every other regex that is slow to match
(glibc's matcher is polynomial, not linear, in nested groups) is bounded by GREP_TIMEOUT_S.
"""

from __future__ import annotations

import re
from pathlib import Path

from honk.domain import RepoRef
from honk.errors import UserFacingError
from honk.workspace.git import GitError, git
from honk.workspace.pathglob import compile_glob
from honk.workspace.worktrees import WorktreeWorkspaces

MAX_BYTES = 1_000_000  # files over this are not read for content
MAX_GLOB_CHARS = 500
MAX_REGEX_CHARS = 500
GREP_TIMEOUT_S = 20.0
# Paths per `git grep` run: well under the kernel's argv limit, few runs for a repo of thousands of files.
ARGV_CHARS = 100_000
_BACKREFERENCE = re.compile(r"(?<!\\)(?:\\\\)*\\[1-9]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class MirrorRepoFiles:
    """Reads files from the mirrors `workspaces` keeps (fetched first, through its per-repo coalescing, so a
    campaign testing 200 repos while tasks provision shares their fetches)."""

    def __init__(self, workspaces: WorktreeWorkspaces, grep_timeout_s: float = GREP_TIMEOUT_S) -> None:
        self.workspaces = workspaces
        self.grep_timeout_s = grep_timeout_s

    async def matching(self, repo: RepoRef, path: str, content: str | None = None, limit: int = 5) -> list[str]:
        glob = compile_glob(check_glob(path))
        if content is not None:
            check_regex(content)
        if limit < 1:
            return []
        # No spare worktrees for a repo that is only looked at: most repos a selector tests get no task.
        await self.workspaces.fetch(repo, refill=False)
        commit = await self.workspaces.remote_head(repo, repo.branch)
        mirror = self.workspaces.mirror_path(repo)
        listing = await git("ls-tree", "-r", "-l", "-z", "--full-tree", commit, git_dir=mirror)
        paths: list[str] = []
        for entry in listing.split("\0"):
            meta, sep, name = entry.partition("\t")
            if not sep:
                continue
            mode, kind, _, size = meta.split(maxsplit=3)
            # Blobs only (no submodule commits); a symlink is a file by path but has no content to read.
            if kind != "blob" or not glob.matches(name):
                continue
            if content is None:
                paths.append(name)
                if len(paths) == limit:
                    return paths
            elif mode != "120000" and int(size) <= MAX_BYTES:
                paths.append(name)
        if content is None or not paths:
            return paths
        return await self._grep(repo, mirror, commit, content, paths, limit)

    async def _grep(
        self, repo: RepoRef, mirror: Path, commit: str, regex: str, paths: list[str], limit: int
    ) -> list[str]:
        found: list[str] = []
        for chunk in _chunks(paths):
            try:
                out = await git(
                    # Literal pathspecs: a file named "a*.py" is that file, not a wildcard over others.
                    "--literal-pathspecs",
                    "grep",
                    "-l",
                    "-z",
                    "-I",
                    "-E",
                    "--max-count=1",
                    "--no-textconv",
                    "-e",
                    regex,
                    commit,
                    "--",
                    *chunk,
                    git_dir=mirror,
                    timeout_s=self.grep_timeout_s,
                )
            except GitError as e:
                if e.code == 1 and not e.stderr.strip():
                    continue  # git grep's "no match"
                if "-e option" in e.stderr:
                    raise _regex_problem(regex, e) from e
                raise
            except TimeoutError:
                raise UserFacingError(
                    f"Searching {repo.name!r} for /{regex}/ took over {self.grep_timeout_s:.0f} s: "
                    "the regular expression is too slow to match; make it simpler."
                ) from None
            prefix = f"{commit}:"
            for hit in out.split("\0"):
                if hit:
                    found.append(hit.removeprefix(prefix))
                    if len(found) == limit:
                        return found
        return found


def check_glob(path: str) -> str:
    """The glob, or a UserFacingError naming what is wrong with it: it is relative to the repo's root."""
    shown = path if len(path) <= 60 else path[:60] + "…"
    if not path.strip():
        raise UserFacingError("A file path to look for is empty: give a glob such as **/*.py.")
    if len(path) > MAX_GLOB_CHARS:
        raise UserFacingError(f"The file path {shown!r} is too long: at most {MAX_GLOB_CHARS} characters.")
    if _CONTROL.search(path):
        raise UserFacingError(f"The file path {shown!r} has a control character in it.")
    if path.startswith("/") or "\\" in path:
        raise UserFacingError(f"The file path {shown!r} must be relative to the repo's root, with / between folders.")
    if any(part in (".", "..") for part in path.split("/")):
        raise UserFacingError(f"The file path {shown!r} must not use . or .. : it is read inside the repo only.")
    return path


def check_regex(regex: str) -> None:
    shown = regex if len(regex) <= 60 else regex[:60] + "…"
    if not regex:
        raise UserFacingError("The text to look for is empty: give a regular expression, or leave it out.")
    if len(regex) > MAX_REGEX_CHARS:
        raise UserFacingError(f"The regular expression {shown!r} is too long: at most {MAX_REGEX_CHARS} characters.")
    if _CONTROL.search(regex):
        raise UserFacingError(f"The regular expression {shown!r} has a control character (a newline?) in it.")
    if _BACKREFERENCE.search(regex):
        raise UserFacingError(
            f"The regular expression {shown!r} has a backreference (\\1…\\9): POSIX extended regular "
            "expressions, which Honk searches with, have none."
        )


def _regex_problem(regex: str, e: GitError) -> UserFacingError:
    """git grep's complaint about the regex (`fatal: -e option, '(': Unmatched ( or \\(`), said as ours."""
    last = (e.stderr.strip().splitlines() or [""])[-1]
    why = last.rsplit(": ", 1)[-1]
    return UserFacingError(
        f"{regex!r} is not a regular expression Honk can search with (POSIX extended, as git grep reads it): {why}"
    )


def _chunks(paths: list[str]) -> list[list[str]]:
    chunks: list[list[str]] = [[]]
    size = 0
    for p in paths:
        if chunks[-1] and size + len(p) > ARGV_CHARS:
            chunks.append([])
            size = 0
        chunks[-1].append(p)
        size += len(p) + 1
    return chunks
