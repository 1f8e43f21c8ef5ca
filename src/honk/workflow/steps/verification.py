"""Verifying a change: the repo's checks, then (once they pass) the review — the test guard and the
scope judge — then the build, which makes the new version people open on their phone."""

from __future__ import annotations

from honk.domain import CheckResult, Workspace
from honk.egress.policies import EgressPolicies
from honk.events import BuildReady, BuildStarted, ChangeReviewed, ChecksStarted
from honk.protocols import Builder, Checks, EventSink, Reviewer, TaskReads, Workspaces
from honk.sandbox import Sandbox
from honk.timeline import Timeline
from honk.verify.runner import by_repo, feedback
from honk.workflow import policy
from honk.workflow.records import BuildResult, ReviewInput, ReviewResult, StepInput, VerifyResult
from honk.workflow.steps.refusals import Refusals


class Verification:
    def __init__(
        self,
        workspaces: Workspaces,
        checks: Checks,
        reviewer: Reviewer,
        builder: Builder,
        refusals: Refusals,
        reads: TaskReads,
        sandbox: Sandbox,
        base_url: str,
        egress: EgressPolicies | None = None,
    ) -> None:
        self.workspaces, self.checks, self.reviewer, self.builder = workspaces, checks, reviewer, builder
        self.refusals, self.reads, self.sandbox, self.base_url = refusals, reads, sandbox, base_url
        self.egress = egress

    async def verify(self, inp: StepInput, emit: EventSink) -> VerifyResult:
        req = inp.request
        ws = await self.workspaces.ensure(req.task_id, req.repo, req.repo.branch, head=inp.head)
        if inp.also:
            results = await self._verify_each(inp, emit)
        else:
            await emit(ChecksStarted(round=inp.round, names=[c.name for c in inp.config.verify]))
            try:
                network = await self.egress.policy(req.repo, inp.config, "check") if self.egress else None
                results = await self.checks.run(req, ws, inp.config.verify, f"round{inp.round}", emit, network)
            finally:
                await self.refusals.collect(req, emit)
        base = await self.workspaces.merge_base(ws, policy.merge_target(req.repo, inp.config))
        # Checks run confined see the workspace's `.git` read-only: none can move HEAD from where ensure found
        # it (ws.at). Unconfined (HONK_SANDBOX=off), one could have committed: git is asked.
        known = ws.at if self.sandbox.enabled and not inp.also else None
        head, passed = known or await self.workspaces.head(ws), all(r.passed for r in results)
        review = None
        if passed and inp.review:  # one activity for both: no review task for Temporal to schedule
            asked = ReviewInput(
                request=req, config=inp.config, follow_ups=inp.follow_ups, also=inp.also, head=head, base=base
            )
            review = await self._review(asked, ws, base, emit)
        return VerifyResult(
            passed=passed, feedback=feedback(results), base_commit=base, head_commit=head, review=review
        )

    async def _verify_each(self, inp: StepInput, emit: EventSink) -> list[CheckResult]:
        """A task over several repos: each repo's own checks in its own workspace (confined as any check is),
        in the task's order, named by repo ("api: test", "web: lint"); the task's result is all of them."""
        req, results = inp.request, []
        repos = [(req.repo, inp.config), *((req.repo_named(o.name), o.config) for o in inp.also)]
        names = [f"{repo.name}: {c.name}" for repo, config in repos for c in config.verify]
        await emit(ChecksStarted(round=inp.round, names=names))
        try:
            for repo, config in repos:
                ws = await self.workspaces.ensure(req.task_id, repo, repo.branch, key=req.workspace_key(repo))
                network = await self.egress.policy(repo, config, "check") if self.egress else None
                tag = f"round{inp.round}-{repo.name}"
                done = await self.checks.run(req, ws, config.verify, tag, by_repo(emit, repo.name), network)
                results += [r.model_copy(update={"name": f"{repo.name}: {r.name}"}) for r in done]
        finally:
            await self.refusals.collect(req, emit)
        return results

    async def review(self, inp: ReviewInput, emit: EventSink) -> ReviewResult:
        """The test guard (always) and the scope judge (when configured) read the whole diff (of every repo,
        for a task over several)."""
        req = inp.request
        ws = await self.workspaces.ensure(req.task_id, req.repo, req.repo.branch, head=inp.head)
        base = (
            await self.workspaces.merge_base(ws, policy.merge_target(req.repo, inp.config))
            if (inp.base is None or ws.at is None)
            else inp.base
        )
        return await self._review(inp, ws, base, emit)

    async def _review(self, inp: ReviewInput, ws: Workspace, base: str, emit: EventSink) -> ReviewResult:
        req = inp.request
        diff = await self.workspaces.diff(ws, base)
        for other in inp.also:
            repo = req.repo_named(other.name)
            theirs = await self.workspaces.ensure(req.task_id, repo, repo.branch, key=req.workspace_key(repo))
            base = await self.workspaces.merge_base(theirs, policy.merge_target(repo, other.config))
            diff += await self.workspaces.diff(theirs, base)
        review = await self.reviewer.review(req.text, inp.follow_ups, diff)
        await emit(
            ChangeReviewed(
                judge_ok=review.judge_ok, judge_reason=review.judge_reason, guard_findings=review.guard_findings
            )
        )
        problems = [f"- test guard: {f}" for f in review.guard_findings]
        if not review.judge_ok:
            problems.insert(0, f"- scope judge: {review.judge_reason}")
        unjudged = [] if review.judge_available else [f"scope judge unavailable: {review.judge_reason}"]
        timeline = await self.reads.timeline(req.task_id) or Timeline()
        safety = [
            w
            for w in (self.sandbox.warning(), timeline.refusal_warning(), timeline.blocked_warning(req.repo.name))
            if w
        ]
        return ReviewResult(
            ok=not problems, feedback="\n".join(problems), warnings=[p[2:] for p in problems] + unjudged + safety
        )

    async def build(self, inp: StepInput, emit: EventSink) -> BuildResult:
        req, spec = inp.request, inp.config.build
        if spec is None:
            return BuildResult(ok=True)
        await emit(BuildStarted())
        ws = await self.workspaces.ensure(req.task_id, req.repo, req.repo.branch, head=inp.head)
        try:
            network = await self.egress.policy(req.repo, inp.config, "build") if self.egress else None
            out = await self.builder.build(req, ws, spec, network)
        finally:
            await self.refusals.collect(req, emit)
        if not out.ok:
            return BuildResult(ok=False, failure=out.failure)
        preview = f"{self.base_url}/previews/{req.task_id}/" if out.has_preview else None
        await emit(BuildReady(artifacts=out.artifacts, preview_url=preview))
        return BuildResult(ok=True, artifacts=out.artifacts, preview_url=preview)
