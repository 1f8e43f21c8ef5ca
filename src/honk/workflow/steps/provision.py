"""Provisioning a task: its workspace from the repo's mirror, its `.honk.toml`, its agent (which the
policy may still refuse) and its budget, decided once; then the repo's setup command, confined."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from honk.agents import AgentRegistry
from honk.domain import Budget, RepoConfig, RepoRef, TaskRequest, Workspace, effective_budget
from honk.egress.policies import EgressPolicies
from honk.errors import UserFacingError
from honk.events import SafetyWarning, WorkspaceReady
from honk.gate import Gate
from honk.protocols import EventSink, Workspaces
from honk.sandbox import Sandbox
from honk.verify.config import load_repo_config
from honk.workflow import policy
from honk.workflow.records import ProvisionResult, RepoProvisioned
from honk.workflow.steps.refusals import Refusals


class Provisioner:
    def __init__(
        self,
        workspaces: Workspaces,
        agents: AgentRegistry,
        gate: Gate,
        sandbox: Sandbox,
        refusals: Refusals,
        areas: Path,
        logs: Path,
        default_agent: str,
        max_rounds: int,
        budget_defaults: Budget,
        egress: EgressPolicies | None = None,
    ) -> None:
        self.workspaces, self.agents, self.gate, self.sandbox = workspaces, agents, gate, sandbox
        self.refusals, self.areas, self.logs = refusals, areas, logs
        self.default_agent, self.max_rounds, self.budget_defaults = default_agent, max_rounds, budget_defaults
        self.egress = egress

    async def provision(self, task: TaskRequest, queue: str, emit: EventSink) -> ProvisionResult:
        """`queue`: the task queue this worker took the step from (a repo with its own is set up there)."""
        started, repo = time.monotonic(), task.repo
        await self.workspaces.fetch(repo)
        at_target = await self.workspaces.remote_head(repo, repo.branch)
        # Provisioning comes before any commit of the task (a retried or re-queued provision too): `new`
        # skips asking the remote for a published branch, and hands the workspace back clean.
        ws = await self.workspaces.ensure(task.task_id, repo, repo.branch, new=True, base_at=at_target)
        config = load_repo_config(ws.path)
        target = policy.merge_target(repo, config)
        if target != repo.branch:  # the base branch was checked above
            at_target = await self.workspaces.remote_head(repo, target)
        agent = task.agent or config.agent.name or self.default_agent
        chosen = self.agents.get(agent)  # an unknown or unconfigured agent fails here, before any work
        if (task.plan or config.agent.plan) and not chosen.plans:
            asked = "This task asks" if task.plan else "The repo's .honk.toml (`[agent] plan = true`) asks"
            raise UserFacingError(
                f"{asked} for a plan first, but the {agent} agent cannot plan: it runs its command, which "
                "changes files. Ask without a plan, or with an agent that plans (claude, scripted)."
            )
        config = self._budgeted(task, config)  # pure: deciding it before the policy's check changes nothing
        await self._admit_and_setup(task, ws, config, agent, queue, emit)
        also = [await self._other(task, other, agent, queue, emit) for other in task.also]
        # A branch just started at the target's commit (ws.at: ensure put it there) has that commit for its
        # merge base: no `merge-base` run. A setup command may have committed, so then git is asked.
        head = ws.at if not config.setup else None
        base = head if head is not None and head == at_target else await self.workspaces.merge_base(ws, target)
        await emit(WorkspaceReady(branch=ws.branch, base_commit=base, seconds=round(time.monotonic() - started, 3)))
        return ProvisionResult(
            branch=ws.branch,
            base_commit=base,
            head=head,
            config=config,
            max_rounds=config.max_rounds or self.max_rounds,
            agent=agent,
            also=also,
        )

    async def _other(
        self, task: TaskRequest, repo: RepoRef, agent: str, queue: str, emit: EventSink
    ) -> RepoProvisioned:
        """Another repo of a task over several: its workspace beside the primary's, on the same branch name,
        its own `.honk.toml` (checks, target, setup); the primary's agent, which its policy may refuse too.
        A failure here fails the task, and the task's cleanup removes every workspace made so far."""
        started = time.monotonic()
        await self.workspaces.fetch(repo)
        await self.workspaces.remote_head(repo, repo.branch)
        ws = await self.workspaces.ensure(task.task_id, repo, repo.branch, key=task.workspace_key(repo))
        await self.workspaces.reset(ws)
        try:
            config = load_repo_config(ws.path)
        except UserFacingError as e:  # the primary's problem needs no name; another repo's does
            raise UserFacingError(f"In repo {repo.name}: {e.message}") from e
        target = policy.merge_target(repo, config)
        await self.workspaces.remote_head(repo, target)
        await self._admit_and_setup(task, ws, config, agent, queue, emit, repo)
        base = await self.workspaces.merge_base(ws, target)
        seconds = round(time.monotonic() - started, 3)
        await emit(WorkspaceReady(branch=ws.branch, base_commit=base, seconds=seconds, repo=repo.name))
        return RepoProvisioned(name=repo.name, branch=ws.branch, base_commit=base, config=config)

    async def _admit_and_setup(
        self,
        task: TaskRequest,
        ws: Workspace,
        config: RepoConfig,
        agent: str,
        queue: str,
        emit: EventSink,
        repo: RepoRef | None = None,
    ) -> None:
        """A repo's agent and model past the policy, its egress checked, then its setup command if it runs
        on this queue. `repo`: another repo of a task over several (None: the task's own, which alone
        warns of a weak sandbox, after its checks and before its setup)."""
        ref = repo or task.repo
        await self.gate.check_agent(
            ref.name,
            agent,
            task.model or config.agent.model,
            requested_by=task.requested_by,
            front_door=task.front_door,
            task_id=task.task_id,
        )
        if self.egress is not None:  # every host within the ceiling, every secret set: before any sandbox
            await self.egress.check(ref, config, ws.path)
        if repo is None and (warning := self.sandbox.warning()) is not None:
            await emit(SafetyWarning(text=warning))
        if config.setup and not (config.queue and config.queue != queue):  # else: on the repo's own machines
            await self._setup(task, ws, config, emit, repo)

    def _budgeted(self, task: TaskRequest, config: RepoConfig) -> RepoConfig:
        """The task's budget, decided once: the repo's, else the server's defaults, capped by the policy
        and by the request's own cap (a campaign's share of its budget)."""
        budget = effective_budget(
            self.budget_defaults, config.agent.budget, self.gate.policy.budget_cap(task.repo.name)
        )
        if task.budget_cap is not None:
            budget = budget.capped(task.budget_cap)
        return config.model_copy(update={"agent": config.agent.model_copy(update=budget.model_dump())})

    async def _setup(
        self, task: TaskRequest, ws: Workspace, config: RepoConfig, emit: EventSink, repo: RepoRef | None = None
    ) -> None:
        """`repo`: another repo of a task over several (None: the task's own): its secrets, its log."""
        assert config.setup is not None
        network, variables = None, {}
        if self.egress is not None:  # variables: to the process only
            network, variables = await self.egress.grant(repo or task.repo, config, "setup")
        area = self.areas / task.task_id
        # Setup holding secrets as variables gets a HOME of its own, removed after: a tool that writes its
        # credentials down (~/.npmrc, ~/.netrc) leaves them nowhere the agent's sandbox will see.
        home = area / "setup-home" if variables else None
        launcher = self.sandbox.launcher(area, ws.path, [ws.mirror], "setup", egress=network, home=home)
        try:
            res = await launcher.run(
                ["bash", "-c", config.setup],
                timeout_s=config.setup_timeout_s,
                log=self.logs / task.task_id / (f"setup-{repo.name}.log" if repo else "setup.log"),
                env=variables,
            )
        finally:
            launcher.close()
            if home is not None:
                shutil.rmtree(home, ignore_errors=True)
            await self.refusals.collect(task, emit)
        if not res.ok:
            tail = "\n".join(res.output.strip().splitlines()[-10:])
            whose = f"Repo {repo.name}'s" if repo else "The repo's"
            raise UserFacingError(f"{whose} setup command `{config.setup}` failed:\n{tail}")
