"""The task route, top to bottom: provision → agent ⇄ checks → build → deliver → wait for a person.

Workflow code must be deterministic: no clocks, randomness, files or environment here; every
effect is an activity. Reordering activities breaks replay of running tasks: use workflow.patched() (see
BASELINE).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from honk.domain import (
        DEFAULT_AGENT_TIMEOUT_S,
        AgentJob,
        AgentMode,
        AgentReason,
        DeliveryOutcome,
        DeployOutcome,
        MergeResult,
        Spent,
        TaskState,
        exhausted,
        next_state,
        remaining,
    )
    from honk.events import (
        AgentStarted,
        AnyEvent,
        BuildStarted,
        ChecksFailed,
        ChecksStarted,
        CiPassed,
        DeployFinished,
        FollowUpsNotApplied,
        ForgeChecksFailed,
        Merged,
        MergeHeld,
        MergeRequested,
        PlanApproved,
        PlanProposed,
        PlanRevisionAsked,
        PlanStarted,
        RefreshSkipped,
        RepoMerged,
        TaskCancelled,
        TaskFailed,
        TaskReady,
        WorkspacePreparing,
    )
    from honk.workflow import policy
    from honk.workflow.activities import TaskActivities as acts
    from honk.workflow.records import (
        AgentRunInput,
        AgentRunResult,
        AutofixSwitch,
        BuildResult,
        CancelRequest,
        CiFailure,
        CiLogs,
        CiLogsInput,
        CiPassing,
        ClosePullRequestInput,
        DeliverInput,
        DeployDecision,
        DeployInput,
        FollowUp,
        MergeDecision,
        MergeInput,
        NotifyInput,
        PlanDecision,
        PreviewInput,
        PreviewResult,
        ProvisionInput,
        ProvisionResult,
        RecordInput,
        RefreshInput,
        RefreshResult,
        RevertInput,
        RevertResult,
        ReviewInput,
        StepInput,
        TargetMoved,
        TaskInput,
        TaskStatus,
    )

USER_FACING = "UserFacingError"
MODEL_UNAVAILABLE = "ModelUnavailable"  # retried by Temporal; its message is shown once retries are spent
# A merge refused because the workflow is not ready (yet): the store may already say ready, when the verify step
# that delivered the change has not reported back (TaskService.merge waits a moment for it).
NOT_READY = "NotReady"
DEPLOY_HOLD = timedelta(days=7)  # how long a held deploy waits for someone to press Deploy

# Every patch in this set was in the code when BASELINE was added. A task started since records BASELINE's
# one marker instead of a marker per patch it passes (five on a plain task), and each marker also upserts a
# search attribute, a visibility write in the Temporal server: most of its per-task cost was such writes and
# round trips. Tasks started before replay their own markers as they did. A patch added later is not listed
# here and is asked of `workflow.patched` directly.
BASELINE = "baseline-2026-12"
BEFORE_BASELINE = frozenset(
    {
        "autofix-v1",
        "build-queue-v1",
        "cancel-close-v1",
        "ci-green-v1",
        "deliver-v1",
        "deploy-v1",
        "forge-v1",
        "multi-repo-agent-checks-v1",
        "multi-repo-ci-v1",
        "multi-repo-v1",
        "plan-v1",
        "preview-v1",
        "queue-v1",
        "record-local-v1",
        "refresh-v1",
        "revert-v1",
        "review-v1",
        "verify-reviews-v1",
    }
)


class _Stop(Exception):
    """Ends the route with a failure a person can act on (already worded)."""


@workflow.defn(name="HonkTask")
class TaskWorkflow:
    @workflow.init
    def __init__(self, inp: TaskInput) -> None:
        self.req = inp.request
        self.heartbeat = timedelta(seconds=inp.heartbeat_timeout_s)
        self.forge_poll = timedelta(seconds=inp.forge_poll_s)
        self.state = TaskState.queued
        self.follow_ups: list[FollowUp] = []
        self.merge_by: str | None = None
        self.cancel_by: str | None = None
        self.close_comment: str | None = None  # the cancel asked the pull request closed, with this said
        self.round = 0
        self.agent_runs = 0
        self.session_id: str | None = None
        self.summaries: list[str] = []
        self.model: str | None = None
        self.cost_usd: float | None = None
        self.verified_base = ""
        # The task branch's commit as the last step returned it, None when a step since may have moved it
        # (see StepInput.head: later steps then skip asking the remote for it).
        self.head: str | None = None
        # (head, base): the merge base verify found for that head; review and deliver reuse it while the
        # head is still that one (see StepInput.base).
        self.based: tuple[str, str] | None = None
        # The step just before was provisioning, which left the worktree clean at self.head.
        self.fresh = False
        self.changed = False
        self.asked: list[str] = []  # every follow-up applied, for the judge
        self.merge_from: str | None = None
        self.spent = Spent()  # by every agent run of the task so far
        self.warnings: list[str] = []
        self.queue: str | None = None  # the repo's own task queue, once its config named one
        self.prov: ProvisionResult | None = None
        self.attached = list(inp.request.attachments)  # the request's files, then each follow-up's
        self.shown: set[str] = set()  # ids of the files an agent run was given already
        self.plan_version = 0  # the plan on the table (0: none yet)
        self.plan_decision: PlanDecision | None = None
        self.waking = False  # a stopped preview is being started again
        self.delivery_wait: asyncio.Task[None] | None = None  # asking the team's service until it has a link
        self.deploy_held = False  # merged; the deploy waits for someone who may deploy to press Deploy
        self.deploy_by: str | None = None
        # The forge's CI on the pull request: failures not yet looked at, commits already handled (a commit's
        # failing jobs, suite and workflow run come as several events), fix attempts made, and what they were.
        self.ci_failures: list[CiFailure] = []
        self.ci_seen: set[str] = set()
        self.ci_tried: list[str] = []
        self.autofix_on = True
        # CI passing on Honk's head (the front door tells only after a fix), and how many fix attempts had
        # been made when it last passed: a pass is said once, and only after an attempt since.
        self.ci_passes: list[CiPassing] = []
        self.ci_green_at = 0
        self.moved: TargetMoved | None = None  # the target moved: brought in while the task waits for people
        self.refreshing = False  # bringing it in now (a merge waits until the task is ready again)
        # A task over several repos (issue 20): the repos an agent run changed, and those merged so far.
        self.changed_repos: set[str] = set()
        self.merged_repos: set[str] = set()
        self.baseline = workflow.patched(BASELINE)

    def _patched(self, patch: str) -> bool:
        """`workflow.patched(patch)` for a patch older than BASELINE: true without a marker of its own in a task
        started since the baseline."""
        assert patch in BEFORE_BASELINE, f"{patch} is newer than {BASELINE}: ask workflow.patched"
        return self.baseline or workflow.patched(patch)

    # -- what people can do while the task runs --------------------------------------------
    @workflow.signal
    def follow_up(self, f: FollowUp) -> None:
        self.follow_ups.append(f)

    @workflow.signal
    def ci_failed(self, f: CiFailure) -> None:
        self.ci_failures.append(f)

    @workflow.signal
    def ci_passed(self, p: CiPassing) -> None:
        self.ci_passes.append(p)

    @workflow.signal
    def autofix(self, switch: AutofixSwitch) -> None:
        self.autofix_on = switch.on

    @workflow.signal
    def cancel(self, c: CancelRequest) -> None:
        # A merge in flight is not interrupted: half a merge could land on main with the task "cancelled".
        if self.cancel_by is None and self.state != TaskState.merging:
            self.cancel_by = c.by
            self.close_comment = c.close_comment

    @workflow.signal
    def target_moved(self, m: TargetMoved) -> None:
        """The target branch moved (a push the forge told of): brought in when the task waits for people."""
        if not self.state.terminal:
            self.moved = m

    @workflow.update
    def merge(self, d: MergeDecision) -> str:
        self.merge_by = d.by
        self._move(MergeRequested)
        return "merging"

    @merge.validator
    def _validate_merge(self, d: MergeDecision) -> None:
        if self.state != TaskState.ready or self.merge_by is not None:
            raise ApplicationError(f"The task is {self.state.value}; it can be merged only when ready.", type=NOT_READY)
        if self.follow_ups:
            raise ApplicationError("A follow-up is still being applied; merge once the task is ready again.")
        if self.refreshing:
            raise ApplicationError("Honk is bringing in the moved target branch; merge once the task is ready again.")

    @workflow.update
    def decide_plan(self, d: PlanDecision) -> str:
        self.plan_decision = d
        return "approved" if d.approve else "revising"

    @decide_plan.validator
    def _validate_plan_decision(self, d: PlanDecision) -> None:
        if self.state != TaskState.plan_ready or self.plan_decision is not None:
            raise ApplicationError(f"The task is {self.state.value}; there is no plan waiting for a decision.")
        if d.version is not None and d.version != self.plan_version:
            raise ApplicationError(
                f"That was plan v{d.version}; it has been replaced by plan v{self.plan_version}. "
                "Look at the newest plan in the thread or on the task page."
            )

    @workflow.update
    def deploy(self, d: DeployDecision) -> str:
        self.deploy_by = d.by
        return "deploying"

    @deploy.validator
    def _validate_deploy(self, d: DeployDecision) -> None:
        if not self.deploy_held or self.deploy_by is not None:
            raise ApplicationError(f"The task is {self.state.value}; there is no held deploy to start.")

    @workflow.signal
    async def wake_preview(self) -> None:
        """Someone opened the task's stopped preview: a worker starts it again (one wake at a time)."""
        if self.waking or not self._previews() or self.state.terminal:
            return
        self.waking = True
        try:
            await self._act(acts.wake_preview, self._preview_input(), minutes=self._preview_minutes())
        except (_Stop, ActivityError):  # recorded by the activity (PreviewFailed), or the task was cancelled
            pass
        finally:
            self.waking = False

    @workflow.query
    def status(self) -> TaskStatus:
        return TaskStatus(state=self.state, round=self.round, pending_followups=len(self.follow_ups))

    # -- the route --------------------------------------------------------------------------
    @workflow.run
    async def run(self, inp: TaskInput) -> TaskState:
        route = asyncio.create_task(self._route())
        await workflow.wait_condition(lambda: route.done() or (self.cancel_by is not None and not self.state.terminal))
        if self.delivery_wait is not None:  # the task ended: nobody waits for the service any more
            self.delivery_wait.cancel()
        if route.done():
            await route  # a bug in the route surfaces here (the workflow task retries) instead of vanishing
        else:
            route.cancel()
            try:
                await route
            except (asyncio.CancelledError, ActivityError):
                pass
        if self.cancel_by is not None and not self.state.terminal:
            await self._record(TaskCancelled(by=self.cancel_by))
            await self._notify()
            if self.close_comment is not None and self._patched("cancel-close-v1"):
                await self._close_pull_request(self.close_comment)
            await self._cleanup()
        if self.follow_ups:  # arrived while the task was ending: never dropped silently
            await self._record(
                FollowUpsNotApplied(
                    texts=self._take_follow_ups(),
                    reason=f"the task was already {self.state.value} when they arrived; start a new request",
                )
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state

    async def _route(self) -> None:
        try:
            await self._record(WorkspacePreparing())
            prov: ProvisionResult = await self._act(acts.provision, ProvisionInput(request=self.req), minutes=30)
            self.prov, wanted = prov, prov.config.queue
            self.head, self.fresh = prov.head, prov.head is not None
            if wanted and wanted != workflow.info().task_queue and self._patched("queue-v1"):
                # The repo's work belongs to other machines: set the workspace up again there, and
                # do every further step there (workspaces are per machine).
                await self._cleanup()
                self.queue = wanted
                prov = self.prov = await self._act(acts.provision, ProvisionInput(request=self.req), minutes=30)
                self.head, self.fresh = prov.head, prov.head is not None
            prompt: str = policy.first_prompt(self.req.text, self.req.attempt, self.req.attempts)
            reason: AgentReason = "request"
            assert self.prov is not None
            made = False  # the first round's change is made without the agent (a revert)
            if self.req.reverts is not None and self._patched("revert-v1"):
                made = await self._revert()
            elif (self.req.plan or self.prov.config.agent.plan) and self._patched("plan-v1"):
                prompt, reason = await self._plan_first()
            while True:
                delivered = await self._work(prompt, reason, made)
                made = False
                self._move(TaskReady)
                if not delivered:
                    await self._act(acts.deliver, self._step(summary=self._summary(), warnings=self.warnings))
                await self._notify()
                if self._fast_tracked():
                    self.merge_by = f"fast-track revert (asked by {self.req.requested_by})"
                ended, fix = await self._wait_for_work()
                if ended:
                    return  # the pull request was closed or merged on the forge
                if fix is not None:
                    prompt, reason = fix
                    continue
                if self.follow_ups:
                    prompt, reason = policy.follow_up_prompt(self.req.text, self._take_follow_ups()), "follow_up"
                    continue
                rework = await self._merge()
                if self.state == TaskState.merged or self.cancel_by is not None:
                    return
                prompt, reason = rework or (prompt, reason)
        except _Stop as stop:
            await self._fail(str(stop))

    async def _plan_first(self) -> tuple[str, AgentReason]:
        """The agent proposes a plan (reading only), a person approves it or asks for changes, as often
        as needed; the approved plan is then carried out in the same agent session."""
        prompt, reason = policy.plan_prompt(self.req.text), "request"
        while True:
            self.plan_version += 1
            await self._record(PlanStarted(version=self.plan_version, reason=reason))
            result = await self._run_agent(prompt, reason, mode="plan")
            if result.outcome.plan is None:
                raise _Stop("The agent finished without proposing a plan; ask again, or ask without a plan.")
            await self._record(PlanProposed(version=self.plan_version, plan=result.outcome.plan))
            await self._notify()
            await workflow.wait_condition(lambda: self.plan_decision is not None or bool(self.follow_ups))
            decision, self.plan_decision = self.plan_decision, None
            if decision is not None and decision.approve:
                await self._record(PlanApproved(version=self.plan_version, by=decision.by))
                return policy.plan_approved_prompt(self.req.text, result.outcome.plan), "plan_approved"
            # Asked for changes: through the button, or by a reply in the thread (a follow-up).
            asked = [decision.text] if decision is not None else []
            if decision is not None:
                self.asked.append(decision.text)
                await self._record(PlanRevisionAsked(version=self.plan_version, by=decision.by, text=decision.text))
            asked += self._take_follow_ups()
            prompt, reason = policy.plan_revision_prompt(self.req.text, asked), "plan_revision"

    async def _run_agent(self, prompt: str, reason: AgentReason, mode: AgentMode = "edit"):  # noqa: ANN202
        """One agent run, its spending counted against the task's budget."""
        assert self.prov is not None
        job = self._job(prompt, reason, mode)
        started = workflow.now()
        result: AgentRunResult = await self._act(
            acts.run_agent,
            AgentRunInput(
                request=self.req,
                agent=self.prov.agent,
                job=job,
                config=self.prov.config,
                # The agent's own verify tool runs every repo's checks; a run scheduled before did not.
                also=self.prov.also if self.req.also and self._patched("multi-repo-agent-checks-v1") else [],
                head=self.head,
                clean=self.fresh,
            ),
            minutes=self._agent_minutes(),
        )
        seconds = (workflow.now() - started).total_seconds()
        self.spent = self.spent.plus(result.outcome.turns, result.outcome.cost_usd, seconds)
        self.agent_runs += 1
        self.session_id = result.outcome.session_id or self.session_id
        self.model = result.outcome.model or self.model
        if result.outcome.cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + result.outcome.cost_usd
        return result

    async def _work(self, prompt: str, reason: AgentReason, made: bool = False) -> bool:
        """Agent and checks in rounds until the checks and the build pass, or the budget is spent.
        `made`: the first round's change is already made (a revert): its checks run without an agent run.
        True when the verify step delivered the change too (the route then schedules no deliver step)."""
        assert self.prov is not None
        for attempt in range(1, self.prov.max_rounds + 1):
            self.round += 1
            if not (made and attempt == 1):
                self._move(AgentStarted)
                result = await self._run_agent(prompt, reason)
                self.head = result.commit
                self.merge_from = None
                # A task over several repos changed when any of them did (a one-repo task has no also_commits).
                self.changed = self.changed or result.commit is not None or bool(result.also_commits)
                self.changed_repos |= set(result.also_commits) | ({self.req.repo.name} if result.commit else set())
                if result.outcome.summary:
                    self.summaries.append(result.outcome.summary)
            self._move(ChecksStarted)
            # One activity where there were three: verify reviews the change once its checks pass, and a
            # repo with nothing to build schedules no build step (each activity is a round trip through
            # the Temporal server and six history events). Checked only for a change, which is reviewed.
            folded = self.changed and self._patched("verify-reviews-v1")
            # And delivers it, when nothing would come between (a task started since the baseline).
            config = self.prov.config
            plain = config.build is None and not self._previews() and config.deliver is None
            delivers = folded and plain and self.baseline
            last_round = attempt == self.prov.max_rounds
            step = self._step(
                review=folded, summary=self._summary() if delivers else "", deliver=delivers, last_round=last_round
            )
            report = await self._act(
                acts.verify,
                step,
                minutes=self._verify_minutes() + (10 if folded else 0) + (5 if delivers else 0),
            )
            self.head = report.head_commit
            self.based = (report.head_commit, report.base_commit)
            feedback = report.feedback
            if report.passed and not self.changed:
                raise _Stop(policy.no_change_reason(result.outcome.summary))
            if report.passed and (report.review is not None or self._patched("review-v1")):
                # A verify from a worker that does not review (an older one) leaves it to the review step.
                review = report.review or await self._act(
                    acts.review,
                    ReviewInput(
                        request=self.req,
                        config=self.prov.config,
                        follow_ups=self.asked,
                        also=self.prov.also,
                        head=self.head,
                        base=self._base(),
                    ),
                    minutes=10,
                )
                self.warnings = review.warnings
                if not review.ok and attempt < self.prov.max_rounds:
                    prompt = policy.review_prompt(self.req.text, review.feedback, self._take_follow_ups())
                    reason = "review"
                    continue
            if report.passed:
                self._move(BuildStarted)
                build: BuildResult = (
                    BuildResult(ok=True)  # what the build step answers for a repo without a build
                    if folded and self.prov.config.build is None
                    else await self._act(
                        acts.build, self._step(), minutes=self._build_minutes(), queue=self._build_queue()
                    )
                )
                if build.ok:
                    self.verified_base = report.base_commit
                    if self._previews() and self._patched("preview-v1"):
                        await self._preview()
                    if self.prov.config.deliver is not None and self._patched("deliver-v1"):
                        await self._deliver_app()
                    return report.delivered
                feedback = build.failure
            giving_up = attempt == self.prov.max_rounds
            await self._record(ChecksFailed(round=self.round, feedback=feedback, giving_up=giving_up))
            if giving_up:
                raise _Stop(policy.gave_up_reason(attempt, feedback, self.prov.branch))
            prompt = policy.feedback_prompt(self.req.text, feedback, self._take_follow_ups())
            reason = "check_feedback"
        raise AssertionError("unreachable: the last round returns, or gives up with _Stop")

    def _previews(self) -> bool:
        return self.prov is not None and self.prov.config.preview is not None and self.prov.config.preview.running

    async def _preview(self) -> None:
        """The new version running, with before/after screenshots: never a reason the task fails (it
        goes to review saying the preview failed)."""
        assert self.prov is not None
        try:
            shown: PreviewResult = await self._act(acts.preview, self._preview_input(), minutes=self._preview_minutes())
        except _Stop as failed:
            self.warnings = [*self.warnings, f"preview failed: {failed}"]
            return
        self.warnings = [*self.warnings, *shown.warnings]

    def _build_queue(self) -> str | None:
        """Where the build (and the delivery) run: `[deliver] queue` (another OS, e.g. macOS for an iOS
        app) when the repo names one and this workflow knows it, else the task's own queue."""
        assert self.prov is not None
        deliver = self.prov.config.deliver
        if deliver is not None and deliver.queue and self._patched("build-queue-v1"):
            return deliver.queue
        return self.queue

    async def _deliver_app(self) -> None:
        """The new version to the phone. A failure is said (thread, page, warnings), never the task's end;
        a service still processing the build is asked again in the background while people review."""
        assert self.prov is not None and self.prov.config.deliver is not None
        if self.delivery_wait is not None:  # a newer build replaces the one still processing
            self.delivery_wait.cancel()
            self.delivery_wait = None
        spec = self.prov.config.deliver
        try:
            outcome: DeliveryOutcome = await self._act(
                acts.deliver_app, self._deliver_input(), minutes=spec.timeout_s / 60 + 5, queue=self._build_queue()
            )
        except _Stop as failed:
            self.warnings = [*self.warnings, f"delivery failed: {failed}"]
            return
        if outcome.state == "failed":
            self.warnings = [*self.warnings, f"delivery failed: {outcome.why}"]
        elif outcome.state == "processing":
            self.delivery_wait = asyncio.create_task(self._wait_for_delivery())

    async def _wait_for_delivery(self) -> None:
        """Durable: a timer between questions survives any restart; gives up after `wait_timeout`."""
        assert self.prov is not None and self.prov.config.deliver is not None
        spec, waited = self.prov.config.deliver, 0.0
        while True:
            await workflow.sleep(timedelta(seconds=spec.wait_every_s))
            waited += spec.wait_every_s
            try:
                outcome: DeliveryOutcome = await self._act(
                    acts.deliver_wait,
                    self._deliver_input(waited),
                    minutes=spec.timeout_s / 60 + 5,
                    queue=self._build_queue(),
                )
            except _Stop:
                return  # said by the activity's failure; the task is not failed for a delivery
            if outcome.state != "processing":
                await self._notify()
                return

    def _deliver_input(self, waited_s: float = 0.0) -> DeliverInput:
        assert self.prov is not None
        return DeliverInput(request=self.req, config=self.prov.config, summary=self._summary(), waited_s=waited_s)

    def _fast_tracked(self) -> bool:
        """A revert whose repo fast-tracks reverts merges as soon as its checks pass, once."""
        assert self.prov is not None
        deploy = self.prov.config.deploy
        fast = deploy is not None and deploy.revert == "fast-track"
        return self.req.reverts is not None and fast and self.merge_by is None and not self.follow_ups

    async def _revert(self) -> bool:
        """A revert task's change, made by Honk: the revert of the merged commit."""
        made: RevertResult = await self._act(acts.revert, RevertInput(request=self.req))
        if made.commit is None:
            raise _Stop(
                "The merged change cannot be reverted cleanly: later changes touched "
                f"{', '.join(made.conflicts[:5])}. Ask for the revert in words (a new request), and the agent "
                "will undo it by hand."
            )
        self.changed = True
        self.summaries.append(f"Reverted task {self.req.reverts.task_id if self.req.reverts else ''}'s merge.")
        return True

    async def _deploy(self, commit: str, target: str, by: str) -> None:
        """`[deploy]` after the merge: who may deploy (and freezes) first; a held deploy waits for someone
        who may to press Deploy. A deploy is never retried on its own: one that did not finish says so."""
        assert self.prov is not None
        if self.prov.config.deploy is None or not self._patched("deploy-v1"):
            return
        revert = self.req.reverts is not None
        if revert:  # merged by the fast track or a person: deployed as the person who asked for the revert
            by = self.req.requested_by
        inp = DeployInput(request=self.req, config=self.prov.config, commit=commit, target=target, by=by, revert=revert)
        if not await self._act(acts.deploy_allowed, inp):
            self.deploy_held = True
            await self._notify()
            try:
                await workflow.wait_condition(lambda: self.deploy_by is not None, timeout=DEPLOY_HOLD)
            except TimeoutError:
                return
            finally:
                self.deploy_held = False
            assert self.deploy_by is not None
            inp = inp.model_copy(update={"by": self.deploy_by})
        spec = self.prov.config.deploy
        try:
            await self._act(acts.deploy, inp, minutes=(spec.timeout_s + spec.health_timeout_s) / 60 + 10, attempts=1)
        except _Stop as stop:
            detail = (
                f"## the deploy did not finish: {stop}\nProduction may be partly deployed: check it, then revert "
                "or deploy again."
            )
            await self._record(
                DeployFinished(outcome=DeployOutcome(state="deploy_failed", commit=commit, detail=detail))
            )
        await self._notify()

    def _preview_input(self) -> PreviewInput:
        assert self.prov is not None
        return PreviewInput(request=self.req, config=self.prov.config, asked=[self.req.text, *self.asked])

    def _preview_minutes(self) -> float:
        """Two versions (the task's and the target branch's) installed and started, then screenshots."""
        assert self.prov is not None and self.prov.config.preview is not None
        spec = self.prov.config.preview
        return 2 * (spec.install_timeout_s + spec.ready_timeout_s) / 60 + 10

    async def _merge(self) -> tuple[str, AgentReason] | None:
        """Merges, or says why not; returns the agent's next instructions when main broke the checks."""
        assert self.prov is not None and self.merge_by is not None
        await self._record(MergeRequested(by=self.merge_by))
        stopped = ""  # a task over several repos: which one stopped the merge, said with why
        if self.req.also and self._patched("multi-repo-v1"):
            result, stopped = await self._merge_across()
        else:
            result = await self._act(acts.merge, self._merge_input(), minutes=self._verify_minutes() * 3)
        approved_by, self.merge_by = self.merge_by, None
        if result.status == "merged":
            await self._record(Merged(commit=result.commit, target=result.target, approved_by=approved_by))
            await self._cleanup()
            await self._notify()
            await self._deploy(result.commit or "", result.target, approved_by)
            return None
        if result.status == "checks_failed":
            held = stopped + (
                f"after bringing in the latest {result.target}, checks fail; "
                "the agent is fixing it — merge again when the task is ready"
            )
            await self._record(MergeHeld(reason=held, rework=True))
            await self._notify(f"Merge held: {held}")
            return self._bring_in_prompt(result.target, result.feedback)
        if result.status == "conflict":
            held = stopped + (
                f"{result.target} has changes that conflict with this branch in "
                f"{', '.join(result.conflicts[:5])}; the agent is resolving them — merge again when ready"
            )
            await self._record(MergeHeld(reason=held, rework=True))
            await self._notify(f"Merge held: {held}")
            return self._bring_in_prompt(result.target, conflicts=result.conflicts)
        elif result.status == "refused":
            reason = stopped + result.feedback
        else:
            reason = stopped + f"{result.target} kept moving during the merge; try Merge again"
        await self._record(MergeHeld(reason=reason))
        await self._notify(f"Merge held: {reason}")
        ended, fix = await self._wait_for_work()
        if ended:
            return None
        if fix is not None:
            return fix
        if self.follow_ups:
            return policy.follow_up_prompt(self.req.text, self._take_follow_ups()), "follow_up"
        return await self._merge()

    def _merge_input(self, repo: str = "") -> MergeInput:
        """The merge of the task's own repo, or (`repo`) of another repo of a task over several."""
        assert self.prov is not None and self.merge_by is not None
        config = next((o.config for o in self.prov.also if o.name == repo), self.prov.config) if repo else None
        return MergeInput(
            request=self.req,
            config=config or self.prov.config,
            verified_base=self.verified_base,
            approved_by=self.merge_by,
            summary=self._summary(),
            agent=self.prov.agent,
            model=self.model or self.req.model,
            cost_usd=self.cost_usd,
            repo=repo,
        )

    async def _merge_across(self) -> tuple[MergeResult, str]:
        """A task over several repos merges them in the declared order, each as a one-repo task merges (the
        latest target brought in and the checks run again when it moved); a repo merges only once every
        earlier one has. The first that does not merge stops it: its result, and words naming it and what
        waits on it. A repo the agent never changed has nothing to merge; one merged by an earlier try is
        not merged again. The task's own repo's result when all merged (its commit is what deploys)."""
        assert self.prov is not None
        order = [self.req.repo.name, *(o.name for o in self.prov.also)]
        wanted = [name for name in order if name in self.changed_repos]
        own: MergeResult | None = None
        for i, name in enumerate(wanted):
            if name in self.merged_repos:
                continue
            repo = "" if name == self.req.repo.name else name
            result: MergeResult = await self._act(
                acts.merge, self._merge_input(repo), minutes=self._verify_minutes() * 3
            )
            if result.status != "merged":
                waiting = wanted[i + 1 :]
                done = [n for n in wanted[:i] if n in self.merged_repos]
                words = f"{name}'s merge stopped"
                words += (
                    f" ({' and '.join(waiting)} not merged: {'it waits' if len(waiting) == 1 else 'they wait'})"
                    if waiting
                    else ""
                )
                words += f"; {' and '.join(done)} already merged" if done else ""
                if repo and result.status in ("checks_failed", "conflict"):
                    # The agent's rework starts in the task's own workspace: another repo's is a person's call.
                    detail = result.feedback or ", ".join(result.conflicts[:5])
                    why = (
                        "checks fail on its latest target"
                        if result.status == "checks_failed"
                        else "it conflicts with its latest target"
                    )
                    result = MergeResult(
                        status="refused",
                        target=result.target,
                        feedback=f"{why} ({detail[:300]}); fix {name}'s branch and merge again",
                    )
                return result, words + ": "
            self.merged_repos.add(name)
            await self._record(RepoMerged(repo=name, commit=result.commit or "", target=result.target))
            if not repo:
                own = result
        target = policy.merge_target(self.req.repo, self.prov.config)
        return own or MergeResult(status="merged", commit="", target=target), ""

    async def _wait_for_work(self) -> tuple[bool, tuple[str, AgentReason] | None]:
        """Waits until a person acts (a follow-up, a merge) or the forge's events need the agent. Meanwhile a
        moved target is brought in (`_refresh`) and a failed CI run looked at (`_ci_fix`). (True, None) when
        the task ended (its pull request closed or merged on the forge); else the agent's next instructions,
        or None when a person acted."""
        refresh = self._patched("refresh-v1")
        ci = self._patched("autofix-v1")
        green = self._patched("ci-green-v1")
        while self.merge_by is None and not self.follow_ups:
            if await self._wait_or_watch(refresh, ci, green):
                return True, None
            if self.follow_ups or self.merge_by is not None:
                break  # a person's word first (a merge brings the target in itself)
            if ci and self.ci_failures:
                fix = await self._ci_fix()  # before a pass: CI failing on the same commit makes it not green
            elif green and self.ci_passes:
                await self._ci_green()
                continue
            elif refresh and self.moved is not None:
                fix = await self._refresh()
            else:
                continue
            if fix is not None:
                return False, fix
        return False, None

    async def _refresh(self) -> tuple[str, AgentReason] | None:
        """Brings the moved target in (merge or rebase, per `[merge] update`), checks and pushes it (the
        step); the agent's instructions when it must take over: a conflict, or checks the new target broke."""
        assert self.prov is not None
        self.moved, self.refreshing = None, True
        try:
            done: RefreshResult = await self._act(
                acts.refresh,
                RefreshInput(request=self.req, config=self.prov.config, verified_base=self.verified_base),
                minutes=self._verify_minutes() * 2,
            )
        except _Stop as stop:  # the forge or the remote did not answer: a waiting task is not failed for that
            await self._record(RefreshSkipped(target=self._target(), reason=str(stop)))
            await self._notify(f"Did not bring in the latest {self._target()}: {stop}", note=True)
            return None
        finally:
            self.refreshing = False
        if done.status == "refreshed":
            self.verified_base = done.base_commit
            await self._notify(
                f"Brought in the latest {done.target}: the checks pass and the branch is updated.", note=True
            )
        elif done.status == "skipped":
            await self._notify(f"Did not bring in the latest {done.target}: {done.feedback}", note=True)
        elif done.status == "checks_failed":
            await self._notify(
                f"After bringing in the latest {done.target}, checks fail; the agent is fixing it.", note=True
            )
            return self._bring_in_prompt(done.target, done.feedback)
        elif done.status == "conflict":
            files = ", ".join(done.conflicts[:5])
            await self._notify(
                f"The latest {done.target} conflicts with this branch in {files}; the agent is resolving it.", note=True
            )
            return self._bring_in_prompt(done.target, conflicts=done.conflicts)
        return None

    def _bring_in_prompt(
        self, target: str, feedback: str = "", conflicts: list[str] | None = None
    ) -> tuple[str, AgentReason]:
        """The agent's instructions when bringing in the latest target needs it (at a merge, or when the
        target moved): resolve the conflicts (the next agent run merges the target in first), or make the
        checks pass on top of it."""
        if conflicts is not None:
            self.merge_from = f"refs/remotes/origin/{target}"
            return policy.conflict_prompt(self.req.text, target, conflicts), "main_moved"
        return policy.main_moved_prompt(self.req.text, target, feedback), "main_moved"

    async def _wait_or_watch(self, refresh: bool, ci: bool, green: bool = False) -> bool:
        """Waits for a person (or, with `refresh`, a moved target; `ci`, CI failing; `green`, CI passing).
        A task with a pull request also looks at it now and then: closed on the forge ends the task
        (cancelled), merged there ends it merged. True when ended."""
        wanted = lambda: (  # noqa: E731
            bool(self.follow_ups)
            or self.merge_by is not None
            or (refresh and self.moved is not None)
            or (ci and bool(self.ci_failures))
            or (green and bool(self.ci_passes))
        )
        if self.req.repo.forge is None or not self._patched("forge-v1"):
            await workflow.wait_condition(wanted)
            return False
        while True:
            try:
                await workflow.wait_condition(wanted, timeout=self.forge_poll)
                return False
            except TimeoutError:
                pass
            try:
                pr = await self._act(acts.pull_request, ProvisionInput(request=self.req))
            except _Stop:
                continue  # the forge did not answer this time: a waiting task is not failed for that
            where = f"{self.req.repo.forge.kind} (pull request #{pr.number})"
            if pr.state == "closed":
                self.cancel_by = f"closed on {where}"
                return True
            if pr.state == "merged":
                await self._record(
                    Merged(commit=pr.merge_commit or "", target=self._target(), approved_by=f"merged on {where}")
                )
                await self._cleanup()
                await self._notify()
                if pr.merge_commit:
                    await self._deploy(pr.merge_commit, self._target(), f"merged on {where}")
                return True

    async def _ci_fix(self) -> tuple[str, AgentReason] | None:
        """The forge's CI failed on the pull request: the agent's next instructions, or None when Honk
        leaves it (said in the thread and on the pull request): the commit is not Honk's, autofix is off,
        the attempts are spent, or the same jobs fail on the target branch too."""
        assert self.prov is not None
        failures, self.ci_failures = self.ci_failures, []
        cap = self.prov.config.autofix.attempts
        for failure in failures:
            if failure.commit in self.ci_seen:
                continue
            self.ci_seen.add(failure.commit)
            name = [failure.name] if failure.name else []
            if failure.repo and failure.repo != self.req.repo.name and self._patched("multi-repo-ci-v1"):
                # The fix path reads the logs of, and commits to, the task's own repo's pull request only:
                # on another repo's it would judge the wrong head. Said, not tried.
                why = (
                    f"Honk's autofix works on {self.req.repo.name}'s pull request only so far: over to a person, "
                    f"or `@honk <what to change>` on {failure.repo}'s pull request"
                )
                await self._ci_skipped(failure.commit, name, why, repo=failure.repo)
                continue
            if not self.autofix_on or cap == 0:
                why = "autofix is off for this pull request" + (
                    " (`@honk autofix on` turns it back on)" if cap else " ([autofix] attempts = 0 in .honk.toml)"
                )
                await self._ci_skipped(failure.commit, name, why)
                continue
            if len(self.ci_tried) >= cap:
                tried = "; ".join(self.ci_tried)
                await self._ci_skipped(
                    failure.commit, name, f"Honk stopped after {cap} fix attempts ({tried}): over to a person"
                )
                continue
            logs: CiLogs = await self._act(
                acts.ci_logs,
                CiLogsInput(request=self.req, commit=failure.commit, run_id=failure.run_id, target=self._target()),
            )
            if logs.head != failure.commit:
                await self._ci_skipped(
                    failure.commit, name, "that commit is not the one Honk pushed last: whoever pushed it fixes it"
                )
                continue
            jobs = logs.jobs or name
            if not logs.jobs:
                await self._ci_skipped(
                    failure.commit, jobs, "the forge gave Honk no log of the failing jobs to work from"
                )
                continue
            if all(job in logs.on_target for job in logs.jobs):
                await self._ci_skipped(
                    failure.commit, jobs, f"the same jobs fail on {self._target()} too: not this change's doing"
                )
                continue
            self.ci_tried.append(f"{', '.join(jobs[:3])} on {failure.commit[:10]}")
            event = ForgeChecksFailed(commit=failure.commit, jobs=jobs, attempt=len(self.ci_tried), of=cap)
            await self._record(event)
            await self._notify(event.line(), note=True)
            return policy.ci_failed_prompt(self.req.text, logs.feedback, self._take_follow_ups()), "ci_failure"
        return None

    async def _ci_green(self) -> None:
        """CI passed on the commit Honk pushed last, after its fixes: said once, on the pull request and where
        the task was asked. Not when CI failed on that commit too (another suite or workflow of the same
        CI), nor when no fix was tried since CI last passed (a redelivered or repeated pass)."""
        passes, self.ci_passes = self.ci_passes, []
        for passing in passes:
            attempts = len(self.ci_tried) - self.ci_green_at
            if passing.commit in self.ci_seen or attempts == 0:
                continue
            self.ci_green_at = len(self.ci_tried)
            event = CiPassed(commit=passing.commit, after_attempts=attempts)
            await self._record(event)
            await self._notify(event.line(), note=True, asked_too=True)

    async def _ci_skipped(self, commit: str, jobs: list[str], why: str, repo: str = "") -> None:
        event = ForgeChecksFailed(commit=commit, jobs=jobs, skipped=why, repo=repo)
        await self._record(event)
        await self._notify(event.line(), note=True)

    def _target(self) -> str:
        assert self.prov is not None
        return policy.merge_target(self.req.repo, self.prov.config)

    # -- helpers ----------------------------------------------------------------------------
    def _take_follow_ups(self) -> list[str]:
        taken, self.follow_ups = self.follow_ups, []
        self.asked += [f.text for f in taken]
        self.attached += [a for f in taken for a in f.attachments]
        return [f.text for f in taken]

    def _summary(self) -> str:
        return "\n".join(dict.fromkeys(self.summaries)) or "No summary from the agent."

    def _job(self, prompt: str, reason: AgentReason, mode: AgentMode = "edit") -> AgentJob:
        """The next run's instructions, with what is left of the task's budgets (they are per task)."""
        assert self.prov is not None
        left = remaining(self.prov.config.agent.budget, self.spent)
        if (used_up := exhausted(left)) is not None:
            raise _Stop(
                f"The agent was stopped: the task's {used_up} budget is used up; the work so far "
                f"is on branch {self.prov.branch}."
            )
        return AgentJob(
            task_id=self.req.task_id,
            prompt=prompt,
            request=self.req.text,
            reason=reason,
            round=self.round,
            invocation=self.agent_runs,
            model=self.req.model or self.prov.config.agent.model,
            settings=self.prov.config.agent.model_copy(update=left.model_dump()),
            session_id=self.session_id,
            repo=self.req.repo.name,
            checks=self.prov.config.verify,
            max_gate_rounds=self.prov.max_rounds,
            merge_from=self.merge_from,
            attachments=self.attached,
            new_attachments=self._newly_shown(),
            mode=mode,
            attempt=self.req.attempt,
        )

    def _newly_shown(self) -> list[str]:
        """The files the next agent run has not been given yet (they are then counted as given)."""
        new = [a.id for a in self.attached if a.id not in self.shown]
        self.shown.update(new)
        return new

    def _step(
        self,
        summary: str = "",
        warnings: list[str] | None = None,
        review: bool = False,
        deliver: bool = False,
        last_round: bool = False,
    ) -> StepInput:
        assert self.prov is not None
        return StepInput(
            review=review,
            deliver=deliver,
            last_round=last_round,
            follow_ups=self.asked if review else [],
            request=self.req,
            config=self.prov.config,
            round=self.round,
            summary=summary,
            warnings=warnings or [],
            also=self.prov.also,
            head=self.head,
            base=self._base(),
        )

    def _base(self) -> str | None:
        """The merge base verify found, while the branch is still at the head it found it for."""
        return self.based[1] if self.based is not None and self.based[0] == self.head else None

    def _agent_minutes(self) -> float:
        assert self.prov is not None
        return (self.prov.config.agent.timeout_s or DEFAULT_AGENT_TIMEOUT_S) / 60 + 5

    def _verify_minutes(self) -> float:
        assert self.prov is not None
        configs = [self.prov.config, *(o.config for o in self.prov.also)]  # every repo's checks, for several
        return sum(c.timeout_s for config in configs for c in config.verify) / 60 + 5

    def _build_minutes(self) -> float:
        assert self.prov is not None
        build = self.prov.config.build
        return (build.timeout_s / 60 if build else 0) + 5

    def _move(self, event: object) -> None:
        """Where the task is now that `event` (an event, or an event class an activity will record)
        happened: the same rule the store applies to what it records."""
        self.state = next_state(self.state, event)

    async def _record(self, *events: AnyEvent) -> None:
        for event in events:
            self._move(event)
        record = RecordInput(
            task_id=self.req.task_id,
            events=list(events),
            campaign=self.req.campaign,
            attempt_group=self.req.attempt_group,
        )
        retry = RetryPolicy(maximum_interval=timedelta(seconds=10))
        if self._patched("record-local-v1"):
            # A short write to Honk's store, run by this worker inside the workflow task: no activity task
            # for the Temporal server to schedule, hand out and complete, and no workflow task after it.
            # Temporal's CPU per task, and its history, is mostly made of those round trips.
            await workflow.execute_local_activity_method(
                acts.record, record, start_to_close_timeout=timedelta(seconds=30), retry_policy=retry
            )
            return
        await workflow.execute_activity_method(
            acts.record, record, start_to_close_timeout=timedelta(seconds=30), retry_policy=retry
        )

    async def _close_pull_request(self, comment: str) -> None:
        """Closes the cancelled task's pull request, as its cancel asked. Here, in the task's own cancel path,
        rather than by whoever cancelled it afterwards: the route has stopped by now, so no publish of this
        task can open or update the pull request after it is closed, and the task knows its own pull request.
        Best effort: the task is cancelled whatever the forge answers."""
        try:
            await workflow.execute_activity_method(
                acts.close_pull_request,
                ClosePullRequestInput(request=self.req, comment=comment),
                task_queue=self.queue,  # where the repo's forge credentials are
                start_to_close_timeout=timedelta(minutes=2),
                heartbeat_timeout=self.heartbeat,
                retry_policy=RetryPolicy(
                    maximum_attempts=5, maximum_interval=timedelta(seconds=30), non_retryable_error_types=[USER_FACING]
                ),
            )
        except ActivityError as e:
            workflow.logger.warning("task %s: pull request not closed: %s", self.req.task_id, e.cause or e)

    async def _cleanup(self) -> None:
        await workflow.execute_activity_method(
            acts.cleanup,
            ProvisionInput(request=self.req),
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(maximum_attempts=5),
            task_queue=self.queue,
        )

    async def _fail(self, reason: str) -> None:
        await self._record(TaskFailed(reason=reason))  # said first: cleanup trouble cannot hide it
        await self._notify()
        await self._cleanup()

    async def _notify(self, detail: str = "", note: bool = False, asked_too: bool = False) -> None:
        """Says the milestone (or, `note`, one passing line) where the task talks: its Slack thread, the
        forge issue or pull request it was asked on, and for a note also its pull request (on the forge,
        only there unless `asked_too`)."""
        talks = self.req.slack is not None or self.req.forge_thread is not None
        if not talks and not (note and self.req.repo.forge is not None):
            return
        await workflow.execute_activity_method(
            acts.notify,
            NotifyInput(request=self.req, detail=detail, note=note, asked_too=asked_too),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(maximum_attempts=10, maximum_interval=timedelta(seconds=30)),
        )

    async def _act(self, fn, arg, minutes: float = 10, queue: str | None = None, attempts: int = 3):  # noqa: ANN001, ANN202
        """Runs one step (on `queue`, else the task's); a failure a person must act on stops the route
        with its message."""
        # Only the review (it reads the diff) and a build with nothing to build leave the branch where it
        # was; after any other step the head is known again only from what that step returns.
        if not (fn is acts.review or (fn is acts.build and self.prov is not None and self.prov.config.build is None)):
            self.head = None
        self.fresh = False
        try:
            return await workflow.execute_activity_method(
                fn,
                arg,
                task_queue=queue or self.queue,
                start_to_close_timeout=timedelta(minutes=minutes),
                heartbeat_timeout=self.heartbeat,
                retry_policy=RetryPolicy(maximum_attempts=attempts, non_retryable_error_types=[USER_FACING]),
                cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
        except ActivityError as e:
            if self.cancel_by is not None:
                raise
            cause = e.cause
            if isinstance(cause, ApplicationError) and cause.type in (USER_FACING, MODEL_UNAVAILABLE):
                raise _Stop(cause.message) from e
            detail = cause.message if isinstance(cause, ApplicationError) else str(cause)
            raise _Stop(
                f"Honk hit an internal error in step {fn.__name__} ({detail}); the worker's log has the details."
            ) from e
