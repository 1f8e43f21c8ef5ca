"""The task's steps as Temporal activities: thin, each one record in and one record out, handed to the
step (`honk.workflow.steps`) that does it.

A UserFacingError becomes a non-retryable ApplicationError whose message the workflow shows as the
task's failure reason; any other exception is a bug and is retried by Temporal. Long steps heartbeat,
so a dead worker is noticed (and its step moved) within the heartbeat timeout.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from honk.domain import DeliveryOutcome, DeployOutcome, MergeResult, PullRequestState
from honk.errors import UserFacingError
from honk.events import AnyEvent
from honk.forge.registry import Forges
from honk.metrics import WorkerMetrics
from honk.protocols import EventSink, Notifier, RepoFiles, Workspaces
from honk.route import ROUTE_EVENTS
from honk.store import Store
from honk.workflow import policy
from honk.workflow.pokes import Followed, parents, poke_parents
from honk.workflow.records import (
    AgentRunInput,
    AgentRunResult,
    BuildResult,
    CiLogs,
    CiLogsInput,
    ClosePullRequestInput,
    DeliverInput,
    DeployInput,
    MergeInput,
    NotifyInput,
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
    ReviewResult,
    StepInput,
    VerifyResult,
)
from honk.workflow.steps.agent_run import AgentRunner
from honk.workflow.steps.app_delivery import AppDelivery
from honk.workflow.steps.ci_failure import CiFailures
from honk.workflow.steps.deliver import Delivery
from honk.workflow.steps.deploying import Deploying
from honk.workflow.steps.merge import Merger
from honk.workflow.steps.preview import Previewing
from honk.workflow.steps.provision import Provisioner
from honk.workflow.steps.refresh import Refresher
from honk.workflow.steps.revert import Reverter
from honk.workflow.steps.verification import Verification

if TYPE_CHECKING:  # it imports this module's helpers (heartbeating, user_facing)
    from honk.workflow.steps.pull_review import PullReviewSteps

log = logging.getLogger("honk.worker")
P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Steps:
    """What the activities hand their work to; built by the worker's composition root."""

    provisioner: Provisioner
    agent_runner: AgentRunner
    verification: Verification
    delivery: Delivery
    merger: Merger
    workspaces: Workspaces
    forges: Forges
    areas: Path  # each task's own directory (sandbox homes, specs), removed when the task ends
    app_delivery: AppDelivery
    deploying: Deploying
    reverter: Reverter
    ci_failures: CiFailures
    refresher: Refresher
    pull_reviews: PullReviewSteps  # `@honk review`: its own workflow's activities (honk.workflow.pull_review)
    previewing: Previewing | None = None  # None: this worker runs no previews
    # What a repo's branch holds, read from this worker's mirrors (a campaign's files selector); not used by
    # the task's own activities: the campaign's steps are given it (None: a worker built without one).
    repo_files: RepoFiles | None = None


@asynccontextmanager
async def timed(metrics: object, step: str) -> AsyncIterator[None]:
    """The step's time in honk_step_seconds, by outcome: ok, refused (a UserFacingError), or error."""
    started, outcome = time.monotonic(), "error"
    try:
        yield
        outcome = "ok"
    except UserFacingError:
        outcome = "refused"
        raise
    finally:
        if isinstance(metrics, WorkerMetrics):
            metrics.steps.labels(step, outcome).observe(time.monotonic() - started)


def user_facing(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            async with timed(getattr(args[0], "metrics", None) if args else None, fn.__name__):
                return await fn(*args, **kwargs)
        except UserFacingError as e:
            raise ApplicationError(e.message, type="UserFacingError", non_retryable=True) from e

    return wrapper


def _moves_on(events: list[AnyEvent] | tuple[AnyEvent, ...]) -> bool:
    """Whether the events move the task or a step of its route: the thread is then told."""
    return any(e.moves_to is not None or isinstance(e, ROUTE_EVENTS) for e in events)


@asynccontextmanager
async def heartbeating() -> AsyncIterator[None]:
    """Heartbeats while a long step runs, so a dead worker is noticed and cancellation arrives."""
    timeout = activity.info().heartbeat_timeout
    every = max(0.5, timeout.total_seconds() / 4) if timeout else 10.0

    async def beat() -> None:
        # Not at once: the server knows the step started, and a heartbeat is a write of the workflow's state
        # there (one per step was a fifth of the Temporal server's CPU per task). The heartbeat timeout runs
        # from the start, so the first beat, a quarter of it later, still comes in time.
        while True:
            await asyncio.sleep(every)
            activity.heartbeat()

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()


class TaskActivities:
    def __init__(
        self,
        steps: Steps,
        store: Store,
        notifier: Notifier | None = None,
        metrics: WorkerMetrics | None = None,
        client: Client | None = None,
    ) -> None:
        """`client`: to poke the workflows following a task as it moves (a campaign, a best-of-N group)."""
        self.steps, self.store, self.notifier, self.metrics = steps, store, notifier, metrics
        self.client = client
        self._telling: set[asyncio.Task[None]] = set()

    def _emitter(self, task_id: str, followed: Followed | None = None) -> EventSink:
        """`followed`: the task's request, where a step records an event its parent workflows wait for."""

        async def emit(*events: AnyEvent) -> None:
            await self.store.append(task_id, *events)
            if followed is not None:
                self._poke(followed, events)
            if self.notifier and _moves_on(events):
                await self.notifier.status(task_id)  # best-effort and throttled

        return emit

    @activity.defn
    @user_facing
    async def record(self, inp: RecordInput) -> None:
        await self.store.append(inp.task_id, *inp.events)
        self._poke(inp, inp.events)
        if self.notifier and _moves_on(inp.events):
            # Told in the background: the workflow's record step (short, retried) must not wait on
            # Slack, nor be retried, recording its events twice, because Slack was slow.
            told = asyncio.get_running_loop().create_task(self._tell(self.notifier, inp.task_id))
            self._telling.add(told)
            told.add_done_callback(self._telling.discard)

    def _poke(self, followed: Followed, events: list[AnyEvent] | tuple[AnyEvent, ...]) -> None:
        """Pokes the task's parent workflows (a campaign, a best-of-N group) when `events` move its state: in
        the background, as the notifier is told, so a slow Temporal never retries (and repeats) a record."""
        if self.client is None or not parents(followed) or all(e.moves_to is None for e in events):
            return
        poked = asyncio.get_running_loop().create_task(poke_parents(self.client, followed))
        self._telling.add(poked)
        poked.add_done_callback(self._telling.discard)

    @staticmethod
    async def _tell(notifier: Notifier, task_id: str) -> None:
        try:
            await notifier.status(task_id)
        except Exception:  # best-effort, like every progress update; nobody awaits this one
            log.exception("progress update of %s", task_id)

    @activity.defn
    @user_facing
    async def notify(self, inp: NotifyInput) -> None:
        if self.notifier is None:
            return
        if inp.note:
            await self.notifier.note(inp.request, inp.detail, inp.asked_too)
        else:
            await self.notifier.milestone(inp.request, inp.detail)

    @activity.defn
    @user_facing
    async def provision(self, inp: ProvisionInput) -> ProvisionResult:
        async with heartbeating():
            queue = activity.info().task_queue
            return await self.steps.provisioner.provision(inp.request, queue, self._emitter(inp.request.task_id))

    @activity.defn
    @user_facing
    async def run_agent(self, inp: AgentRunInput) -> AgentRunResult:
        async with heartbeating():
            attempt = activity.info().attempt
            return await self.steps.agent_runner.run(inp, attempt, self._emitter(inp.request.task_id))

    @activity.defn
    @user_facing
    async def verify(self, inp: StepInput) -> VerifyResult:
        async with heartbeating():
            report = await self.steps.verification.verify(inp, self._emitter(inp.request.task_id))
            then = policy.delivery_after_verify(inp, report)
            if then is None:
                return report
            # What the deliver step would do next: one activity where there were two, timed as that step too.
            async with timed(self.metrics, "deliver"):
                await self.steps.delivery.deliver(then, self._emitter(inp.request.task_id, inp.request))
            return report.model_copy(update={"delivered": True})

    @activity.defn
    @user_facing
    async def review(self, inp: ReviewInput) -> ReviewResult:
        async with heartbeating():
            return await self.steps.verification.review(inp, self._emitter(inp.request.task_id))

    @activity.defn
    @user_facing
    async def build(self, inp: StepInput) -> BuildResult:
        async with heartbeating():
            return await self.steps.verification.build(inp, self._emitter(inp.request.task_id))

    @activity.defn
    @user_facing
    async def preview(self, inp: PreviewInput) -> PreviewResult:
        """The task's version running at its own origin, and before/after screenshots of its routes."""
        if self.steps.previewing is None:
            return PreviewResult()
        async with heartbeating():
            return await self.steps.previewing.preview(inp, self._emitter(inp.request.task_id))

    @activity.defn
    @user_facing
    async def wake_preview(self, inp: PreviewInput) -> None:
        """Someone opened the task's stopped preview: start it again (on whichever worker takes this)."""
        if self.steps.previewing is not None:
            async with heartbeating():
                await self.steps.previewing.wake(inp, self._emitter(inp.request.task_id))

    @activity.defn
    @user_facing
    async def deliver(self, inp: StepInput) -> None:
        async with heartbeating():  # pushes and forge calls can take a while
            await self.steps.delivery.deliver(inp, self._emitter(inp.request.task_id, inp.request))

    @activity.defn
    @user_facing
    async def deliver_app(self, inp: DeliverInput) -> DeliveryOutcome:
        """The green build to the phone (`[deliver]`): an install link, or the team's upload's."""
        async with heartbeating():
            return await self.steps.app_delivery.deliver(inp, self._emitter(inp.request.task_id))

    @activity.defn
    @user_facing
    async def deliver_wait(self, inp: DeliverInput) -> DeliveryOutcome:
        """Asks the team's service again about a build it was still processing."""
        async with heartbeating():
            return await self.steps.app_delivery.wait(inp, self._emitter(inp.request.task_id))

    @activity.defn
    @user_facing
    async def deploy_allowed(self, inp: DeployInput) -> bool:
        """Whether the merger may deploy now (the access policy's deployers and freezes); held when not."""
        return await self.steps.deploying.allowed(inp, self._emitter(inp.request.task_id))

    @activity.defn
    @user_facing
    async def deploy(self, inp: DeployInput) -> DeployOutcome:
        """`[deploy]` on the merged commit, then its health check."""
        async with heartbeating():
            return await self.steps.deploying.deploy(inp, self._emitter(inp.request.task_id))

    @activity.defn
    @user_facing
    async def revert(self, inp: RevertInput) -> RevertResult:
        """A revert task's change: the revert of the merged commit, made without an agent."""
        async with heartbeating():
            return await self.steps.reverter.revert(inp, self._emitter(inp.request.task_id))

    @activity.defn
    @user_facing
    async def pull_request(self, inp: ProvisionInput) -> PullRequestState:
        """Whether the task's pull request is still open on its forge (someone may close or merge it there)."""
        async with heartbeating():
            timeline = await self.store.timeline(inp.request.task_id)
            return await self.steps.forges.of(inp.request.repo).state(timeline.pull_request if timeline else None)

    @activity.defn
    @user_facing
    async def close_pull_request(self, inp: ClosePullRequestInput) -> PullRequestState:
        """Closes the cancelled task's pull request on its forge with the comment saying why (a campaign
        cancelled with `on_cancel="close"`); one closed or merged meanwhile is left as it is."""
        async with heartbeating():
            timeline = await self.store.timeline(inp.request.task_id)
            pull_request = timeline.pull_request if timeline else None
            return await self.steps.forges.of(inp.request.repo).close(pull_request, inp.comment)

    @activity.defn
    @user_facing
    async def ci_logs(self, inp: CiLogsInput) -> CiLogs:
        """What failed in the forge's CI on the task's pull request, distilled for the agent."""
        async with heartbeating():
            return await self.steps.ci_failures.logs(inp)

    @activity.defn
    @user_facing
    async def merge(self, inp: MergeInput) -> MergeResult:
        async with heartbeating():
            return await self.steps.merger.merge(inp, self._emitter(inp.request.task_id))

    @activity.defn
    @user_facing
    async def cleanup(self, inp: ProvisionInput) -> None:
        if self.steps.previewing is not None:  # before its workspace goes; on another worker, its reaper does
            await self.steps.previewing.stop(inp.request.task_id, inp.request.repo)
        await self.steps.workspaces.remove(inp.request.task_id, inp.request.repo)
        for other in inp.request.also:  # a task over several repos: every workspace goes, none is orphaned
            await self.steps.workspaces.remove(inp.request.task_id, other, key=inp.request.workspace_key(other))
        shutil.rmtree(self.steps.areas / inp.request.task_id, ignore_errors=True)

    def all(self) -> list[Callable[..., Awaitable[object]]]:
        """Every activity, as a worker registers them."""
        return [
            self.record,
            self.provision,
            self.run_agent,
            self.verify,
            self.review,
            self.build,
            self.preview,
            self.wake_preview,
            self.deliver,
            self.deliver_app,
            self.deliver_wait,
            self.deploy_allowed,
            self.deploy,
            self.revert,
            self.merge,
            self.cleanup,
            self.notify,
            self.pull_request,
            self.close_pull_request,
            self.ci_logs,
            self.refresh,
        ] + self.steps.pull_reviews.all()

    @activity.defn
    @user_facing
    async def refresh(self, inp: RefreshInput) -> RefreshResult:
        """The moved target brought into a waiting task's branch, checked and pushed."""
        async with heartbeating():
            return await self.steps.refresher.refresh(inp, self._emitter(inp.request.task_id))
