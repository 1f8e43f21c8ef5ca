"""Main moved: a task waiting for people brings its moved target into its branch (issue 19, part D).

The target is merged in, or the branch rebased onto it (`[merge] update`); the repo's checks run again,
as before a merge; when they pass, the branch goes to its forge with `--force-with-lease` against the
head Honk last pushed there. Someone else's commits on the branch are never overwritten: when the
forge's branch has commits Honk's copy lacks, nothing is brought in or pushed, and the task says so.
What the agent must do (resolve a conflict, fix checks the new target broke) comes back as data; the
workflow gives it to the agent as a round of its own.
"""

from __future__ import annotations

from honk.domain import Change, RepoConfig, RepoRef, TaskRequest, Workspace
from honk.egress.policies import EgressPolicies
from honk.errors import Conflict, UserFacingError
from honk.events import MainMoved, Refreshed, RefreshSkipped
from honk.forge.hosted import HostedForge
from honk.forge.registry import Forges
from honk.protocols import Checks, EventSink, Workspaces
from honk.verify.runner import feedback
from honk.workflow import policy
from honk.workflow.records import RefreshInput, RefreshResult
from honk.workflow.steps.merge import recheck
from honk.workflow.steps.refusals import Refusals


class Refresher:
    def __init__(
        self,
        workspaces: Workspaces,
        checks: Checks,
        forges: Forges,
        refusals: Refusals,
        egress: EgressPolicies | None = None,
    ) -> None:
        self.workspaces, self.checks, self.forges = workspaces, checks, forges
        self.refusals, self.egress = refusals, egress

    async def refresh(self, inp: RefreshInput, emit: EventSink) -> RefreshResult:
        req, repo, how = inp.request, inp.request.repo, inp.config.merge.update
        target = policy.merge_target(repo, inp.config)
        await self.workspaces.fetch(repo)
        new_base = await self.workspaces.remote_head(repo, target)
        ws = await self.workspaces.ensure(req.task_id, repo, repo.branch)
        if await self.workspaces.contains(ws, new_base):  # told twice, or brought in by a merge meanwhile
            return RefreshResult(status="current", target=target, base_commit=new_base)
        mine = await self.workspaces.head(ws)
        theirs = await self._pushed_head(repo, ws)
        if theirs is not None and theirs != mine and not await self.workspaces.contains(ws, theirs):
            return await self._skip(emit, target, _not_ours(ws.branch, target, theirs, mine))

        await emit(MainMoved(target=target, verified_base=inp.verified_base, new_base=new_base))
        ref = f"refs/remotes/origin/{target}"
        if how == "rebase":
            conflicts = await self.workspaces.rebase_onto(ws, ref)
        else:
            trailers = {"Honk-Task": req.task_id, "Requested-by": req.requested_by}
            conflicts = await self.workspaces.merge_in(ws, ref, f"Merge latest {target} into {ws.branch}", trailers)
        if conflicts:
            return RefreshResult(status="conflict", target=target, base_commit=new_base, conflicts=conflicts)

        results = await recheck(self.checks, self.refusals, self.egress, req, ws, inp.config, "refresh", emit)
        passed = all(r.passed for r in results)
        pushed = False
        # A rebase is pushed even when the checks fail: the agent's fix then lands on it as a plain push
        # (the delivery's, which has no lease). A merge that fails waits for the agent's fix.
        if theirs is not None and (passed or how == "rebase"):
            try:
                pushed = await self._push(req, inp.config, ws, lease=theirs)
            except Conflict as e:  # someone pushed between the look and the push: their commits stay
                return await self._skip(emit, target, e.message)
        await self.workspaces.publish(ws, repo, req.task_id)
        if not passed:
            return RefreshResult(
                status="checks_failed", target=target, base_commit=new_base, feedback=feedback(results)
            )
        commit = await self.workspaces.head(ws)
        await emit(Refreshed(target=target, new_base=new_base, commit=commit, how=how, pushed=pushed))
        return RefreshResult(status="refreshed", target=target, base_commit=new_base, commit=commit)

    async def _pushed_head(self, repo: RepoRef, ws: Workspace) -> str | None:
        """The task branch's head on the repo's remote (the forge's pull request head), as just fetched;
        None where it has none (a plain remote: the branch is never pushed there)."""
        if not isinstance(self.forges.of(repo), HostedForge):
            return None
        try:
            return await self.workspaces.remote_head(repo, ws.branch)
        except UserFacingError:
            return None

    async def _push(self, req: TaskRequest, config: RepoConfig, ws: Workspace, lease: str) -> bool:
        """The branch to its forge, replacing only `lease` (the head Honk pushed there last): a rebased
        branch goes through, commits someone else added are a Conflict, never overwritten."""
        forge = self.forges.of(req.repo)
        if not isinstance(forge, HostedForge):
            return False
        target, mode = policy.merge_target(req.repo, config), config.merge.mode
        await forge.push(Change(task_id=req.task_id, repo=req.repo, workspace=ws, target=target, mode=mode), lease)
        return True

    @staticmethod
    async def _skip(emit: EventSink, target: str, reason: str) -> RefreshResult:
        await emit(RefreshSkipped(target=target, reason=reason))
        return RefreshResult(status="skipped", target=target, feedback=reason)


def _not_ours(branch: str, target: str, theirs: str, mine: str) -> str:
    return (
        f"{branch} has commits Honk did not push (its head on the forge is {theirs[:10]}; Honk last pushed "
        f"{mine[:10]}), so Honk did not bring in the latest {target} and did not overwrite them. Bring "
        f"{target} in on the branch yourself, or tell Honk what to do in a follow-up."
    )
