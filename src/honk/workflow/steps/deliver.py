"""Delivering a task: its change as people review it — on its forge (a pull request brought up to date,
before anyone is told) and in Honk (`TaskReady`, with the diff)."""

from __future__ import annotations

from honk.domain import Change, PullRequestBody, TaskRequest
from honk.events import TaskReady
from honk.forge.registry import Forges
from honk.protocols import EventSink, TaskReads, Workspaces
from honk.timeline import Timeline
from honk.workflow import policy
from honk.workflow.records import StepInput

MAX_DIFF_CHARS = 200_000  # kept with the task for its page; the branch has the rest


class Delivery:
    def __init__(self, workspaces: Workspaces, forges: Forges, reads: TaskReads, base_url: str) -> None:
        self.workspaces, self.forges, self.reads, self.base_url = workspaces, forges, reads, base_url

    async def deliver(self, inp: StepInput, emit: EventSink) -> None:
        req, target = inp.request, policy.merge_target(inp.request.repo, inp.config)
        ws = await self.workspaces.ensure(req.task_id, req.repo, req.repo.branch)
        base = await self.workspaces.merge_base(ws, target)
        diff = await self.workspaces.diff(ws, base)
        timeline = await self.reads.timeline(req.task_id) or Timeline()
        change = Change(task_id=req.task_id, repo=req.repo, workspace=ws, target=target, mode=inp.config.merge.mode)
        # Before "ready": whoever is told the task is ready finds its pull request there.
        if (pr := await self.forges.of(req.repo).publish(change, self._body(req, timeline, inp))) is not None:
            await emit(pr)
        await emit(
            TaskReady(
                commit=await self.workspaces.head(ws),
                summary=inp.summary,
                diffstat=await self.workspaces.diffstat(ws, base),
                warnings=inp.warnings,
                diff=diff[:MAX_DIFF_CHARS],
                diff_truncated=len(diff) > MAX_DIFF_CHARS,
            )
        )

    def _body(self, req: TaskRequest, timeline: Timeline, inp: StepInput) -> PullRequestBody:
        """The description from the task's timeline: request, summary, latest checks, findings, cost, links."""
        return PullRequestBody(
            task_id=req.task_id,
            title=req.text.strip().splitlines()[0][:72],
            request=req.text,
            requested_by=req.requested_by,
            summary=inp.summary,
            checks=list(timeline.checks.values()),
            guard_findings=timeline.review.guard_findings if timeline.review else [],
            warnings=inp.warnings,
            cost_usd=timeline.cost_usd,
            task_url=f"{self.base_url}/tasks/{req.task_id}",
            preview_url=timeline.preview_url,
            came_with=[f"{a.name} ({a.kind}{'; ' + a.note if a.note else ''})" for a in req.attachments],
            plan=timeline.plan.text() if timeline.plan is not None and timeline.plan_approved_by else "",
            plan_approved_by=timeline.plan_approved_by or "",
            shots=timeline.shots,
            shots_url=f"{self.base_url}/shots/{req.task_id}",
            started_by=req.origin.detail if req.origin is not None else "",
            closes=_closes(req),
        )


def _closes(req: TaskRequest) -> int | None:
    """The issue of the same repo the task was asked on: the pull request closes it when merged."""
    thread, forge = req.forge_thread, req.repo.forge
    if thread is None or thread.pull_request or forge is None or thread.repo.lower() != forge.project.lower():
        return None
    return thread.number
