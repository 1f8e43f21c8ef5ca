"""One agent run: the tools the worker builds for it, the agent, then Honk's commit of its work (never
the agent's), with a budget that stopped it kept on the branch too."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from honk.agents import AgentRegistry, AgentStopped
from honk.domain import AgentOutcome, RepoRef, TaskRequest, Workspace
from honk.errors import UserFacingError
from honk.events import AgentFinished, AgentStarted, AgentToolDenied, AnyEvent, RepoCommitted
from honk.gate import Gate, WorkerRefusal
from honk.metrics import WorkerMetrics
from honk.protocols import AttachmentReads, EventSink, TaskReads, Workspaces
from honk.timeline import Timeline
from honk.workflow.records import AgentRunInput, AgentRunResult
from honk.workflow.steps.refusals import Refusals
from honk.workflow.steps.tools import OtherWorkspace, ToolsForRuns
from honk.workspace.worktrees import SecretInChange

log = logging.getLogger("honk.worker")


class AgentRunner:
    def __init__(
        self,
        workspaces: Workspaces,
        agents: AgentRegistry,
        tools: ToolsForRuns,
        refusals: Refusals,
        reads: TaskReads,
        gate: Gate,
        attachments: AttachmentReads,
        secrets: tuple[str, ...] = (),
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.workspaces, self.agents, self.tools, self.refusals = workspaces, agents, tools, refusals
        self.reads, self.gate, self.secrets, self.metrics = reads, gate, secrets, metrics
        self.attachments = attachments

    async def run(self, inp: AgentRunInput, attempt: int, emit: EventSink) -> AgentRunResult:
        req, job = inp.request, inp.job
        ws = await self.workspaces.ensure(req.task_id, req.repo, req.repo.branch, head=inp.head)
        # A retried run starts from what was committed; a first run right after provisioning finds the
        # worktree clean at the head it was handed (ws.at: ensure saw it there), so nothing is reset.
        if not (inp.clean and attempt == 1 and ws.at is not None):
            await self.workspaces.reset(ws)  # moves no HEAD: ws.at still holds
        others = await self._others(req)
        if job.mode == "plan":
            return await self._plan(inp, ws, emit, others)
        head = ws.at or await self.workspaces.head(ws)
        also_heads = {repo.name: await self.workspaces.head(other) for repo, other in others}
        recovered: dict[str, str] = {}
        if attempt > 1:
            timeline = await self.reads.timeline(req.task_id) or Timeline()
            recovered = await self._others_committed_before(inp, others, timeline, emit)
            if done := await self._committed_before(inp, ws, head, emit, timeline):
                return done.model_copy(update={"also_commits": recovered})
        started = AgentStarted(round=job.round, reason=job.reason, invocation=job.invocation, head=head)
        await emit(started.model_copy(update={"also_heads": also_heads}) if also_heads else started)
        trailers = {"Honk-Task": req.task_id, "Requested-by": req.requested_by, "Agent": inp.agent}
        title = req.text.strip().splitlines()[0][:72]
        if job.merge_from:
            await self.workspaces.start_merge(ws, job.merge_from)

        async def stopped_early(stopped: AgentStopped) -> UserFacingError:
            # a budget ended the run: keep what was done on the branch, say so
            await self._commit_others(req, others, f"{title}\n\nUnfinished: {stopped.which}.", trailers, emit)
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
            return UserFacingError(f"{stopped.message[:-1]}; {where}.")

        outcome = await self._run_agent(inp, ws, emit, others, stopped_early)
        if outcome.model or job.model:
            trailers["Model"] = outcome.model or job.model or ""
        message = f"{title}\n\n{outcome.summary.strip()}".strip()
        # What an earlier attempt committed in another repo counts too: this run may have left that repo alone.
        also_commits = recovered | await self._commit_others(req, others, message, trailers, emit)
        commit, changed = await self._commit(req, ws, message, trailers)
        await emit(
            AgentFinished(
                round=job.round,
                summary=outcome.summary,
                changed_files=changed,
                commit=commit,
                model=outcome.model,
                cost_usd=outcome.cost_usd,
            )
        )
        if self.metrics is not None and outcome.cost_usd:
            self.metrics.agent_cost.labels(inp.agent).inc(outcome.cost_usd)
        return AgentRunResult(outcome=outcome, commit=commit, changed_files=changed, also_commits=also_commits)

    async def _others(self, req: TaskRequest) -> list[tuple[RepoRef, Workspace]]:
        """A task over several repos: its other workspaces, each back at its last commit (a retried run
        starts from what was committed), in the task's order."""
        others: list[tuple[RepoRef, Workspace]] = []
        for repo in req.also:
            other = await self.workspaces.ensure(req.task_id, repo, repo.branch, key=req.workspace_key(repo))
            await self.workspaces.reset(other)
            others.append((repo, other))
        return others

    async def _commit_others(
        self,
        req: TaskRequest,
        others: list[tuple[RepoRef, Workspace]],
        message: str,
        trailers: dict[str, str],
        emit: EventSink,
    ) -> dict[str, str]:
        """Honk's commit in each other repo the agent changed (one it left alone gets none); said per repo.
        Before the primary's commit: a retried run that finds the primary committed finds these too."""
        commits: dict[str, str] = {}
        for repo, other in others:
            commit, changed = await self._commit(req, other, message, trailers, repo)
            if commit is not None:
                commits[repo.name] = commit
                await emit(RepoCommitted(repo=repo.name, commit=commit, changed_files=changed))
        return commits

    async def _plan(
        self, inp: AgentRunInput, ws: Workspace, emit: EventSink, others: Sequence[tuple[RepoRef, Workspace]] = ()
    ) -> AgentRunResult:
        """A planning run: the workspace mounted read-only (the agent's programs cannot write to it, nor
        the agent through Honk's workspace view), nothing committed, and the workspace reset after."""
        job = inp.job

        async def stopped_early(stopped: AgentStopped) -> UserFacingError:
            return UserFacingError(f"{stopped.message[:-1]} while planning; nothing was changed.")

        try:
            outcome = await self._run_agent(inp, ws, emit, others, stopped_early, writable=False)
        finally:
            for held in [ws, *(other for _, other in others)]:
                await self.workspaces.reset(held)  # with the sandbox off, only this undoes what a program wrote
        summary = outcome.plan.summary if outcome.plan is not None else outcome.summary
        await emit(
            AgentFinished(
                round=job.round,
                summary=summary,
                changed_files=[],
                commit=None,
                model=outcome.model,
                cost_usd=outcome.cost_usd,
            )
        )
        return AgentRunResult(outcome=outcome, commit=None, changed_files=[])

    async def _run_agent(
        self,
        inp: AgentRunInput,
        ws: Workspace,
        emit: EventSink,
        others: Sequence[tuple[RepoRef, Workspace]],
        stopped_early: Callable[[AgentStopped], Awaitable[UserFacingError]],
        *,
        writable: bool = True,
    ) -> AgentOutcome:
        """The agent run with the tools the worker builds for it (`writable` False: a planning run).
        A budget that stops it goes to `stopped_early`, whose error is raised; the tools the agent was
        refused are recorded after either."""
        req, job = inp.request, inp.job
        denied: list[AgentToolDenied] = []
        attached = await self.attachments.files(req.task_id) if job.attachments else []
        try:
            async with self.tools.run(
                req.task_id,
                ws.path,
                [ws.mirror],
                job.checks,
                emit,
                attached,
                writable=writable,
                network=(req.repo, inp.config),
                also=[_with_checks(inp, repo, other) for repo, other in others],
            ) as tools:
                return await self.agents.get(inp.agent).run(job, tools, _collecting(emit, denied))
        except AgentStopped as stopped:
            raise await stopped_early(stopped) from stopped
        finally:
            await self.refusals.collect(req, emit, denied)

    async def _committed_before(
        self, inp: AgentRunInput, ws: Workspace, head: str, emit: EventSink, timeline: Timeline
    ) -> AgentRunResult | None:
        """An earlier attempt of this run committed the agent's work, then its worker died (or lost
        Temporal) before reporting: the work stands, the agent is not run again."""
        first = timeline.committed_by(inp.job.invocation, head)
        if first is None or not await self.workspaces.contains(ws, first):
            return None
        changed, said = await self.workspaces.changes_since(ws, first)
        outcome = AgentOutcome(summary=said or "The agent's change (committed by an earlier attempt).")
        if head not in timeline.agent_commits:
            await emit(AgentFinished(round=inp.job.round, summary=outcome.summary, changed_files=changed, commit=head))
        return AgentRunResult(outcome=outcome, commit=head, changed_files=changed)

    async def _others_committed_before(
        self, inp: AgentRunInput, others: Sequence[tuple[RepoRef, Workspace]], timeline: Timeline, emit: EventSink
    ) -> dict[str, str]:
        """A task over several repos: the other repos where an earlier attempt of this run committed before
        its worker went (their commits come before the task's own), by repo, each head now. They are changed
        whether or not the agent runs again, and each commit is said once (`RepoCommitted`), also when the
        worker went between the commit and saying it."""
        started = timeline.agent_also_heads.get(inp.job.invocation, {})
        found: dict[str, str] = {}
        for repo, other in others:
            first, now = started.get(repo.name), await self.workspaces.head(other)
            if first is None or first == now or not await self.workspaces.contains(other, first):
                continue
            found[repo.name] = now
            if now not in timeline.repo_commits:
                changed, _ = await self.workspaces.changes_since(other, first)
                await emit(RepoCommitted(repo=repo.name, commit=now, changed_files=changed))
        return found

    async def _commit(
        self, req: TaskRequest, ws: Workspace, message: str, trailers: dict[str, str], repo: RepoRef | None = None
    ) -> tuple[str | None, list[str]]:
        """`repo`: the repo of `ws` when it is another repo of a task over several (None: the task's own)."""
        try:
            commit, changed = await self.workspaces.commit_all(ws, message, trailers, refuse=self.secrets)
        except SecretInChange as e:
            await self.gate.worker_refused(
                req,
                WorkerRefusal(
                    source="agent",
                    action="sandbox",
                    outcome="violation",
                    rule="secrets.commit",
                    detail=f"a change adding one of Honk's credentials was not committed ({', '.join(e.files)})",
                ),
            )
            raise
        if commit is not None and not await self.workspaces.publish(ws, repo or req.repo, req.task_id):
            log.warning("could not publish %s's branch to its remote: only this machine can continue it", req.task_id)
        return commit, changed


def _collecting(emit: EventSink, denied: list[AgentToolDenied]) -> EventSink:
    async def collect(*events: AnyEvent) -> None:
        denied.extend(e for e in events if isinstance(e, AgentToolDenied))
        await emit(*events)

    return collect


def _with_checks(inp: AgentRunInput, repo: RepoRef, ws: Workspace) -> OtherWorkspace:
    """Another repo's workspace for the run, with its checks as provisioned (a run scheduled before the
    workflow handed them over has none: its verify tool checks the task's own repo only, as it did)."""
    provisioned = next((o for o in inp.also if o.name == repo.name), None)
    if provisioned is None:
        return OtherWorkspace(repo.name, ws.path, ws.mirror)
    checks, network = provisioned.config.verify, (repo, provisioned.config)
    return OtherWorkspace(repo.name, ws.path, ws.mirror, checks=checks, network=network)
