"""One bare mirror per repo, fetched before each task; one worktree per task on `honk/<task-id>`.

The mirror keeps the remote's branches under `refs/remotes/origin/*` so that `fetch --prune`
never touches Honk's own task branches (`refs/heads/honk/*`), which live only in the mirror.
A workspace is a cache of its branch: any step can recreate it, on any worker sharing the data dir.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from honk.domain import RepoRef, Workspace
from honk.errors import UserFacingError
from honk.redaction import redact
from honk.workspace.git import GitError, file_lock, git, git_env, git_identity, git_ok, redact_url

STALE_SPARE_S = 600.0
COMMIT_ID = re.compile(r"[0-9a-f]{7,64}")


class SecretInChange(UserFacingError):
    def __init__(self, files: list[str]) -> None:
        super().__init__(
            f"The change adds a credential that Honk holds (in {', '.join(files)}); nothing was "
            "committed. Credentials never go into a commit: ask for the change without it."
        )
        self.files = files


def _files_adding(diff: str, values: Sequence[str]) -> list[str]:
    files: list[str] = []
    current = ""
    for line in diff.splitlines():
        if line.startswith("+++ "):
            current = line[6:] if line.startswith("+++ b/") else line[4:]
        elif line.startswith("+") and current not in files and any(v in line for v in values):
            files.append(current)
    return files


def task_ref(task_id: str) -> str:
    return f"refs/honk/tasks/{task_id}"


def mirror_path(mirrors_dir: Path, repo: RepoRef) -> Path:
    """Where a machine keeps its mirror of the repo (the server names it for `honk checkout` on one machine)."""
    return mirrors_dir / f"{repo.name}.git"


def task_branch(task_id: str) -> str:
    return f"honk/{task_id}"


class WorktreeWorkspaces:
    def __init__(
        self,
        mirrors_dir: Path,
        workspaces_dir: Path,
        author_name: str,
        author_email: str,
        share: bool = False,
        warm: int = 0,
    ) -> None:
        self.mirrors_dir = mirrors_dir.resolve()
        self.workspaces_dir = workspaces_dir.resolve()
        self.author = git_identity(author_name, author_email)
        # How many checked-out spare worktrees to keep per repo, so a task's workspace is a rename.
        self.warm = warm
        # Workers on other machines continue a task from its branch as published on the remote
        # (refs/honk/tasks/<id>); see publish() and ensure().
        self.share = share
        self._refills: set[asyncio.Task[None]] = set()
        # This process's fetchers of one repo queue here, not on the mirror's file lock: a burst of tasks
        # shares one or two fetches and takes the file lock once or twice, not once each.
        self._fetchers: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = {}
        # mirror → (origin's URL, the mirror config's inode and mtime) as last read: a fetch asks git for
        # the URL again only when the repo's URL or the config file changed (git rewrites it by renaming a
        # new file over it, so any process's `set-url` gives it a new inode).
        self._origins: dict[Path, tuple[str, int, int]] = {}

    def mirror_path(self, repo: RepoRef) -> Path:
        return mirror_path(self.mirrors_dir, repo)

    def _lock(self, repo: RepoRef) -> Path:
        return self.mirrors_dir / f"{repo.name}.lock"

    def _spares(self, repo: RepoRef) -> Path:
        return self.workspaces_dir / ".spare" / repo.name

    async def fetch(self, repo: RepoRef, *, refill: bool = True) -> None:
        """Creates the mirror on first use, then brings it up to date with the remote. `refill=False`: no
        spare worktrees are made for it (a repo only looked at, as a campaign's selector does).

        Tasks that asked while another fetch of the same mirror was already under way, and which
        started after they asked, share that fetch: it saw everything they would have seen.
        """
        mirror, asked = self.mirror_path(repo), time.time()
        stamp = self.mirrors_dir / f"{repo.name}.fetched"
        async with self._fetcher(repo):
            if (mirror / "HEAD").exists() and _stamped(stamp) >= asked:
                return  # a fetch that began after this one was asked finished while it queued
            async with file_lock(self._lock(repo)):
                await self._fetch(repo, mirror, stamp, asked)
        if refill:
            self._schedule_refill(repo, repo.branch)

    def _fetcher(self, repo: RepoRef) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        held = self._fetchers.get(repo.name)
        if held is None or held[0] is not loop:
            held = self._fetchers[repo.name] = (loop, asyncio.Lock())
        return held[1]

    async def _fetch(self, repo: RepoRef, mirror: Path, stamp: Path, asked: float) -> None:
        """Under the mirror's lock: make the mirror, or fetch, unless another process's fetch that began
        after `asked` has finished."""
        if not (mirror / "HEAD").exists():
            mirror.mkdir(parents=True, exist_ok=True)
            await git("init", "--quiet", "--bare", str(mirror))
            await git("remote", "add", "origin", repo.url, git_dir=mirror)
            await self._no_push(mirror)
            self._remember_origin(mirror, repo.url)
        elif not await self._origin_is(mirror, repo.url):
            await git("remote", "set-url", "origin", repo.url, git_dir=mirror)
            await self._no_push(mirror)
            self._remember_origin(mirror, repo.url)
            stamp.unlink(missing_ok=True)
        elif _stamped(stamp) >= asked:
            return
        started = time.time()
        try:
            await git("fetch", "--quiet", "--prune", "origin", git_dir=mirror, timeout_s=900)
        except GitError as e:
            last = e.stderr.strip().splitlines()[-1:] or ["no detail"]
            raise UserFacingError(
                f"Could not fetch repo {repo.name!r} from {redact_url(repo.url)}: {redact_url(last[0])} "
                "— check the URL and that this machine can reach it."
            ) from e
        stamp.write_text(repr(started))

    async def _origin_is(self, mirror: Path, url: str) -> bool:
        """Whether the mirror's origin is `url`: from memory while its config file is unchanged."""
        config = (mirror / "config").stat()
        if self._origins.get(mirror) == (url, config.st_ino, config.st_mtime_ns):
            return True
        if await git("remote", "get-url", "origin", git_dir=mirror) != url:
            return False
        self._remember_origin(mirror, url)
        return True

    def _remember_origin(self, mirror: Path, url: str) -> None:
        config = (mirror / "config").stat()
        self._origins[mirror] = (url, config.st_ino, config.st_mtime_ns)

    @staticmethod
    async def _no_push(mirror: Path) -> None:
        """Workspaces share the mirror's config: `git push origin` from one goes nowhere. Honk's own
        merges push to the repo's URL explicitly."""
        await git("config", "remote.origin.pushurl", "honk-pushes-for-you:", git_dir=mirror)

    async def remote_head(self, repo: RepoRef, branch: str) -> str:
        try:
            return await git(
                "rev-parse", "--verify", f"refs/remotes/origin/{branch}^{{commit}}", git_dir=self.mirror_path(repo)
            )
        except GitError as e:
            raise UserFacingError(f"Repo {repo.name!r} has no branch {branch!r} on its remote.") from e

    def path(self, task_id: str) -> Path:
        return self.workspaces_dir / task_id

    async def ensure(
        self,
        task_id: str,
        repo: RepoRef,
        base_branch: str,
        key: str | None = None,
        *,
        new: bool = False,
        head: str | None = None,
        base_at: str | None = None,
    ) -> Workspace:
        """The task's worktree, made from the branch if it exists, else from the remote's base branch.
        `key`: the directory's name when not the task id (another repo of a task over several: each repo
        has its own mirror, so the branch name is the task's in every one of them).

        Only git's bookkeeping happens under the mirror's lock; checking files out happens outside it.
        `new` (provisioning: the task has committed nothing): the remote is not asked for a published
        branch, which only a commit publishes (an ls-remote and its upload-pack per task saved), and a
        worktree made here is clean already, so only one left by an earlier attempt is reset.
        `head`: the commit the workflow last saw the task's branch at (the step before returned it). A
        worktree here on the task's branch at that commit is used as it is, in one git run: the remote is
        not asked for a published branch, because the workflow runs one step at a time and every step
        that moves the branch is followed by one that returns the new commit, so no machine has published
        a later one the workflow knows of. Anything else (no worktree, another commit, a detached or other
        branch) takes the full path below. `base_at`: where `base_branch` is, as the caller just read it.
        """
        mirror, path, branch = self.mirror_path(repo), self.path(key or task_id), task_branch(task_id)
        if head is not None and not new and (path / ".git").exists():
            at = await git("rev-parse", "HEAD", "--symbolic-full-name", "HEAD", cwd=path, check=False)
            if at.split() == [head, f"refs/heads/{branch}"]:
                return Workspace(path=path, branch=branch, mirror=mirror, at=head)
        if not (mirror / "HEAD").exists():  # a machine new to this repo, taking over a task
            await self.fetch(repo)
        published = await self._published(repo, task_id) if self.share and not new else None
        base = f"refs/remotes/origin/{base_branch}"
        if (path / ".git").exists():
            ws = Workspace(path=path, branch=branch, mirror=mirror)
            if await git("symbolic-ref", "--quiet", "HEAD", cwd=path, check=False) != f"refs/heads/{branch}":
                await self._name_branch(ws, base)
            await self._catch_up(ws, repo, task_id, published)
            if new:
                await self.reset(ws)
            return ws
        if path.exists():  # a half-made directory from a worker that died
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Only git's own bookkeeping is under the lock, and as little of it as a task needs (one git run
        # when a spare is ready): a burst of tasks on one repo queues behind it task by task.
        # The task's own branch: no other task makes or moves it, so it is read before the lock.
        exists = await git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", git_dir=mirror, check=False)
        async with file_lock(self._lock(repo)):
            if published is not None:
                await self._take_published(repo, task_id, published)
                exists = branch
            spare_at = None if exists else await self._claim_spare(repo, path)
            if spare_at is None:
                await self._add_worktree(mirror, path, branch, base, exists=bool(exists))
        at = None
        if spare_at is not None:
            target = base_at or await git("rev-parse", base, git_dir=mirror)
            at = await self._start_branch(path, branch, target, spare_at or None)
        else:
            await git("reset", "--quiet", "--hard", cwd=path)
        self._schedule_refill(repo, base_branch, base_at)
        return Workspace(path=path, branch=branch, mirror=mirror, at=at)

    @staticmethod
    async def _add_worktree(mirror: Path, path: Path, branch: str, base: str, *, exists: bool) -> None:
        """`git worktree add` for the task's branch (caller holds the lock). A worker that died can leave
        the branch registered to a worktree whose directory is gone: then prune once and add again."""
        add = ["worktree", "add", "--quiet", "--no-checkout"]
        # --no-track: a branch made from origin/<base> would track it, a write of the mirror's config, which
        # replaces the file under every sandbox of the repo that binds a clean copy over it at that moment
        # (their mount fails with ENOENT): the mirror's config changes only when the repo does.
        args = [*add, str(path), branch] if exists else [*add, "--no-track", "-b", branch, str(path), base]
        try:
            await git(*args, git_dir=mirror)
        except GitError:
            await git("worktree", "prune", git_dir=mirror)
            await git(*args, git_dir=mirror)

    # -- a task's branch across machines -----------------------------------------------------
    async def publish(self, ws: Workspace, repo: RepoRef, task_id: str) -> bool:
        """Pushes the task's branch to the remote's refs/honk/tasks/<id> (not a branch: clones and
        branch lists do not see it), so a worker on another machine can continue the task."""
        if not self.share:
            return True
        return await git_ok("push", "--quiet", "--force", repo.url, f"HEAD:{task_ref(task_id)}", cwd=ws.path)

    async def unpublish(self, repo: RepoRef, task_id: str) -> None:
        if self.share and self.mirror_path(repo).exists():
            await git("push", "--quiet", repo.url, f":{task_ref(task_id)}", git_dir=self.mirror_path(repo), check=False)

    async def _published(self, repo: RepoRef, task_id: str) -> str | None:
        try:
            out = await git("ls-remote", repo.url, task_ref(task_id), timeout_s=60)
        except GitError:
            return None  # unreachable now: this machine's copy is the best there is
        return out.split()[0] if out.strip() else None

    async def _take_published(self, repo: RepoRef, task_id: str, sha: str) -> None:
        """Makes the mirror's task branch the published commit, unless it already has it (or more)."""
        mirror, branch = self.mirror_path(repo), task_branch(task_id)
        local = await git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", git_dir=mirror, check=False)
        if local and (local == sha or await git_ok("merge-base", "--is-ancestor", sha, local, git_dir=mirror)):
            return
        await git("fetch", "--quiet", repo.url, f"+{task_ref(task_id)}:{task_ref(task_id)}", git_dir=mirror)
        await git("update-ref", f"refs/heads/{branch}", sha, git_dir=mirror)

    async def _catch_up(self, ws: Workspace, repo: RepoRef, task_id: str, sha: str | None) -> None:
        """A worktree this machine made earlier, while another machine took the task further."""
        if sha is None:
            return
        head = await self.head(ws)
        if head == sha or await git_ok("merge-base", "--is-ancestor", sha, head, cwd=ws.path):
            return
        async with file_lock(self._lock(repo)):
            await git("fetch", "--quiet", repo.url, f"+{task_ref(task_id)}:{task_ref(task_id)}", git_dir=ws.mirror)
        await git("reset", "--quiet", "--hard", sha, cwd=ws.path)

    async def _name_branch(self, ws: Workspace, base: str) -> None:
        """A worker died between claiming a spare worktree and naming the task's branch on it: finish."""
        if await git_ok("rev-parse", "--verify", "--quiet", f"refs/heads/{ws.branch}", git_dir=ws.mirror):
            await git("checkout", "--quiet", "--force", ws.branch, cwd=ws.path)
        else:
            await self._start_branch(ws.path, ws.branch, await git("rev-parse", base, git_dir=ws.mirror))

    async def _claim_spare(self, repo: RepoRef, path: Path) -> str | None:
        """Moves a ready spare worktree to `path` (caller holds the lock); the commit it is at when its
        refill knew it ("" when not), None when there is no spare."""
        for ready in sorted(self._spares(repo).glob("*.ready")):
            spare = ready.with_suffix("")
            at = ready.read_text().strip()
            ready.unlink()
            if (spare / ".git").exists():
                move = ("worktree", "move", str(spare), str(path))
                try:
                    await git(*move, git_dir=self.mirror_path(repo))
                except GitError:  # `path` still registered to a worktree whose directory is gone
                    await git("worktree", "prune", git_dir=self.mirror_path(repo))
                    await git(*move, git_dir=self.mirror_path(repo))
                return at
        return None

    async def _start_branch(self, path: Path, branch: str, target: str, at: str | None = None) -> str:
        """Names the task's branch at the commit `target` in the worktree at `path`; returns `target`.
        `at`: the commit the worktree is at, when known (a spare's refill wrote it down)."""
        if (at or await git("rev-parse", "HEAD", cwd=path)) == target:
            # Already at the base: name the branch and point HEAD at it, no file is touched.
            await git("branch", branch, target, cwd=path)
            await git("symbolic-ref", "HEAD", f"refs/heads/{branch}", cwd=path)
        else:
            await git("checkout", "--quiet", "--force", "-B", branch, target, cwd=path)
        return target

    def _schedule_refill(self, repo: RepoRef, base_branch: str, at: str | None = None) -> None:
        if self.warm <= 0:
            return
        task = asyncio.get_running_loop().create_task(self.refill(repo, base_branch, at))
        self._refills.add(task)
        task.add_done_callback(self._refills.discard)

    async def close(self) -> None:
        """Stops background refills (a half-made spare is cleaned up by a later refill)."""
        for task in list(self._refills):
            task.cancel()
        if self._refills:
            await asyncio.wait(list(self._refills), timeout=10)

    async def refill(self, repo: RepoRef, base_branch: str, at: str | None = None) -> None:
        """Tops up the repo's spare worktrees, checked out at the remote's base branch (at the commit `at`,
        when the caller just read where it is: written beside the spare, so claiming it asks git nothing)."""
        spares, mirror = self._spares(repo), self.mirror_path(repo)
        for stale in spares.glob("*.making"):  # left by a worker that died while making a spare
            if time.time() - stale.stat().st_mtime > STALE_SPARE_S:
                shutil.rmtree(stale.with_suffix(""), ignore_errors=True)
                stale.unlink(missing_ok=True)
        while len(list(spares.glob("*.ready"))) + len(list(spares.glob("*.making"))) < self.warm:
            spare = spares / uuid.uuid4().hex[:12]
            making = spare.with_suffix(".making")
            async with file_lock(self._lock(repo)):
                spares.mkdir(parents=True, exist_ok=True)
                making.touch()
                try:
                    await git(
                        "worktree",
                        "add",
                        "--quiet",
                        "--no-checkout",
                        "--detach",
                        str(spare),
                        at or f"refs/remotes/origin/{base_branch}",
                        git_dir=mirror,
                    )
                except GitError:
                    making.unlink(missing_ok=True)
                    return
            try:
                await git("reset", "--quiet", "--hard", cwd=spare)
            except (GitError, asyncio.CancelledError):
                shutil.rmtree(spare, ignore_errors=True)  # `worktree prune` drops its record later
                making.unlink(missing_ok=True)
                raise
            making.write_text(at or "")
            making.rename(spare.with_suffix(".ready"))

    async def remove(self, task_id: str, repo: RepoRef, key: str | None = None) -> None:
        """Deletes the working files and the published task ref; the branch stays in the mirror."""
        await self._remove_worktree(key or task_id, repo)
        await self.unpublish(repo, task_id)

    async def _remove_worktree(self, task_id: str, repo: RepoRef) -> None:
        mirror, path = self.mirror_path(repo), self.path(task_id)
        async with file_lock(self._lock(repo)):
            if path.exists():
                await git("worktree", "remove", "--force", str(path), git_dir=mirror, check=False)
                shutil.rmtree(path, ignore_errors=True)
            if mirror.exists():
                await git("worktree", "prune", git_dir=mirror)

    async def checkout_at(self, key: str, repo: RepoRef, commit: str) -> Workspace:
        """A detached worktree of `commit` named `key` (the target branch's version of a task, for its
        before/after screenshots): made once, moved to `commit` when asked again."""
        mirror, path = self.mirror_path(repo), self.path(key)
        if not (path / ".git").exists():
            async with file_lock(self._lock(repo)):
                shutil.rmtree(path, ignore_errors=True)  # half made by a worker that died
                await git("worktree", "prune", git_dir=mirror)
                path.parent.mkdir(parents=True, exist_ok=True)
                await git("worktree", "add", "--quiet", "--no-checkout", "--detach", str(path), commit, git_dir=mirror)
        await git("checkout", "--quiet", "--force", "--detach", commit, cwd=path)
        return Workspace(path=path, branch="", mirror=mirror)

    async def drop(self, key: str, repo: RepoRef) -> None:
        await self._remove_worktree(key, repo)

    async def reset(self, ws: Workspace) -> None:
        """Back to the branch's last commit: a retried step starts from what was committed."""
        await git("reset", "--quiet", "--hard", "HEAD", cwd=ws.path)
        await git("clean", "--quiet", "-fd", cwd=ws.path)

    async def head(self, ws: Workspace) -> str:
        return await git("rev-parse", "HEAD", cwd=ws.path)

    async def merge_base(self, ws: Workspace, target: str) -> str:
        return await git("merge-base", "HEAD", f"refs/remotes/origin/{target}", cwd=ws.path)

    async def contains(self, ws: Workspace, commit: str) -> bool:
        return await git_ok("merge-base", "--is-ancestor", commit, "HEAD", cwd=ws.path)

    async def is_in(self, ws: Workspace, commit: str) -> bool:
        return await git_ok("merge-base", "--is-ancestor", "HEAD", commit, cwd=ws.path)

    def merge_lock(self, repo: RepoRef) -> AbstractAsyncContextManager[None]:
        """One merge at a time per repo on this machine (a file lock beside its mirror)."""
        return file_lock(self.mirrors_dir / f"{repo.name}.merge.lock")

    async def changes_since(self, ws: Workspace, commit: str) -> tuple[list[str], str]:
        changed = (await git("diff", "--name-only", f"{commit}..HEAD", cwd=ws.path)).splitlines()
        body = (await git("log", "-1", "--format=%b", "HEAD", cwd=ws.path)).split("\n\n")[0].strip()
        return changed, body

    async def commit_all(
        self, ws: Workspace, message: str, trailers: dict[str, str], refuse: Sequence[str] = ()
    ) -> tuple[str | None, list[str]]:
        """Commits every change in the worktree; returns (commit or None when clean, changed files).
        A change that adds any of the `refuse` values (Honk's own credentials) is not committed."""
        await git("add", "--all", cwd=ws.path)
        changed = (await git("diff", "--cached", "--name-only", cwd=ws.path)).splitlines()
        if not changed:
            return None, []
        if refuse and (
            leaked := _files_adding(
                await git("diff", "--cached", "-U0", "--no-color", "--no-ext-diff", "--no-textconv", cwd=ws.path),
                refuse,
            )
        ):
            await git("reset", "--quiet", cwd=ws.path)
            raise SecretInChange(leaked)
        # The trailers as the message's last paragraph, as merge_in writes them: `--trailer` would start
        # `git interpret-trailers`, a process more per commit.
        lines = "\n".join(f"{key}: {' '.join(value.splitlines())}" for key, value in trailers.items())
        msg = redact(f"{message.rstrip()}\n\n{lines}" if lines else message)
        await git("commit", "--quiet", "--no-verify", "-m", msg, cwd=ws.path, env=git_env(self.author))
        return await self.head(ws), changed

    async def merge_in(self, ws: Workspace, ref: str, message: str, trailers: dict[str, str]) -> list[str]:
        """Merges `ref` into the task branch; returns the conflicting files (merge aborted) or []."""
        msg = redact(message + "\n\n" + "\n".join(f"{k}: {v}" for k, v in trailers.items()))
        try:
            await git("merge", "--quiet", "--no-ff", "--no-edit", "-m", msg, ref, cwd=ws.path, env=git_env(self.author))
        except GitError:
            conflicts = (await git("diff", "--name-only", "--diff-filter=U", cwd=ws.path, check=False)).splitlines()
            await git("merge", "--abort", cwd=ws.path, check=False)
            return conflicts or ["(merge failed)"]
        return []

    async def revert(self, ws: Workspace, commit: str, message: str, trailers: dict[str, str]) -> list[str]:
        """Commits the revert of `commit` (a merge against its first parent: the target as it was, so
        what the merge brought in is undone); returns the conflicting files (revert aborted) or []."""
        if not COMMIT_ID.fullmatch(commit):  # never an option or a ref name: a commit id
            raise UserFacingError(f"Honk reverts a commit by its id, not {commit[:50]!r}.")
        try:
            found = await git("rev-list", "--parents", "-n1", f"{commit}^{{commit}}", "--", cwd=ws.path)
        except GitError as e:
            raise UserFacingError(
                f"Honk cannot revert {commit[:12]}: the repo has no such commit (fetched lately?)."
            ) from e
        sha, *parents = found.split()
        mainline = ["-m", "1"] if len(parents) > 1 else []
        try:
            await git("revert", "--no-commit", *mainline, sha, cwd=ws.path, env=git_env(self.author))
        except GitError as e:
            conflicts = (await git("diff", "--name-only", "--diff-filter=U", cwd=ws.path, check=False)).splitlines()
            await git("revert", "--abort", cwd=ws.path, check=False)
            await self.reset(ws)  # the promise is a clean workspace, whatever an abort left behind
            if conflicts:
                return conflicts
            raise UserFacingError(f"Honk could not revert {sha[:12]}: {e.stderr.strip()[-300:]}") from e
        if not await git("diff", "--cached", "--name-only", cwd=ws.path):
            await git("revert", "--quit", cwd=ws.path, check=False)
            raise UserFacingError(f"{sha[:12]}'s changes are already undone on {ws.branch}: nothing to revert.")
        # git's own line: forges and `git log --grep` know a revert by it.
        body = message if sha in message else f"{message.rstrip()}\n\nThis reverts commit {sha}."
        args = ["commit", "--quiet", "--no-verify", "-m", redact(body)]
        for key, value in trailers.items():
            args += ["--trailer", redact(f"{key}: {value}")]
        await git(*args, cwd=ws.path, env=git_env(self.author))
        return []

    async def start_merge(self, ws: Workspace, ref: str) -> list[str]:
        """Starts merging `ref` without committing; conflicting files keep their markers. Returns them."""
        await git("merge", "--quiet", "--no-ff", "--no-commit", ref, cwd=ws.path, env=git_env(self.author), check=False)
        return (await git("diff", "--name-only", "--diff-filter=U", cwd=ws.path, check=False)).splitlines()

    async def diffstat(self, ws: Workspace, base: str) -> str:
        return await git("diff", "--stat", f"{base}...HEAD", cwd=ws.path)

    async def diff(self, ws: Workspace, base: str) -> str:
        # --no-renames: a test file moved out of the test tree reads as the deletion it is.
        return await git("diff", "--no-renames", f"{base}...HEAD", cwd=ws.path)

    async def diff_and_stat(self, ws: Workspace, base: str) -> tuple[str, str]:
        # git prints the stat, a blank line, then the patch (whose every file starts "diff --git ").
        out = await git("diff", "--no-renames", "--stat", "--patch", f"{base}...HEAD", cwd=ws.path)
        stat, sep, patch = out.partition("\n\ndiff --git ")
        if not out:
            return "", ""
        if not sep:  # a shape this does not know: ask twice
            return await self.diff(ws, base), await self.diffstat(ws, base)
        return "diff --git " + patch, stat.rstrip()

    async def rebase_onto(self, ws: Workspace, ref: str) -> list[str]:
        """Replays the task branch's own commits on `ref` (issue 19, part D: `[merge] update = "rebase"`);
        returns the conflicting files (the rebase aborted: the branch and files as they were) or []."""
        try:
            # --no-verify: no pre-rebase hook; Honk's identity as committer, the authors kept.
            await git("rebase", "--quiet", "--no-verify", ref, cwd=ws.path, env=git_env(self.author))
        except GitError:
            conflicts = (await git("diff", "--name-only", "--diff-filter=U", cwd=ws.path, check=False)).splitlines()
            await git("rebase", "--abort", cwd=ws.path, check=False)
            await self.reset(ws)  # the promise is a clean workspace, whatever an abort left behind
            return conflicts or ["(rebase failed)"]
        return []


def _stamped(stamp: Path) -> float:
    """When the mirror's last finished fetch began (0: never, or a stamp being written)."""
    try:
        return float(stamp.read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0.0
