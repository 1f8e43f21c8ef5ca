"""Typed records that cross Honk's boundaries: front doors, workflow, activities, store."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_REQUEST_CHARS = 20_000


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


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


class ForgeRef(Record):
    """Where a repo lives on a forge; the credentials are the workers' settings, never stored."""

    kind: Literal["github", "gitlab"]
    project: str  # GitHub "owner/name"; GitLab "group/name" or its numeric id
    api_url: str | None = None  # None: github.com's or gitlab.com's API


class RepoRef(Record):
    name: str
    url: str
    branch: str = "main"
    forge: ForgeRef | None = None  # None: a plain git remote, merged by Honk's own push


class SlackThread(Record):
    """Where a task talks back in Slack: its thread, and the status message updated in place."""

    channel: str
    thread_ts: str
    status_ts: str | None = None


class TaskRequest(Record):
    """What a front door hands to the workflow: who asked what of which repo."""

    task_id: str
    request_id: str
    repo: RepoRef
    text: str = Field(min_length=1, max_length=MAX_REQUEST_CHARS)
    requested_by: str
    agent: str | None = None
    model: str | None = None
    front_door: Literal["api", "cli", "web", "slack"] = "api"
    slack: SlackThread | None = None


class VerifyCommand(Record):
    name: str
    run: str
    timeout_s: float = 600.0


class BuildSpec(Record):
    run: str
    artifacts: list[str] = []
    preview_dir: str | None = None
    timeout_s: float = 900.0


class AgentSettings(Record):
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
    # Shell commands (prefixes) the agent may run besides Honk's verify tool.
    allow: list[str] = []


class RepoConfig(Record):
    verify: list[VerifyCommand] = []
    build: BuildSpec | None = None
    setup: str | None = None
    setup_timeout_s: float = 900.0
    # Hosts the setup phase needs (dependency installs). It gets the network only where the operator
    # allows it (HONK_SANDBOX_SETUP_NETWORK); the hosts are recorded, not enforced. Every other phase is offline.
    setup_network: list[str] = []
    merge_target: str | None = None
    merge_mode: Literal["merge", "fast-forward"] = "merge"
    max_rounds: int | None = Field(default=None, ge=1, le=50)
    agent: AgentSettings = AgentSettings()
    # The Temporal task queue whose workers do this repo's work (e.g. macOS machines for an Xcode
    # build); None: the server's default queue.
    queue: str | None = None
    # "file" when read from .honk.toml, "detected" when inferred from the repo's contents.
    source: Literal["file", "detected"] = "detected"


class CheckResult(Record):
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


class Artifact(Record):
    name: str
    size: int


DEFAULT_AGENT_TIMEOUT_S = 1800.0


class AgentOutcome(Record):
    summary: str = ""
    model: str | None = None
    cost_usd: float | None = None
    turns: int = 0
    session_id: str | None = None


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
