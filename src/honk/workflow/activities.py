"""The task's steps as Temporal activities: thin, each one record in and one record out.

A UserFacingError becomes a non-retryable ApplicationError whose message the workflow shows as the
task's failure reason; any other exception is a bug and is retried by Temporal.
"""

from __future__ import annotations

import asyncio
import functools
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from honk.access import Policy, Refused
from honk.agents import AgentRegistry, AgentStopped
from honk.build import builder
from honk.domain import AgentOutcome, Budget, RepoConfig, TaskRequest, effective_budget
from honk.errors import UserFacingError
from honk.events import (
    AgentFinished,
    AgentStarted,
    AgentToolDenied,
    AnyEvent,
    BuildReady,
    BuildStarted,
    ChangeReviewed,
    ChecksStarted,
    MainMoved,
    SafetyWarning,
    SandboxRefused,
    TaskReady,
    WorkspaceReady,
)
from honk.metrics import WorkerMetrics
from honk.protocols import EventSink
from honk.sandbox import Sandbox, SandboxLauncher
from honk.slack.notifier import SlackNotifier
from honk.steps.tools import ToolsForRuns
from honk.store import AuditEntry, AuditLog, Store
from honk.timeline import Timeline
from honk.verify import guard
from honk.verify.config import load_repo_config
from honk.verify.judge import Judge
from honk.verify.runner import feedback, run_checks
from honk.workflow import policy
from honk.workflow.forge_steps import ForgeSteps
from honk.workflow.records import (
    AgentRunInput,
    AgentRunResult,
    BuildResult,
    MergeInput,
    MergeResult,
    NotifyInput,
    ProvisionInput,
    ProvisionResult,
    PullRequestState,
    RecordInput,
    ReviewInput,
    ReviewResult,
    StepInput,
    VerifyResult,
)
from honk.workspace.git import GitError, file_lock, git, git_env, git_ok
from honk.workspace.worktrees import SecretInChange, Workspace, WorktreeWorkspaces

P = ParamSpec("P")
MAX_DIFF_CHARS = 200_000  # kept with the task for its page; the branch has the rest
R = TypeVar("R")


def user_facing(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        started, outcome = time.monotonic(), "error"
        try:
            result = await fn(*args, **kwargs)
            outcome = "ok"
            return result
        except UserFacingError as e:
            outcome = "refused"
            raise ApplicationError(e.message, type="UserFacingError", non_retryable=True) from e
        finally:
            metrics = getattr(getattr(args[0], "d", None), "metrics", None) if args else None
            if isinstance(metrics, WorkerMetrics):
                metrics.steps.labels(fn.__name__, outcome).observe(time.monotonic() - started)

    return wrapper


@asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    """Heartbeats while a long step runs, so a dead worker is noticed and cancellation arrives."""
    timeout = activity.info().heartbeat_timeout
    every = max(0.5, timeout.total_seconds() / 4) if timeout else 10.0

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(every)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()


@dataclass
class ActivityDeps:
    store: Store
    workspaces: WorktreeWorkspaces
    artifacts_dir: Path
    previews_dir: Path
    logs_dir: Path
    base_url: str
    default_agent: str
    max_rounds: int
    agents: AgentRegistry
    agent_homes_dir: Path
    budget_defaults: Budget  # the server's, where a repo sets none
    sandbox: Sandbox
    tools: ToolsForRuns  # what each agent run gets
    audit: AuditLog
    policy: Policy
    secrets: tuple[str, ...] = ()  # Honk's credentials: never committed
    setup_network: bool = False  # the operator lets setup commands have the network when repos ask
    metrics: WorkerMetrics | None = None
    forge_steps: ForgeSteps | None = None
    judge: Judge | None = None
    notifier: SlackNotifier | None = None


class TaskActivities:
    def __init__(self, deps: ActivityDeps) -> None:
        self.d = deps

    def _emitter(self, task_id: str) -> EventSink:
        async def emit(*events: AnyEvent) -> None:
            await self.d.store.append(task_id, *events)
            if self.d.notifier and any(e.moves_to is not None or isinstance(e, AgentStarted) for e in events):
                await self.d.notifier.status(task_id)  # best-effort and throttled

        return emit

    @activity.defn
    @user_facing
    async def notify(self, inp: NotifyInput) -> None:
        if self.d.notifier is None or inp.request.slack is None:
            return
        await self.d.notifier.milestone(inp.request.task_id, inp.request.slack, inp.detail)

    async def _workspace(self, req: TaskRequest) -> Workspace:
        return await self.d.workspaces.ensure(req.task_id, req.repo, req.repo.branch)

    def _logs(self, task_id: str) -> Path:
        return self.d.logs_dir / task_id

    def _confine(self, req: TaskRequest, ws: Workspace, source: str, network: bool = False) -> SandboxLauncher:
        """Repo code runs in the sandbox, with the task's own HOME and temp dir, never the worker's."""
        area = self.d.agent_homes_dir / req.task_id
        return self.d.sandbox.launcher(area, ws.path, [ws.mirror], source, "full" if network else "none")

    async def _refusals(self, req: TaskRequest, *denied: AgentToolDenied) -> None:
        """What the sandboxes of this step refused (and the agent's denied tool calls): into the
        timeline and the audit log (the warnings at delivery are made from the timeline)."""
        found = Sandbox.violations(self.d.agent_homes_dir / req.task_id)
        if not found and not denied:
            return
        if self.d.metrics is not None:
            for v in found:
                self.d.metrics.refusals.labels(v.kind).inc()
        await self._emitter(req.task_id)(
            *(SandboxRefused(what=v.kind, detail=v.detail, command=v.command, source=v.source) for v in found)
        )
        await self.d.audit.add(
            *(
                AuditEntry(
                    actor=f"{v.source} of {req.task_id}",
                    front_door="worker",
                    action="sandbox",
                    outcome="violation",
                    repo=req.repo.name,
                    task_id=req.task_id,
                    rule=f"sandbox.{v.kind}",
                    detail=f"{v.detail} — in `{v.command}`",
                )
                for v in found
            ),
            *(
                AuditEntry(
                    actor=f"agent of {req.task_id}",
                    front_door="worker",
                    action="agent_tool",
                    outcome="refused",
                    repo=req.repo.name,
                    task_id=req.task_id,
                    rule="tool_policy",
                    detail=f"{d.tool} {d.input}: {d.reason}",
                )
                for d in denied
            ),
        )

    async def _committed_before(
        self, req: TaskRequest, ws: Workspace, inp: AgentRunInput, head: str
    ) -> AgentRunResult | None:
        """An earlier attempt of this run committed the agent's work, then its worker died (or lost
        Temporal) before reporting: the work stands, the agent is not run again."""
        timeline = await self.d.store.timeline(req.task_id) or Timeline()
        first = timeline.committed_by(inp.job.invocation, head)
        if first is None or not await git_ok("merge-base", "--is-ancestor", first, head, cwd=ws.path):
            return None
        changed = (await git("diff", "--name-only", f"{first}..{head}", cwd=ws.path)).splitlines()
        summary = (await git("log", "-1", "--format=%b", head, cwd=ws.path)).split("\n\n")[0].strip()
        outcome = AgentOutcome(summary=summary or "The agent's change (committed by an earlier attempt).")
        if head not in timeline.agent_commits:
            await self._emitter(req.task_id)(
                AgentFinished(round=inp.job.round, summary=outcome.summary, changed_files=changed, commit=head)
            )
        return AgentRunResult(outcome=outcome, commit=head, changed_files=changed)

    async def _commit(
        self, req: TaskRequest, ws: Workspace, message: str, trailers: dict[str, str]
    ) -> tuple[str | None, list[str]]:
        try:
            commit, changed = await self.d.workspaces.commit_all(ws, message, trailers, refuse=self.d.secrets)
            if commit is not None and not await self.d.workspaces.publish(ws, req.repo, req.task_id):
                activity.logger.warning(
                    "could not publish %s's branch to its remote: only this machine can continue it", req.task_id
                )
            return commit, changed
        except SecretInChange as e:
            await self.d.audit.add(
                AuditEntry(
                    actor=f"agent of {req.task_id}",
                    front_door="worker",
                    action="sandbox",
                    outcome="violation",
                    repo=req.repo.name,
                    task_id=req.task_id,
                    rule="secrets.commit",
                    detail=f"a change adding one of Honk's credentials was not committed ({', '.join(e.files)})",
                )
            )
            raise

    @staticmethod
    def _collecting(emit: EventSink, denied: list[AgentToolDenied]) -> EventSink:
        async def collect(*events: AnyEvent) -> None:
            denied.extend(e for e in events if isinstance(e, AgentToolDenied))
            await emit(*events)

        return collect

    async def _base(self, ws: Workspace, req: TaskRequest, config: RepoConfig) -> str:
        target = policy.merge_target(req.repo, config)
        return await git("merge-base", "HEAD", f"refs/remotes/origin/{target}", cwd=ws.path)

    @activity.defn
    @user_facing
    async def record(self, inp: RecordInput) -> None:
        await self.d.store.append(inp.task_id, *inp.events)

    @activity.defn
    @user_facing
    async def provision(self, inp: ProvisionInput) -> ProvisionResult:
        req, started = inp.request, time.monotonic()
        async with heartbeating():
            await self.d.workspaces.fetch(req.repo)
            await self.d.workspaces.remote_head(req.repo, req.repo.branch)
            ws = await self._workspace(req)
            await self.d.workspaces.reset(ws)
            config = load_repo_config(ws.path)
            await self.d.workspaces.remote_head(req.repo, policy.merge_target(req.repo, config))
            agent = req.agent or config.agent.name or self.d.default_agent
            self.d.agents.get(agent)  # an unknown or unconfigured agent fails here, before any work
            await self._allowed(req, agent, req.model or config.agent.model)
            config = self._budgeted(req, config)
            if (warning := self.d.sandbox.warning()) is not None:
                await self._emitter(req.task_id)(SafetyWarning(text=warning))
            elsewhere = config.queue and config.queue != activity.info().task_queue
            if config.setup and not elsewhere:  # a repo with its own queue is set up on its own machines
                network = bool(config.setup_network) and self.d.setup_network
                box = self._confine(req, ws, "setup", network=network)
                if config.setup_network:
                    granted = "full network (hosts not enforced)" if network else "no network (not allowed here)"
                    await self.d.audit.add(
                        AuditEntry(
                            actor=f"setup of {req.task_id}",
                            front_door="worker",
                            action="setup_network",
                            outcome="allowed" if network else "refused",
                            repo=req.repo.name,
                            task_id=req.task_id,
                            rule="setup_network" if network else "settings.sandbox_setup_network",
                            detail=f"asked for {', '.join(config.setup_network)}; got {granted}",
                        )
                    )
                try:
                    res = await box.shell(
                        config.setup, timeout_s=config.setup_timeout_s, log=self._logs(req.task_id) / "setup.log"
                    )
                finally:
                    await self._refusals(req)
                if not res.ok:
                    tail = "\n".join(res.output.strip().splitlines()[-10:])
                    raise UserFacingError(f"The repo's setup command `{config.setup}` failed:\n{tail}")
            base = await self._base(ws, req, config)
        await self._emitter(req.task_id)(
            WorkspaceReady(branch=ws.branch, base_commit=base, seconds=round(time.monotonic() - started, 3))
        )
        return ProvisionResult(
            branch=ws.branch,
            base_commit=base,
            config=config,
            max_rounds=config.max_rounds or self.d.max_rounds,
            agent=agent,
        )

    @activity.defn
    @user_facing
    async def run_agent(self, inp: AgentRunInput) -> AgentRunResult:
        req, emit = inp.request, self._emitter(inp.request.task_id)
        async with heartbeating():
            ws = await self._workspace(req)
            await self.d.workspaces.reset(ws)  # a retried run starts from what was committed
            head = await self.d.workspaces.head(ws)
            if activity.info().attempt > 1 and (done := await self._committed_before(req, ws, inp, head)):
                return done
            await emit(
                AgentStarted(round=inp.job.round, reason=inp.job.reason, invocation=inp.job.invocation, head=head)
            )
            job = inp.job
            denied: list[AgentToolDenied] = []
            emit = self._collecting(emit, denied)
            trailers = {"Honk-Task": req.task_id, "Requested-by": req.requested_by, "Agent": inp.agent}
            title = req.text.strip().splitlines()[0][:72]
            if job.merge_from:
                await self.d.workspaces.start_merge(ws, job.merge_from)
            try:
                async with self.d.tools.run(req.task_id, ws.path, [ws.mirror], job.checks, emit) as tools:
                    outcome = await self.d.agents.get(inp.agent).run(job, tools, emit)
            except AgentStopped as stopped:
                # A budget ended the run: keep what was done on the branch, then say so.
                commit, changed = await self._commit(req, ws, f"{title}\n\nUnfinished: {stopped.which}.", trailers)
                await emit(
                    AgentFinished(
                        round=job.round,
                        summary=stopped.message,
                        changed_files=changed,
                        commit=commit,
                        cost_usd=stopped.cost_usd,
                    )
                )
                where = f"the work so far is on branch {ws.branch}" if commit else "nothing was changed"
                raise UserFacingError(f"{stopped.message[:-1]}; {where}.") from stopped
            finally:
                await self._refusals(req, *denied)
            if outcome.model or job.model:
                trailers["Model"] = outcome.model or job.model or ""
            commit, changed = await self._commit(req, ws, f"{title}\n\n{outcome.summary.strip()}".strip(), trailers)
        await emit(
            AgentFinished(
                round=inp.job.round,
                summary=outcome.summary,
                changed_files=changed,
                commit=commit,
                model=outcome.model,
                cost_usd=outcome.cost_usd,
            )
        )
        if self.d.metrics is not None and outcome.cost_usd:
            self.d.metrics.agent_cost.labels(inp.agent).inc(outcome.cost_usd)
        return AgentRunResult(outcome=outcome, commit=commit, changed_files=changed)

    @activity.defn
    @user_facing
    async def verify(self, inp: StepInput) -> VerifyResult:
        req, emit = inp.request, self._emitter(inp.request.task_id)
        async with heartbeating():
            ws = await self._workspace(req)
            await emit(ChecksStarted(round=inp.round, names=[c.name for c in inp.config.verify]))
            try:
                results = await run_checks(
                    inp.config.verify,
                    self._confine(req, ws, "check"),
                    self._logs(req.task_id),
                    f"round{inp.round}",
                    emit,
                )
            finally:
                await self._refusals(req)
            base, head = await self._base(ws, req, inp.config), await self.d.workspaces.head(ws)
        return VerifyResult(
            passed=all(r.passed for r in results), feedback=feedback(results), base_commit=base, head_commit=head
        )

    @activity.defn
    @user_facing
    async def review(self, inp: ReviewInput) -> ReviewResult:
        """The test guard (always) and the scope judge (when configured) read the whole diff."""
        req = inp.request
        async with heartbeating():
            ws = await self._workspace(req)
            diff = await self.d.workspaces.diff(ws, await self._base(ws, req, inp.config))
            findings = [f.line() for f in guard.inspect(diff)]
            verdict = await self.d.judge.review(req.text, inp.follow_ups, diff) if self.d.judge else None
        judge_ok = verdict.ok if verdict else True
        judge_reason = verdict.reason if verdict else "no judge configured"
        await self._emitter(req.task_id)(
            ChangeReviewed(judge_ok=judge_ok, judge_reason=judge_reason, guard_findings=findings)
        )
        problems = [f"- test guard: {f}" for f in findings]
        if not judge_ok:
            problems.insert(0, f"- scope judge: {judge_reason}")
        unjudged = [f"scope judge unavailable: {judge_reason}"] if verdict and not verdict.available else []
        return ReviewResult(
            ok=not problems,
            feedback="\n".join(problems),
            warnings=[p[2:] for p in problems] + unjudged + await self._safety_warnings(req),
        )

    async def _safety_warnings(self, req: TaskRequest) -> list[str]:
        timeline = await self.d.store.timeline(req.task_id) or Timeline()
        return [w for w in (self.d.sandbox.warning(), timeline.refusal_warning()) if w]

    @activity.defn
    @user_facing
    async def build(self, inp: StepInput) -> BuildResult:
        req, spec = inp.request, inp.config.build
        if spec is None:
            return BuildResult(ok=True)
        emit = self._emitter(req.task_id)
        await emit(BuildStarted())
        async with heartbeating():
            ws = await self._workspace(req)
            try:
                out = await builder.build(
                    spec,
                    ws.path,
                    self.d.artifacts_dir / req.task_id,
                    self.d.previews_dir / req.task_id,
                    self._logs(req.task_id) / "build.log",
                    self._confine(req, ws, "build"),
                )
            finally:
                await self._refusals(req)
        if not out.ok:
            return BuildResult(ok=False, failure=out.failure)
        preview = f"{self.d.base_url}/previews/{req.task_id}/" if out.has_preview else None
        await emit(BuildReady(artifacts=out.artifacts, preview_url=preview))
        return BuildResult(ok=True, artifacts=out.artifacts, preview_url=preview)

    @activity.defn
    @user_facing
    async def deliver(self, inp: StepInput) -> None:
        req = inp.request
        async with heartbeating():  # pushes and forge calls can take a while
            ws = await self._workspace(req)
            base = await self._base(ws, req, inp.config)
            diff = await self.d.workspaces.diff(ws, base)
            emit = self._emitter(req.task_id)
            if self.d.forge_steps is not None and (forge := self.d.forge_steps.of(req)) is not None:
                # Before "ready": whoever is told the task is ready finds its pull request there.
                await self.d.forge_steps.update_pull_request(
                    forge, req, ws, policy.merge_target(req.repo, inp.config), emit, inp.summary, inp.warnings
                )
        await emit(
            TaskReady(
                commit=await self.d.workspaces.head(ws),
                summary=inp.summary,
                diffstat=await self.d.workspaces.diffstat(ws, base),
                warnings=inp.warnings,
                diff=diff[:MAX_DIFF_CHARS],
                diff_truncated=len(diff) > MAX_DIFF_CHARS,
            )
        )

    @activity.defn
    @user_facing
    async def pull_request(self, inp: ProvisionInput) -> PullRequestState:
        """Whether the task's pull request is still open on its forge (someone may close or merge it there)."""
        if self.d.forge_steps is None:
            return PullRequestState(state="none")
        async with heartbeating():
            return await self.d.forge_steps.state(inp.request)

    @activity.defn
    @user_facing
    async def merge(self, inp: MergeInput) -> MergeResult:
        """Brings the latest target into the branch and re-verifies when it moved, then pushes.

        One merge at a time per repo on this machine (a lock); across machines the remote's
        refusal of a non-fast-forward push makes a racing merge go round again.
        """
        req, emit, wss = inp.request, self._emitter(inp.request.task_id), self.d.workspaces
        target = policy.merge_target(req.repo, inp.config)
        async with heartbeating(), file_lock(wss.mirrors_dir / f"{req.repo.name}.merge.lock"):
            verified = inp.verified_base
            for attempt in range(inp.max_attempts):
                await wss.fetch(req.repo)
                head_of_target = await wss.remote_head(req.repo, target)
                ws = await self._workspace(req)
                if await git_ok("merge-base", "--is-ancestor", "HEAD", head_of_target, cwd=ws.path):
                    # Already on the target: a retry after a push whose result was lost.
                    return MergeResult(
                        status="merged", commit=head_of_target, target=target, base_commit=head_of_target
                    )
                if not await _is_ancestor(ws, head_of_target):
                    await emit(MainMoved(target=target, verified_base=verified, new_base=head_of_target))
                    conflicts = await wss.merge_in(
                        ws,
                        f"refs/remotes/origin/{target}",
                        f"Merge latest {target} into {ws.branch}",
                        {
                            "Honk-Task": req.task_id,
                            "Requested-by": req.requested_by,
                            "Agent": inp.agent,
                            "Approved-by": inp.approved_by,
                        },
                    )
                    if conflicts:
                        return MergeResult(status="conflict", target=target, conflicts=conflicts)
                    await wss.publish(ws, req.repo, req.task_id)  # another machine may take the next step
                    try:
                        results = await run_checks(
                            inp.config.verify,
                            self._confine(req, ws, "check"),
                            self._logs(req.task_id),
                            f"merge{attempt}",
                            emit,
                        )
                    finally:
                        await self._refusals(req)
                    if not all(r.passed for r in results):
                        return MergeResult(status="checks_failed", target=target, feedback=feedback(results))
                    verified = head_of_target
                forge = self.d.forge_steps.of(req) if self.d.forge_steps else None
                if forge is not None and self.d.forge_steps is not None:
                    result = await self.d.forge_steps.merge(
                        forge, req, ws, target, self._merge_message(ws, inp), head_of_target
                    )
                    if result.status == "merged":
                        await wss.fetch(req.repo)
                    return result
                commit = await self._merge_commit(ws, inp, target, head_of_target)
                if await _push(ws, req.repo.url, commit, target):
                    if inp.config.merge_mode == "fast-forward":
                        await self._approval_note(ws, req.repo.url, commit, inp)
                    await wss.fetch(req.repo)
                    return MergeResult(status="merged", commit=commit, target=target, base_commit=head_of_target)
        return MergeResult(status="kept_moving", target=target)

    async def _approval_note(self, ws: Workspace, url: str, commit: str, inp: MergeInput) -> None:
        """A fast-forward makes no commit to carry Approved-by: a git note (refs/notes/honk) does."""
        note = f"Honk-Task: {inp.request.task_id}\nRequested-by: {inp.request.requested_by}\nApproved-by: {inp.approved_by}"
        env = git_env(self.d.workspaces.author)
        await git("notes", "--ref=honk", "add", "-f", "-m", note, commit, cwd=ws.path, env=env)
        await git("push", "--quiet", url, "refs/notes/honk", cwd=ws.path, check=False)

    @staticmethod
    def _merge_message(ws: Workspace, inp: MergeInput) -> str:
        req = inp.request
        trailers = {"Honk-Task": req.task_id, "Requested-by": req.requested_by, "Agent": inp.agent}
        if inp.model:
            trailers["Model"] = inp.model
        if inp.cost_usd is not None:
            trailers["Honk-Cost"] = f"${inp.cost_usd:.4f}"
        trailers["Approved-by"] = inp.approved_by
        title = req.text.strip().splitlines()[0][:72]
        return (
            f"Merge {ws.branch}: {title}\n\n{inp.summary}\n\n"
            + "\n".join(f"{k}: {v}" for k, v in trailers.items())
            + "\n"
        )

    async def _merge_commit(self, ws: Workspace, inp: MergeInput, target: str, target_head: str) -> str:
        head = await self.d.workspaces.head(ws)
        if inp.config.merge_mode == "fast-forward":
            return head
        message = self._merge_message(ws, inp)
        # The branch already contains the target, so the merge's tree is the branch's tree.
        return await git(
            "commit-tree",
            f"{head}^{{tree}}",
            "-p",
            target_head,
            "-p",
            head,
            "-F",
            "-",
            cwd=ws.path,
            env=git_env(self.d.workspaces.author),
            stdin=message,
        )

    @activity.defn
    @user_facing
    async def cleanup(self, inp: ProvisionInput) -> None:
        await self.d.workspaces.remove(inp.request.task_id, inp.request.repo)
        await self.d.workspaces.unpublish(inp.request.repo, inp.request.task_id)
        shutil.rmtree(self.d.agent_homes_dir / inp.request.task_id, ignore_errors=True)

    async def _allowed(self, req: TaskRequest, agent: str, model: str | None) -> None:
        """The repo's own config chose the agent and model: the policy may still refuse them."""
        try:
            self.d.policy.check_agent(req.repo.name, agent, model)
        except Refused as refused:
            await self.d.audit.add(
                AuditEntry(
                    actor=req.requested_by,
                    front_door=req.front_door,
                    action="request",
                    outcome="refused",
                    repo=req.repo.name,
                    task_id=req.task_id,
                    rule=refused.rule,
                    detail=refused.message,
                )
            )
            raise

    def _budgeted(self, req: TaskRequest, config: RepoConfig) -> RepoConfig:
        """The task's budget, decided once: the repo's, else the server's defaults, capped by the policy."""
        budget = effective_budget(self.d.budget_defaults, config.agent.budget, self.d.policy.budget_cap(req.repo.name))
        return config.model_copy(update={"agent": config.agent.model_copy(update=budget.model_dump())})


async def _is_ancestor(ws: Workspace, commit: str) -> bool:
    return await git_ok("merge-base", "--is-ancestor", commit, "HEAD", cwd=ws.path)


async def _push(ws: Workspace, url: str, commit: str, target: str) -> bool:
    """Pushes without force; False when the remote moved meanwhile (another merge won the race)."""
    try:
        await git("push", "--quiet", url, f"{commit}:refs/heads/{target}", cwd=ws.path)
    except GitError as e:
        if any(s in e.stderr for s in ("non-fast-forward", "fetch first", "[rejected]", "stale info")):
            return False
        last = e.stderr.strip().splitlines()[-1:] or ["no detail"]
        raise UserFacingError(f"The remote refused the merge into {target}: {last[0]}") from e
    return True
