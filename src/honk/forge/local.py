"""A plain git remote as Honk's forge: no pull request; Honk lands a change by pushing it to the target
itself — a merge commit (or a fast-forward) pushed without force, so a target that moved meanwhile
refuses it and the merge goes round again."""

from __future__ import annotations

from honk.domain import Awaited, Change, ForgeDeployState, MergeResult, PullRequestBody, PullRequestState, RepoRef
from honk.errors import UserFacingError
from honk.events import PullRequestUpdated
from honk.forge.deploys import NO_STATUSES, unsupported
from honk.workspace.git import GitError, git, git_env

REJECTED = ("non-fast-forward", "fetch first", "[rejected]", "stale info")


class LocalGitForge:
    def __init__(self, author: dict[str, str]) -> None:
        self.author = author  # GIT_AUTHOR_* / GIT_COMMITTER_* of Honk's own commits

    async def publish(self, change: Change, body: PullRequestBody) -> PullRequestUpdated | None:
        return None  # nothing to open: the change is reviewed in Honk (its page, Slack)

    async def land(
        self, change: Change, expected: str, message: str, pull_request: PullRequestUpdated | None
    ) -> MergeResult:
        ws, target = change.workspace, change.target
        head = await git("rev-parse", "HEAD", cwd=ws.path)
        if change.mode == "fast-forward":
            commit = head
        else:  # the branch already contains the target, so the merge's tree is the branch's tree
            commit = await git(
                "commit-tree",
                f"{head}^{{tree}}",
                "-p",
                expected,
                "-p",
                head,
                "-F",
                "-",
                cwd=ws.path,
                env=git_env(self.author),
                stdin=message,
            )
        try:
            # --force-with-lease: lands only on `expected`, never over a target that moved meanwhile.
            await git(
                "push",
                "--quiet",
                f"--force-with-lease=refs/heads/{target}:{expected}",
                change.repo.url,
                f"{commit}:refs/heads/{target}",
                cwd=ws.path,
            )
        except GitError as e:
            if any(s in e.stderr for s in REJECTED):
                return MergeResult(status="kept_moving", target=target)
            raise UserFacingError(f"The remote refused the merge into {target}: {_refusal(e.stderr)}") from e
        if change.mode == "fast-forward":
            await self._approval_note(change, commit, message)
        return MergeResult(status="merged", commit=commit, target=target, base_commit=expected)

    async def state(self, pull_request: PullRequestUpdated | None) -> PullRequestState:
        return PullRequestState(state="none")

    async def close(self, pull_request: PullRequestUpdated | None, comment: str) -> PullRequestState:
        return PullRequestState(state="none")  # no pull request: the task's branch stays in the mirror only

    async def archived(self, repo: RepoRef) -> bool | None:
        # A plain git remote has no notion of archived that Honk could ask: a read-only remote (a
        # pre-receive hook, a server's setting) says so only when a push is refused, and the task then
        # fails at that push with the remote's own words.
        return None

    async def deployment(self, repo: RepoRef, commit: str, awaited: Awaited) -> ForgeDeployState:
        return unsupported(commit, NO_STATUSES)

    async def _approval_note(self, change: Change, commit: str, message: str) -> None:
        """A fast-forward makes no commit to carry the merge's trailers (who approved): a git note does
        (refs/notes/honk), holding the message's last paragraph, its trailers."""
        trailers = message.strip().split("\n\n")[-1]
        await git(
            "notes",
            "--ref=honk",
            "add",
            "-f",
            "-m",
            trailers,
            commit,
            cwd=change.workspace.path,
            env=git_env(self.author),
        )
        await git("push", "--quiet", change.repo.url, "refs/notes/honk", cwd=change.workspace.path, check=False)


def _refusal(stderr: str) -> str:
    """Why a remote refused a push: what its hooks said (git's `remote:` lines: "this repository is
    archived"), else git's last line; git's own last line alone ("failed to push some refs") says no why."""
    remote = [ln[len("remote:") :].strip() for ln in stderr.splitlines() if ln.startswith("remote:")]
    said = "; ".join(ln for ln in remote if ln)[:500]
    return said or (stderr.strip().splitlines()[-1:] or ["no detail"])[0]
