"""Typed records that cross Honk's boundaries (front doors, workflow, activities, store), and the
vocabulary they speak: every name a boundary shares is defined here, once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

MAX_REQUEST_CHARS = 20_000
_T = TypeVar("_T")
_N = TypeVar("_N", int, float)

# -- vocabulary ---------------------------------------------------------------------------------
FrontDoor = Literal["api", "cli", "web", "slack"]
# Who an audit entry speaks for: a front door, or the worker acting on a task.
Door = Literal["api", "cli", "web", "slack", "worker"]
# Why an agent runs: the request, the checks' feedback, a follow-up, main moving under it, a review.
AgentReason = Literal["request", "check_feedback", "follow_up", "main_moved", "review"]
# What people ask of a task.
Action = Literal["request", "follow_up", "merge", "cancel"]
AuditAction = Literal["request", "follow_up", "merge", "cancel", "sandbox", "setup_network", "agent_tool"]
AuditOutcome = Literal["ok", "refused", "violation", "allowed"]
# What the sandbox refused, and which kind of process it was running.
ViolationKind = Literal["write_outside", "hidden_path", "network", "process_limit", "memory_limit", "time_limit"]
SandboxMode = Literal["bwrap", "off"]
# What a confined process may reach: nothing, the model API (through the key proxy Honk binds in),
# or the worker's whole network (a repo's setup, when the operator allows it).
Network = Literal["none", "model", "full"]
LogFormat = Literal["text", "json"]
ForgeKind = Literal["github", "gitlab"]
MergeMode = Literal["merge", "fast-forward"]
MergeMethod = Literal["merge", "squash", "rebase"]
# Why a forge refused a merge, for a workflow that wants to react (wait for checks, re-push...).
RefusalReason = Literal["checks", "review", "head_changed", "conflict", "draft", "closed", "other"]
# A task's pull request as the forge shows it ("none": the repo has no forge, or no pull request yet).
PullRequestStatus = Literal["none", "open", "closed", "merged"]
# What a merge came to: landed, or why not (the task goes back to the agent or to review).
LandStatus = Literal["merged", "conflict", "checks_failed", "kept_moving", "refused"]
SlackCommandName = Literal["help", "list", "status", "use"]
PolicyPeople = Literal["requesters", "mergers"]


class Record(BaseModel):
    """A typed record that crosses a boundary: frozen, and unknown fields are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Carried(Record):
    """A record that travels in workflow history (a step's input or result, or part of one). Tasks
    wait for days, across deploys: a field a later version dropped is ignored when an older task's
    history replays (fields are only ever added with defaults)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class TaskState(StrEnum):
    queued = "queued"
    provisioning = "provisioning"
    working = "working"  # the agent is editing
    verifying = "verifying"
    building = "building"
    ready = "ready"  # delivered, waiting for a person
    merging = "merging"
    merged = "merged"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (TaskState.merged, TaskState.failed, TaskState.cancelled)


def next_state(state: TaskState, event: object) -> TaskState:
    """The one way a task's state changes, in the workflow and in the store. `event` is an event of
    `honk.events` (or, in the workflow, the class of one a step is about to record): its `moves_to`
    says where the task is once it happened, None leaving it where it was. An ended task stays ended."""
    moves_to = getattr(event, "moves_to", None)
    if state.terminal or moves_to is None:
        return state
    if not isinstance(moves_to, TaskState):
        raise TypeError(f"{event!r} names no task state to move to")
    return moves_to


def fold_states(events: Iterable[object], state: TaskState = TaskState.queued) -> TaskState:
    for event in events:
        state = next_state(state, event)
    return state


class ForgeRef(Carried):
    """Where a repo lives on a forge; the credentials are the workers' settings, never stored."""

    kind: ForgeKind
    project: str  # GitHub "owner/name"; GitLab "group/name" or its numeric id
    api_url: str | None = None  # None: github.com's or gitlab.com's API


class RepoRef(Carried):
    name: str
    url: str
    branch: str = "main"
    forge: ForgeRef | None = None  # None: a plain git remote, merged by Honk's own push


class SlackThread(Carried):
    """Where a task talks back in Slack: its thread, and the status message updated in place."""

    channel: str
    thread_ts: str
    status_ts: str | None = None


class TaskRequest(Carried):
    """What a front door hands to the workflow: who asked what of which repo."""

    task_id: str
    request_id: str
    repo: RepoRef
    text: str = Field(min_length=1, max_length=MAX_REQUEST_CHARS)
    requested_by: str
    agent: str | None = None
    model: str | None = None
    front_door: FrontDoor = "api"
    slack: SlackThread | None = None


class VerifyCommand(Carried):
    name: str
    run: str
    timeout_s: float = 600.0


class BuildSpec(Carried):
    run: str
    artifacts: list[str] = []
    preview_dir: str | None = None
    timeout_s: float = 900.0


class AgentSettings(Carried):
    """The `[agent]` table of `.honk.toml`: which agent a repo uses by default, and its inputs."""

    name: str | None = None
    model: str | None = None
    # `command` agent: argv template; `{prompt}` is replaced by the instructions as one argument.
    command: str | None = None
    # `scripted` agent: path (inside the repo) of the scenario file.
    scenario: str | None = None
    # Budgets; None means the server's default.
    timeout_s: float | None = None
    max_turns: int | None = None
    max_cost_usd: float | None = None

    @property
    def budget(self) -> Budget:
        return Budget(max_turns=self.max_turns, max_cost_usd=self.max_cost_usd, timeout_s=self.timeout_s)

    # Shell commands (prefixes) the agent may run besides Honk's verify tool.
    allow: list[str] = []


class RepoConfig(Carried):
    verify: list[VerifyCommand] = []
    build: BuildSpec | None = None
    setup: str | None = None
    setup_timeout_s: float = 900.0
    # Hosts the setup phase needs (dependency installs). It gets the network only where the operator
    # allows it (HONK_SANDBOX_SETUP_NETWORK); the hosts are recorded, not enforced. Every other phase is offline.
    setup_network: list[str] = []
    merge_target: str | None = None
    merge_mode: MergeMode = "merge"
    max_rounds: int | None = Field(default=None, ge=1, le=50)
    agent: AgentSettings = AgentSettings()
    # The Temporal task queue whose workers do this repo's work (e.g. macOS machines for an Xcode
    # build); None: the server's default queue.
    queue: str | None = None
    # "file" when read from .honk.toml, "detected" when inferred from the repo's contents.
    source: Literal["file", "detected"] = "detected"


class CheckResult(Carried):
    name: str
    command: str
    passed: bool
    exit_code: int | None
    timed_out: bool = False
    duration_s: float
    distilled: str = ""  # one line on success; failing ids, file:line, error lines on failure
    log_path: str | None = None


class VerifyReport(Record):
    checks: list[CheckResult] = []
    base_commit: str = ""  # the target-branch commit the verified branch contains
    head_commit: str = ""

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def feedback(self) -> str:
        """The distilled failures, as the agent is shown them."""
        failed = [c for c in self.checks if not c.passed]
        return "\n\n".join(f"## {c.name} failed (`{c.command}`)\n{c.distilled}" for c in failed)


class Artifact(Carried):
    name: str
    size: int


DEFAULT_AGENT_TIMEOUT_S = 1800.0


class Budget(Carried):
    """What a task's agent runs may spend, all runs together; None: no limit of that kind."""

    max_turns: int | None = None
    max_cost_usd: float | None = None
    timeout_s: float | None = None

    def or_else(self, fallback: Budget) -> Budget:
        """This budget, with `fallback`'s limit wherever this one sets none."""
        return Budget(
            max_turns=_first(self.max_turns, fallback.max_turns),
            max_cost_usd=_first(self.max_cost_usd, fallback.max_cost_usd),
            timeout_s=_first(self.timeout_s, fallback.timeout_s),
        )

    def capped(self, cap: Budget) -> Budget:
        """The smaller limit of each kind; a cap of None has no opinion."""
        return Budget(
            max_turns=_least(self.max_turns, cap.max_turns),
            max_cost_usd=_least(self.max_cost_usd, cap.max_cost_usd),
            timeout_s=_least(self.timeout_s, cap.timeout_s),
        )


class Spent(Carried):
    """What a task's agent runs have used so far."""

    turns: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0

    def plus(self, turns: int = 0, cost_usd: float | None = None, seconds: float = 0.0) -> Spent:
        return Spent(
            turns=self.turns + turns, cost_usd=self.cost_usd + (cost_usd or 0.0), seconds=self.seconds + seconds
        )


def effective_budget(server: Budget, repo: Budget, cap: Budget, request: Budget | None = None) -> Budget:
    """A task's budget, decided once when it starts: what the request asks, else the repo's
    `.honk.toml`, else the server's defaults — capped by the access policy."""
    return (request or Budget()).or_else(repo).or_else(server).capped(cap)


def remaining(budget: Budget, spent: Spent) -> Budget:
    """What is left for the next agent run (a limit of None stays None)."""
    return Budget(
        max_turns=None if budget.max_turns is None else budget.max_turns - spent.turns,
        max_cost_usd=None if budget.max_cost_usd is None else budget.max_cost_usd - spent.cost_usd,
        timeout_s=None if budget.timeout_s is None else budget.timeout_s - spent.seconds,
    )


def exhausted(left: Budget) -> str | None:
    """Which limit is used up ("turn", "cost", "time"), or None while every one has room."""
    for name, value in (("turn", left.max_turns), ("cost", left.max_cost_usd), ("time", left.timeout_s)):
        if value is not None and value <= 0:
            return name
    return None


def _first(value: _T | None, fallback: _T | None) -> _T | None:
    return fallback if value is None else value


def _least(a: _N | None, b: _N | None) -> _N | None:
    return b if a is None else a if b is None else min(a, b)


class ProcResult(Record):
    """How a program Honk ran ended: its exit code (None when it was stopped), its output's tail."""

    exit_code: int | None
    output: str  # the tail of combined stdout/stderr
    timed_out: bool
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class AgentJob(Carried):
    """What an agent is asked to do in one run. How it may act (its launcher, checks, workspace, the
    model) is not part of the job: the worker hands it over as `AgentTools` for the run."""

    task_id: str
    prompt: str  # the full instructions for this run
    request: str  # the original request, for agents that keep their own context
    reason: AgentReason
    round: int
    invocation: int  # how many agent runs this task had before this one
    model: str | None = None
    # The repo's `[agent]` table, its budget fields holding what is left of the task's budget.
    settings: AgentSettings = AgentSettings()
    session_id: str | None = None  # to resume the agent's own session on follow-ups
    checks: list[VerifyCommand] = []  # the repo's verifiers, named in the agent's brief
    max_gate_rounds: int = 3  # how often a failing check may send the agent back before it stops
    repo: str = ""
    # Set when the target branch conflicts with the task branch: Honk starts that merge, leaving the
    # conflict markers for the agent to resolve; Honk then commits the merge.
    merge_from: str | None = None

    @property
    def timeout_s(self) -> float:
        return self.settings.timeout_s or DEFAULT_AGENT_TIMEOUT_S

    @property
    def budget(self) -> Budget:
        return self.settings.budget


class AgentOutcome(Carried):
    summary: str = ""
    model: str | None = None
    cost_usd: float | None = None
    turns: int = 0
    session_id: str | None = None


class CheckLine(Carried):
    """A check's latest result, as a reviewer reads it (the task page, Slack, a pull request)."""

    name: str
    passed: bool
    detail: str = ""
    duration_s: float = 0.0

    @classmethod
    def of(cls, result: CheckResult) -> CheckLine:
        detail = "timed out" if result.timed_out else result.distilled
        return cls(name=result.name, passed=result.passed, detail=detail, duration_s=result.duration_s)


class Workspace(Carried):
    """A task's working copy on this worker: a worktree of the repo's mirror, on the task's branch."""

    path: Path
    branch: str
    mirror: Path


class BuildOutcome(Carried):
    ok: bool
    artifacts: list[Artifact] = []
    has_preview: bool = False
    failure: str = ""  # the distilled build log, as the agent is shown it


class Review(Carried):
    """What the test guard found in a change, and the scope judge's verdict on it."""

    guard_findings: list[str] = []
    judge_ok: bool = True
    judge_reason: str = "no judge configured"
    judge_available: bool = True


class PullRequestBody(Record):
    """What a pull request's description tells a reviewer; rendered by `honk.forge.body.render_body`."""

    task_id: str
    title: str
    request: str
    requested_by: str
    summary: str = ""
    checks: list[CheckLine] = []
    guard_findings: list[str] = []
    warnings: list[str] = []
    cost_usd: float | None = None
    task_url: str
    preview_url: str | None = None


class Change(Record):
    """A task's branch as a forge takes it: where it is, where it goes, and how it lands."""

    task_id: str
    repo: RepoRef
    workspace: Workspace
    target: str
    mode: MergeMode = "merge"


class PullRequestState(Carried):
    """What the forge says of the task's pull request (`none`: the repo has no forge, or no PR yet)."""

    state: PullRequestStatus
    number: int = 0
    url: str = ""
    merge_commit: str | None = None


class MergeResult(Carried):
    # "refused": the forge said no (checks pending, review required …); `feedback` says why.
    status: LandStatus
    commit: str = ""
    target: str = ""
    feedback: str = ""
    conflicts: list[str] = []
    base_commit: str = ""


class TaskView(Record):
    """A task as the front doors show it (served from Honk's store, not a workflow query)."""

    id: str
    repo: str
    text: str
    state: TaskState
    requested_by: str
    agent: str | None
    model: str | None
    branch: str
    created_at: datetime
    updated_at: datetime
    reason: str | None = None
    merged_commit: str | None = None
    approved_by: str | None = None
    cost_usd: float | None = None
    preview_url: str | None = None
    artifacts: list[Artifact] = []
