"""TaskWorkflow in process: the real workflow code on the real Temporal dev server, its activities
faked by name. The fakes answer from a script and tell Honk's store what the real steps would
(`AgentStarted`, `ChecksStarted`, `TaskReady`, ...), so every test can ask whether the workflow's
own status and the store's reading of the events agree.

The fakes stand at the activity boundary (what Temporal hands a worker); nothing of Honk's is patched.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from honk.domain import (
    AgentOutcome,
    ForgeRef,
    MergeResult,
    PullRequestState,
    RepoConfig,
    RepoRef,
    SlackThread,
    TaskRequest,
    TaskState,
    VerifyCommand,
)
from honk.errors import UserFacingError
from honk.events import (
    AgentFinished,
    AgentStarted,
    AnyEvent,
    BuildReady,
    BuildStarted,
    ChangeReviewed,
    CheckFinished,
    ChecksStarted,
    TaskAccepted,
    TaskReady,
    WorkspaceReady,
)
from honk.store import Store
from honk.workflow import policy
from honk.workflow.activities import user_facing
from honk.workflow.records import (
    AgentRunInput,
    AgentRunResult,
    BuildResult,
    CancelRequest,
    CiLogs,
    CiLogsInput,
    FollowUp,
    MergeDecision,
    MergeInput,
    NotifyInput,
    ProvisionInput,
    ProvisionResult,
    RecordInput,
    ReviewInput,
    ReviewResult,
    StepInput,
    TaskInput,
    VerifyResult,
)
from honk.workflow.task_workflow import TaskWorkflow

WAIT_S = 30.0  # a bound, not a pace: every wait below returns as soon as its condition holds (roomy:
# `make test` runs another test process beside this one)

CHECKS = RepoConfig(verify=[VerifyCommand(name="test", run="true")], source="file")
CHANGED = AgentRunResult(outcome=AgentOutcome(summary="changed it", turns=1), commit="c1", changed_files=["a.py"])
PASSED = VerifyResult(passed=True, feedback="", base_commit="base", head_commit="c1")


def failed(feedback: str = "test_add failed: 1 != 2") -> VerifyResult:
    return VerifyResult(passed=False, feedback=feedback, base_commit="base", head_commit="c1")


Answer = Any  # a result record, or an exception to raise


@dataclass
class Script:
    """What each step answers, in order; an empty list means the step's usual success."""

    config: RepoConfig = CHECKS
    max_rounds: int = 3
    agent: list[Answer] = field(default_factory=list)
    verify: list[Answer] = field(default_factory=list)
    review: list[Answer] = field(default_factory=list)
    build: list[Answer] = field(default_factory=list)
    merge: list[Answer] = field(default_factory=list)
    pull_request: list[Answer] = field(default_factory=list)
    ci_logs: list[Answer] = field(default_factory=list)
    verify_reviews: bool = True  # False: verify as a worker from before it reviewed (never fills `review`)


class Fakes:
    """The task's activities, by name, answering from a `Script` and recording what they were given."""

    def __init__(self, script: Script, store: Store) -> None:
        self.script, self.store = script, store
        self.calls: dict[str, list[Any]] = defaultdict(list)
        self.finished: dict[str, int] = defaultdict(int)
        self._gates: dict[str, asyncio.Event] = {}
        self._changed = asyncio.Condition()

    # -- what a test does with them ----------------------------------------------------------
    def hold(self, name: str) -> asyncio.Event:
        """Makes step `name` wait (heartbeating, so it can be cancelled) until the returned event is set."""
        self._gates[name] = gate = asyncio.Event()
        return gate

    async def _held(self, name: str) -> None:
        gate = self._gates.get(name)
        if gate is not None:
            while not gate.is_set():
                activity.heartbeat()
                try:
                    await asyncio.wait_for(gate.wait(), 0.05)
                except TimeoutError:
                    pass

    async def entered(self, name: str, times: int = 1) -> None:
        await self._until(lambda: len(self.calls[name]) >= times, f"{name} called {times}x")

    async def done(self, name: str, times: int = 1) -> None:
        await self._until(lambda: self.finished[name] >= times, f"{name} finished {times}x")

    async def called(self, name: str, where: Callable[[Any], bool], what: str) -> None:
        """Waits for a call of `name` whose input matches (steps after a state change may still run)."""
        await self._until(lambda: any(where(c) for c in self.calls[name]), what)

    async def _until(self, check: Callable[[], bool], what: str) -> None:
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(check), WAIT_S)
            except TimeoutError:
                raise AssertionError(f"timed out waiting for {what}; calls: {dict(self.calls)}") from None

    # -- the steps ---------------------------------------------------------------------------
    async def _step(self, name: str, inp: Any, answers: list[Answer], default: Any, emit: list[AnyEvent]) -> Any:
        self.calls[name].append(inp)
        await self._notify()
        try:
            await self._held(name)
            answer = answers.pop(0) if answers else default
            task_id = inp.request.task_id if hasattr(inp, "request") else inp.task_id
            if emit:
                await self.store.append(task_id, *emit)
            if isinstance(answer, Exception):
                raise answer
            after = self._after(answer)
            if after:
                await self.store.append(task_id, *after)
            return answer
        finally:
            self.finished[name] += 1
            await self._notify()

    @staticmethod
    def _after(answer: Any) -> list[AnyEvent]:
        if isinstance(answer, VerifyResult):
            return [CheckFinished(name="test", passed=answer.passed, duration_s=0.1, distilled=answer.feedback)]
        if isinstance(answer, BuildResult) and answer.ok:
            return [BuildReady(artifacts=answer.artifacts, preview_url=answer.preview_url)]
        if isinstance(answer, ReviewResult):
            return [ChangeReviewed(judge_ok=answer.ok, judge_reason=answer.feedback or "in scope", guard_findings=[])]
        return []

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    @activity.defn(name="record")
    @user_facing
    async def record(self, inp: RecordInput) -> None:
        await self.store.append(inp.task_id, *inp.events)

    @activity.defn(name="notify")
    async def notify(self, inp: NotifyInput) -> None:
        self.calls["notify"].append(inp)
        await self._notify()  # a test may be waiting for what is said (called("notify", …))

    @activity.defn(name="provision")
    @user_facing
    async def provision(self, inp: ProvisionInput) -> ProvisionResult:
        result = ProvisionResult(
            branch=f"honk/{inp.request.task_id}",
            base_commit="base",
            config=self.script.config,
            max_rounds=self.script.max_rounds,
            agent="scripted",
        )
        ready = WorkspaceReady(branch=result.branch, base_commit="base", seconds=0.01)
        return await self._step("provision", inp, [], result, [ready])

    @activity.defn(name="run_agent")
    @user_facing
    async def run_agent(self, inp: AgentRunInput) -> AgentRunResult:
        job = inp.job
        started = AgentStarted(round=job.round, reason=job.reason, invocation=job.invocation, head="base")
        answer = await self._step("run_agent", inp, self.script.agent, CHANGED, [started])
        await self.store.append(
            job.task_id,
            AgentFinished(round=job.round, summary=answer.outcome.summary, changed_files=[], commit=answer.commit),
        )
        return answer

    @activity.defn(name="verify")
    @user_facing
    async def verify(self, inp: StepInput) -> VerifyResult:
        started = ChecksStarted(round=inp.round, names=[c.name for c in inp.config.verify])
        answer: VerifyResult = await self._step("verify", inp, self.script.verify, PASSED, [started])
        if (
            inp.review and answer.passed and answer.review is None and self.script.verify_reviews
        ):  # as the real step: reviewed in it
            self.calls["review"].append(inp)
            review = self.script.review.pop(0) if self.script.review else ReviewResult(ok=True)
            await self.store.append(inp.request.task_id, *self._after(review))
            answer = answer.model_copy(update={"review": review})
        if (then := policy.delivery_after_verify(inp, answer)) is not None:  # as the real activity: delivered in it
            await self._deliver(then)
            answer = answer.model_copy(update={"delivered": True})
            await self._held("verify reporting back")  # delivered, the workflow not told yet (hold() it)
        return answer

    @activity.defn(name="review")
    @user_facing
    async def review(self, inp: ReviewInput) -> ReviewResult:
        return await self._step("review", inp, self.script.review, ReviewResult(ok=True), [])

    @activity.defn(name="build")
    @user_facing
    async def build(self, inp: StepInput) -> BuildResult:
        return await self._step("build", inp, self.script.build, BuildResult(ok=True), [BuildStarted()])

    @activity.defn(name="deliver")
    @user_facing
    async def deliver(self, inp: StepInput) -> None:
        await self._deliver(inp)

    async def _deliver(self, inp: StepInput) -> None:
        ready = TaskReady(commit="c1", summary=inp.summary, diffstat="1 file changed", warnings=inp.warnings)
        await self._step("deliver", inp, [], None, [ready])

    @activity.defn(name="pull_request")
    @user_facing
    async def pull_request(self, inp: ProvisionInput) -> PullRequestState:
        return await self._step("pull_request", inp, self.script.pull_request, PullRequestState(state="open"), [])

    @activity.defn(name="ci_logs")
    @user_facing
    async def ci_logs(self, inp: CiLogsInput) -> CiLogs:
        """By default the failing job's log on the commit Honk pushed last (a fix is Honk's to try)."""
        head = CiLogs(jobs=["test"], feedback="FAILED test_add: 1 != 2", head=inp.commit)
        return await self._step("ci_logs", inp, self.script.ci_logs, head, [])

    @activity.defn(name="merge")
    @user_facing
    async def merge(self, inp: MergeInput) -> MergeResult:
        merged = MergeResult(status="merged", commit="m1", target="main")
        return await self._step("merge", inp, self.script.merge, merged, [])

    @activity.defn(name="cleanup")
    @user_facing
    async def cleanup(self, inp: ProvisionInput) -> None:
        await self._step("cleanup", inp, [], None, [])

    def all(self) -> list[Callable[..., Awaitable[Any]]]:
        return [
            self.record,
            self.notify,
            self.provision,
            self.run_agent,
            self.verify,
            self.review,
            self.build,
            self.deliver,
            self.pull_request,
            self.ci_logs,
            self.merge,
            self.cleanup,
        ]


def refused(message: str) -> UserFacingError:
    return UserFacingError(message)


@dataclass
class Task:
    """One running TaskWorkflow, what its fakes saw, and Honk's store beside it."""

    handle: WorkflowHandle[TaskWorkflow, TaskState]
    fakes: Fakes
    store: Store
    task_id: str

    async def state(self) -> TaskState:
        return (await self.handle.query(TaskWorkflow.status)).state

    async def stored_state(self) -> TaskState:
        view = await self.store.get_task(self.task_id)
        assert view is not None
        return view.state

    async def settles_in(self, state: TaskState) -> None:
        """Waits until the workflow says `state` and Honk's store says the same (they must agree)."""
        deadline = time.monotonic() + WAIT_S
        seen: tuple[TaskState, TaskState] | None = None
        while time.monotonic() < deadline:
            seen = (await self.state(), await self.stored_state())
            if seen == (state, state):
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"wanted {state} in the workflow and the store; (workflow, store) = {seen}")

    async def ends(self, state: TaskState) -> None:
        """The workflow returns `state`, and the store's reading of the events is the same."""
        assert await asyncio.wait_for(self.handle.result(), WAIT_S) == state
        assert await self.stored_state() == state

    async def follow_up(self, text: str, by: str = "ada") -> None:
        await self.handle.signal(TaskWorkflow.follow_up, FollowUp(text=text, by=by))

    async def merge(self, by: str = "bo") -> str:
        return await self.handle.execute_update(TaskWorkflow.merge, MergeDecision(by=by))

    async def cancel(self, by: str = "ada") -> None:
        await self.handle.signal(TaskWorkflow.cancel, CancelRequest(by=by))

    async def events(self) -> list[AnyEvent]:
        return [e.event for e in await self.store.events(self.task_id)]

    async def kinds(self) -> list[str]:
        return [e.kind for e in await self.events()]


class Bench:
    """Starts tasks, each with its fakes and a worker on its own task queue."""

    def __init__(self, client: Client, store: Store) -> None:
        self.client, self.store = client, store

    @asynccontextmanager
    async def task(
        self, script: Script | None = None, *, forge: bool = False, slack: bool = False, text: str = "make add() add"
    ) -> AsyncIterator[Task]:
        queue, task_id = f"wf-{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"
        repo = RepoRef(
            name="calc", url="file:///nowhere", forge=ForgeRef(kind="github", project="o/calc") if forge else None
        )
        req = TaskRequest(
            task_id=task_id,
            request_id=task_id,
            repo=repo,
            text=text,
            requested_by="ada",
            slack=SlackThread(channel="C1", thread_ts="1.0") if slack else None,
        )
        await self.store.add_repo(repo)
        await self.store.create_task(req, branch=f"honk/{task_id}")
        await self.store.append(task_id, TaskAccepted(repo="calc", text=text, requested_by="ada", agent="scripted"))
        fakes = Fakes(script or Script(), self.store)
        async with Worker(self.client, task_queue=queue, workflows=[TaskWorkflow], activities=fakes.all()):
            handle = await self.client.start_workflow(
                TaskWorkflow.run,
                TaskInput(request=req, heartbeat_timeout_s=0.5, forge_poll_s=0.05),
                id=task_id,
                task_queue=queue,
            )
            task = Task(handle=handle, fakes=fakes, store=self.store, task_id=task_id)
            try:
                yield task
            finally:
                if (await handle.describe()).status == WorkflowExecutionStatus.RUNNING:
                    await handle.terminate("the test is over")


async def connect(address: str) -> Client:
    return await Client.connect(address, data_converter=pydantic_data_converter)


async def open_store(root: Path) -> Store:
    store = Store(f"sqlite+aiosqlite:///{root / 'honk.db'}")
    await store.create_schema()
    return store
