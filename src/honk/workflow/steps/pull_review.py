"""`@honk review`: the pull request's head checked out on no branch, the repo's agent reading it read-only
(plan mode: the workspace mounted read-only, edits refused by the tool policy) with the review brief, its
answer read bounded, and the review posted through the forge conversation. Nothing is committed or pushed,
and no task is made: the review on the pull request is the whole outcome.

The agent, its budget, its allowed commands and its network come from the TARGET branch's `.honk.toml`,
never the pull request's: whoever opened it (a fork, anyone) must not choose how its reviewer runs.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio import activity

from honk.agents import AgentRegistry, AgentStopped
from honk.domain import AgentJob, AgentOutcome, Budget, Discussion, RepoConfig, Workspace, effective_budget
from honk.errors import UserFacingError
from honk.events import AgentToolDenied, AnyEvent
from honk.gate import Gate
from honk.protocols import EventSink, ForgeConversation, Workspaces
from honk.verify.config import load_repo_config
from honk.workflow import policy
from honk.workflow.activities import heartbeating, user_facing
from honk.workflow.records import PullReviewInput, PullReviewPost, PullReviewRan
from honk.workflow.steps.tools import ToolsForRuns
from honk.workspace.git import GitError

log = logging.getLogger("honk.worker")
MAX_CHANGED_FILES = 1_000


class PullReviewer:
    def __init__(
        self,
        workspaces: Workspaces,
        agents: AgentRegistry,
        tools: ToolsForRuns,
        conversation: ForgeConversation,
        gate: Gate,
        areas: Path,
        default_agent: str,
        budget_defaults: Budget,
    ) -> None:
        self.workspaces, self.agents, self.tools, self.conversation = workspaces, agents, tools, conversation
        self.gate, self.areas, self.default_agent, self.budget_defaults = gate, areas, default_agent, budget_defaults

    async def run(self, inp: PullReviewInput, emit: EventSink) -> PullReviewRan:
        repo, key = inp.repo, policy.review_id(inp)  # also its working copy's and sandbox area's name
        pr = await self.conversation.discussion(repo, inp.number)
        if not pr.pull_request:
            raise UserFacingError(f"#{inp.number} is an issue: `@honk review` reviews pull requests.")
        if pr.state != "open":
            raise UserFacingError(f"Pull request #{inp.number} is {pr.state}: Honk reviews open pull requests.")
        await self.workspaces.fetch(repo)
        target = pr.base_branch or repo.branch
        ws = await self.workspaces.checkout_at(key, repo, await self.workspaces.remote_head(repo, target))
        try:
            config = load_repo_config(ws.path)  # the target's, before the pull request's head is checked out
            ws = await self._at_head(key, inp)
            base = await self.workspaces.merge_base(ws, target)
            changed, _ = await self.workspaces.changes_since(ws, base)
            diff = await self.workspaces.diff(ws, base)
            name, outcome = await self._review(key, inp, pr, ws, config, base, changed[:MAX_CHANGED_FILES], diff, emit)
        finally:
            await self.workspaces.drop(key, repo)
            shutil.rmtree(self.areas / key, ignore_errors=True)
        # A planning agent answers with a plan: the brief asks it to put the JSON in the plan's summary.
        said = outcome.plan.summary if outcome.plan is not None else outcome.summary
        return PullReviewRan(
            answer=policy.parse_review_answer(said),
            changed_files=changed[:MAX_CHANGED_FILES],
            agent=name,
            model=outcome.model,
            cost_usd=outcome.cost_usd,
        )

    async def _at_head(self, key: str, inp: PullReviewInput) -> Workspace:
        try:
            return await self.workspaces.checkout_at(key, inp.repo, inp.head_sha)
        except GitError as e:
            raise UserFacingError(
                f"Commit {inp.head_sha[:12]} of pull request #{inp.number} is on no branch of {inp.repo.name}'s "
                "remote (a pull request from a fork?): Honk reviews pull requests whose branch is in the repo."
            ) from e

    async def _review(
        self,
        key: str,
        inp: PullReviewInput,
        pr: Discussion,
        ws: Workspace,
        config: RepoConfig,
        base: str,
        changed: list[str],
        diff: str,
        emit: EventSink,
    ) -> tuple[str, AgentOutcome]:
        name = config.agent.name or self.default_agent
        agent = self.agents.get(name)
        if not agent.plans:
            raise UserFacingError(
                f"The repo's agent ({name}) cannot review: a review reads the code without changing it, and the "
                f"{name} agent only runs its command. Set an agent that plans (claude) in the target branch's "
                ".honk.toml."
            )
        await self.gate.check_agent(
            inp.repo.name, name, config.agent.model, requested_by=inp.requested_by, front_door="forge"
        )
        budget = effective_budget(self.budget_defaults, config.agent.budget, self.gate.policy.budget_cap(inp.repo.name))
        job = AgentJob(
            task_id=key,
            prompt=policy.review_prompt_for_pr(pr, base, inp.head_sha, changed, diff),
            request=f"Review pull request #{inp.number} of {inp.repo.name}.",
            reason="review",
            round=0,
            invocation=0,
            model=config.agent.model,
            settings=config.agent.model_copy(update=budget.model_dump()),
            repo=inp.repo.name,
            mode="plan",
        )
        try:
            async with self.tools.run(
                key, ws.path, [ws.mirror], [], emit, writable=False, network=(inp.repo, config)
            ) as t:
                return name, await agent.run(job, t, emit)
        except AgentStopped as stopped:
            raise UserFacingError(f"{stopped.message[:-1]} while reviewing; nothing was posted.") from stopped


async def _logged(*events: AnyEvent) -> None:
    """A review has no task to record its progress on: what the tool policy refused is logged."""
    for e in events:
        if isinstance(e, AgentToolDenied):
            log.info("review agent refused %s: %s", e.tool, e.reason)


class PullReviewSteps:
    """The review workflow's activities; the worker builds one and registers `all()`."""

    def __init__(self, reviewer: PullReviewer, conversation: ForgeConversation) -> None:
        self.reviewer, self.conversation = reviewer, conversation

    @activity.defn(name="pull_review_run")
    @user_facing
    async def run(self, inp: PullReviewInput) -> PullReviewRan:
        async with heartbeating():
            return await self.reviewer.run(inp, _logged)

    @activity.defn(name="pull_review_post")
    @user_facing
    async def post(self, inp: PullReviewPost) -> str | None:
        if inp.as_comment:
            return await self.conversation.comment(inp.repo, inp.number, inp.body)
        return await self.conversation.review(inp.repo, inp.number, inp.commit, inp.body, inp.comments)

    def all(self) -> list[Callable[..., Awaitable[object]]]:
        return [self.run, self.post]
