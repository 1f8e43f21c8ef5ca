"""The steps that talk to a repo's forge (GitHub, GitLab): keep the task's pull request up to date,
merge through the forge's API, and read whether someone closed it there.

The infrastructure pushes the branch (never the agent: its workspace cannot push at all). The
pull request's number is remembered as an event in Honk's store, so any worker finds it.
"""

from __future__ import annotations

from honk.domain import TaskRequest
from honk.events import PullRequestUpdated
from honk.forge import CheckLine, Forge, PullRequestBody, push_branch
from honk.forge.registry import Forges
from honk.protocols import EventSink
from honk.store import Store
from honk.timeline import Timeline
from honk.workflow.records import MergeResult, PullRequestState
from honk.workspace.worktrees import Workspace


class ForgeSteps:
    def __init__(self, forges: Forges, store: Store, base_url: str) -> None:
        self.forges, self.store, self.base_url = forges, store, base_url

    def of(self, req: TaskRequest) -> Forge | None:
        return self.forges.of(req.repo)

    async def _push(self, forge: Forge, ws: Workspace) -> str:
        target = await forge.push_target()  # a GitHub App's token lasts an hour: ask each time
        return await push_branch(ws.path, target.url, ws.branch, target.token, username=target.username)

    async def update_pull_request(
        self,
        forge: Forge,
        req: TaskRequest,
        ws: Workspace,
        target: str,
        emit: EventSink,
        summary: str,
        warnings: list[str],
    ) -> None:
        """Pushes the branch and opens (first time, as a draft) or updates the task's pull request."""
        await self._push(forge, ws)
        known = await self._last(req.task_id)
        pr = await forge.open_or_update(ws.branch, target, await self._body(req, summary, warnings))
        await emit(PullRequestUpdated(number=pr.number, url=pr.url, draft=pr.draft, opened=known is None))

    async def merge(
        self, forge: Forge, req: TaskRequest, ws: Workspace, target: str, message: str, target_head: str
    ) -> MergeResult:
        """Through the forge's API, so its required checks and approvals hold; a refusal is returned."""
        known = await self._last(req.task_id)
        if known is None:
            return MergeResult(
                status="refused",
                target=target,
                feedback=f"The task has no pull request on {forge.kind} yet; try again when it is ready.",
            )
        head = await self._push(forge, ws)
        pr = await forge.state(known.number)
        if pr.state == "open" and pr.draft:
            await forge.ready_for_review(pr.number)
        outcome = await forge.merge(pr.number, head, message)
        if not outcome.merged:
            return MergeResult(status="refused", target=target, feedback=outcome.refusal or "The forge refused.")
        return MergeResult(status="merged", commit=outcome.sha or head, target=target, base_commit=target_head)

    async def state(self, req: TaskRequest) -> PullRequestState:
        forge, known = self.of(req), await self._last(req.task_id)
        if forge is None or known is None:
            return PullRequestState(state="none")
        pr = await forge.state(known.number)
        return PullRequestState(state=pr.state, number=pr.number, url=pr.url, merge_commit=pr.merge_commit)

    async def _last(self, task_id: str) -> PullRequestUpdated | None:
        timeline = await self.store.timeline(task_id)
        return timeline.pull_request if timeline else None

    async def _body(self, req: TaskRequest, summary: str, warnings: list[str]) -> PullRequestBody:
        """The description from the task's timeline: request, summary, latest checks, findings, cost, links."""
        timeline = await self.store.timeline(req.task_id) or Timeline()
        return PullRequestBody(
            task_id=req.task_id,
            title=req.text.strip().splitlines()[0][:72],
            request=req.text,
            requested_by=req.requested_by,
            summary=summary,
            checks=[CheckLine(name=c.name, passed=c.passed, detail=c.detail) for c in timeline.checks.values()],
            guard_findings=timeline.review.guard_findings if timeline.review else [],
            warnings=warnings,
            cost_usd=timeline.cost_usd,
            task_url=f"{self.base_url}/tasks/{req.task_id}",
            preview_url=timeline.preview_url,
        )
