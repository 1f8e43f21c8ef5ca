"""Merging a task: the latest target brought into its branch and the checks run again when it moved,
then the change landed through its forge — one merge at a time per repo on this machine; across
machines the target's refusal of a stale landing sends a racing merge round again."""

from __future__ import annotations

from honk.domain import Change, CheckResult, MergeResult, RepoConfig, RepoRef, TaskRequest, Workspace
from honk.egress.policies import EgressPolicies
from honk.events import MainMoved
from honk.forge.registry import Forges
from honk.protocols import Checks, EventSink, TaskReads, Workspaces
from honk.timeline import Timeline
from honk.verify.runner import feedback
from honk.workflow import policy
from honk.workflow.records import MergeInput
from honk.workflow.steps.refusals import Refusals


class Merger:
    def __init__(
        self,
        workspaces: Workspaces,
        checks: Checks,
        forges: Forges,
        reads: TaskReads,
        refusals: Refusals,
        egress: EgressPolicies | None = None,
    ) -> None:
        self.workspaces, self.checks, self.forges = workspaces, checks, forges
        self.reads, self.refusals, self.egress = reads, refusals, egress

    async def merge(self, inp: MergeInput, emit: EventSink) -> MergeResult:
        req, repo = inp.request, inp.request.repo_named(inp.repo)
        target, forge = policy.merge_target(repo, inp.config), self.forges.of(repo)
        timeline = await self.reads.timeline(req.task_id) or Timeline()
        # A task over several repos merges each in turn (`inp.repo`): each has its own pull request.
        pull_request = timeline.repo_pull_requests.get(repo.name) if inp.repo else timeline.pull_request
        key = req.workspace_key(repo) if inp.repo else None
        async with self.workspaces.merge_lock(repo):
            verified = inp.verified_base
            for attempt in range(inp.max_attempts):
                await self.workspaces.fetch(repo)
                target_head = await self.workspaces.remote_head(repo, target)
                ws = await self.workspaces.ensure(req.task_id, repo, repo.branch, key=key)
                if await self.workspaces.is_in(ws, target_head):  # a retry after a landing whose answer was lost
                    return MergeResult(status="merged", commit=target_head, target=target, base_commit=target_head)
                if not await self.workspaces.contains(ws, target_head):
                    await emit(MainMoved(target=target, verified_base=verified, new_base=target_head))
                    conflicts = await self.workspaces.merge_in(
                        ws,
                        f"refs/remotes/origin/{target}",
                        f"Merge latest {target} into {ws.branch}",
                        {**_trailers(inp), "Approved-by": inp.approved_by},
                    )
                    if conflicts:
                        return MergeResult(status="conflict", target=target, conflicts=conflicts)
                    await self.workspaces.publish(ws, repo, req.task_id)  # another machine may take the next step
                    tag = f"merge{attempt}-{repo.name}" if inp.repo else f"merge{attempt}"
                    results = await recheck(
                        self.checks, self.refusals, self.egress, req, ws, inp.config, tag, emit, repo
                    )
                    if not all(r.passed for r in results):
                        return MergeResult(status="checks_failed", target=target, feedback=feedback(results))
                    verified = target_head
                change = Change(task_id=req.task_id, repo=repo, workspace=ws, target=target, mode=inp.config.merge.mode)
                result = await forge.land(change, target_head, merge_message(inp, ws.branch), pull_request)
                if result.status == "kept_moving":
                    continue
                if result.status == "merged":
                    await self.workspaces.fetch(repo)
                return result
        return MergeResult(status="kept_moving", target=target)


async def recheck(
    checks: Checks,
    refusals: Refusals,
    egress: EgressPolicies | None,
    req: TaskRequest,
    ws: Workspace,
    config: RepoConfig,
    tag: str,
    emit: EventSink,
    repo: RepoRef | None = None,
) -> list[CheckResult]:
    """The repo's checks on the branch once the latest target is in it (before a merge, or when the target
    moved under a waiting task), with the network the check phase is given; what the sandboxes refused
    meanwhile is reported either way. `repo`: which repo of a task over several (None: the task's own)."""
    try:
        network = await egress.policy(repo or req.repo, config, "check") if egress else None
        return await checks.run(req, ws, config.verify, tag, emit, network)
    finally:
        await refusals.collect(req, emit)


def _trailers(inp: MergeInput) -> dict[str, str]:
    req = inp.request
    return {"Honk-Task": req.task_id, "Requested-by": req.requested_by, "Agent": inp.agent}


def merge_message(inp: MergeInput, branch: str) -> str:
    """The merge's message: what was asked and done, then trailers saying who asked, which agent and
    model did it, what it cost and who approved."""
    trailers = _trailers(inp)
    if inp.model:
        trailers["Model"] = inp.model
    if inp.cost_usd is not None:
        trailers["Honk-Cost"] = f"${inp.cost_usd:.4f}"
    trailers["Approved-by"] = inp.approved_by
    title = inp.request.text.strip().splitlines()[0][:72]
    return f"Merge {branch}: {title}\n\n{inp.summary}\n\n" + "\n".join(f"{k}: {v}" for k, v in trailers.items()) + "\n"
