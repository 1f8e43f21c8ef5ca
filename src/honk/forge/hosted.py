"""A hosted forge (GitHub, GitLab) as Honk's forge: the infrastructure (never the agent) pushes the
task's branch and keeps one pull request per task up to date; a change lands through the forge's
API, so its required checks and approvals hold, and its refusals come back as data."""

from __future__ import annotations

from honk.domain import Awaited, Change, ForgeDeployState, MergeResult, PullRequestBody, PullRequestState, RepoRef
from honk.errors import UserFacingError
from honk.events import PullRequestUpdated
from honk.forge.base import ForgeClient
from honk.forge.deploys import not_asked
from honk.forge.push import push_branch


class HostedForge:
    def __init__(self, client: ForgeClient) -> None:
        self.client = client

    @property
    def kind(self) -> str:
        return self.client.kind

    async def push(self, change: Change, expect: str | None = None) -> str:
        """Pushes the task's branch; the commit pushed. `expect`: the head Honk pushed there last, which
        the push may replace (a rebased branch) — never commits someone else added (a Conflict)."""
        target = await self.client.push_target()  # a GitHub App's token lasts an hour: ask each time
        ws = change.workspace
        return await push_branch(ws.path, target.url, ws.branch, target.token, username=target.username, expect=expect)

    async def publish(self, change: Change, body: PullRequestBody) -> PullRequestUpdated | None:
        """Pushes the branch and opens (first time, as a draft) or updates the task's pull request."""
        await self.push(change)
        pr = await self.client.open_or_update(change.workspace.branch, change.target, body)
        return PullRequestUpdated(number=pr.number, url=pr.url, draft=pr.draft, opened=pr.opened)

    async def land(
        self, change: Change, expected: str, message: str, pull_request: PullRequestUpdated | None
    ) -> MergeResult:
        if pull_request is None:
            return MergeResult(
                status="refused",
                target=change.target,
                feedback=f"The task has no pull request on {self.kind} yet; try again when it is ready.",
            )
        head = await self.push(change)
        pr = await self.client.state(pull_request.number)
        if pr.state == "open" and pr.draft:
            await self.client.ready_for_review(pr.number)
        outcome = await self.client.merge(pr.number, head, message)
        if not outcome.merged:
            return MergeResult(status="refused", target=change.target, feedback=outcome.refusal or "The forge refused.")
        return MergeResult(status="merged", commit=outcome.sha or head, target=change.target, base_commit=expected)

    async def state(self, pull_request: PullRequestUpdated | None) -> PullRequestState:
        if pull_request is None:
            return PullRequestState(state="none")
        pr = await self.client.state(pull_request.number)
        return PullRequestState(state=pr.state, number=pr.number, url=pr.url, merge_commit=pr.merge_commit)

    async def close(self, pull_request: PullRequestUpdated | None, comment: str) -> PullRequestState:
        if pull_request is None:
            return PullRequestState(state="none")
        pr = await self.client.close(pull_request.number, comment)
        return PullRequestState(state=pr.state, number=pr.number, url=pr.url, merge_commit=pr.merge_commit)

    async def archived(self, repo: RepoRef) -> bool | None:
        return await self.client.archived()

    async def deployment(self, repo: RepoRef, commit: str, awaited: Awaited) -> ForgeDeployState:
        """The forge's statuses, checks or deployments of `commit`; a forge that refuses or cannot be
        reached is an answer too (honk.forge.deploys.not_asked), never an error."""
        try:
            return await self.client.deploy_state(commit, awaited)
        except UserFacingError as e:
            return not_asked("GitHub" if self.kind == "github" else "GitLab", commit, awaited, e)

    async def aclose(self) -> None:
        await self.client.aclose()
