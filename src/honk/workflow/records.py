"""One input record and one result record per activity, so fields can be added without breaking
running workflows. Large things (logs, diffs, artifacts) stay on disk or in the store."""

from __future__ import annotations

from honk.domain import (
    AgentJob,
    AgentOutcome,
    Artifact,
    Attachment,
    Carried,
    RefreshStatus,
    RepoConfig,
    TaskRequest,
    TaskState,
)
from honk.events import AnyEvent


class TaskInput(Carried):
    request: TaskRequest
    heartbeat_timeout_s: float = 30.0
    forge_poll_s: float = 120.0  # how often a task waiting for people checks its pull request


class FollowUp(Carried):
    text: str
    by: str
    attachments: list[Attachment] = []  # files that came with it (kept in Honk's store, like a request's)
    answers: list[int] = []  # the forge review comments it addresses: the next commit replies "done in …"


class MergeDecision(Carried):
    by: str


class PlanDecision(Carried):
    """A person's answer to a proposed plan: approve it, or ask for changes (`text`). `version`: the
    plan they saw (None: the current one, e.g. `honk approve TASK`); an answer to a replaced plan is refused."""

    by: str
    approve: bool
    version: int | None = None
    text: str = ""


class CancelRequest(Carried):
    by: str


class TaskStatus(Carried):
    state: TaskState
    round: int
    pending_followups: int


class RecordInput(Carried):
    task_id: str
    events: list[AnyEvent]


class ProvisionInput(Carried):
    request: TaskRequest


class ProvisionResult(Carried):
    branch: str
    base_commit: str
    config: RepoConfig
    max_rounds: int
    agent: str


class AgentRunInput(Carried):
    request: TaskRequest
    job: AgentJob
    agent: str
    config: RepoConfig | None = None  # as read at provisioning: what the agent's sandbox and checks may reach


class AgentRunResult(Carried):
    outcome: AgentOutcome
    commit: str | None
    changed_files: list[str]


class StepInput(Carried):
    """For steps that need only the task and its repo config (verify, build, deliver, cleanup)."""

    request: TaskRequest
    config: RepoConfig
    round: int = 0
    summary: str = ""
    warnings: list[str] = []


class VerifyResult(Carried):
    passed: bool
    feedback: str
    base_commit: str
    head_commit: str


class ReviewInput(Carried):
    request: TaskRequest
    config: RepoConfig
    follow_ups: list[str] = []


class ReviewResult(Carried):
    ok: bool
    feedback: str = ""
    warnings: list[str] = []


class BuildResult(Carried):
    ok: bool
    artifacts: list[Artifact] = []
    preview_url: str | None = None
    failure: str = ""


class MergeInput(Carried):
    request: TaskRequest
    config: RepoConfig
    verified_base: str
    approved_by: str
    summary: str
    max_attempts: int = 3
    agent: str = ""
    model: str | None = None
    cost_usd: float | None = None


class NotifyInput(Carried):
    """A milestone to say in the task's chat thread (the message is built from Honk's store)."""

    request: TaskRequest
    detail: str = ""


class PreviewInput(Carried):
    """The task's version running as a preview, and screenshots of it beside the target branch's."""

    request: TaskRequest
    config: RepoConfig
    asked: list[str] = []  # the request and follow-ups applied: the routes they name are in scope


class PreviewResult(Carried):
    ok: bool = True  # False: the preview failed (the task still goes to review, saying so)
    url: str | None = None
    warnings: list[str] = []


class DeliverInput(Carried):
    """The green build to the phone (`[deliver]`); `waited_s`: how long its service has processed it so far."""

    request: TaskRequest
    config: RepoConfig
    summary: str = ""
    waited_s: float = 0.0


class DeployInput(Carried):
    """A merged change to production (`[deploy]`), as `by` asked (merged it, or pressed Deploy)."""

    request: TaskRequest
    config: RepoConfig
    commit: str
    target: str
    by: str
    revert: bool = False  # a revert: it puts back what was live, and no freeze holds it


class DeployDecision(Carried):
    """A person pressed Deploy on a merged change whose deploy was held."""

    by: str


class RevertInput(Carried):
    """The revert task's own first step: the revert of the merged commit, made in its workspace."""

    request: TaskRequest


class RevertResult(Carried):
    commit: str | None = None  # the revert commit; None: it conflicts (`conflicts`)
    conflicts: list[str] = []


# -- issue 19, part D (refresh): a waiting task brings in its moved target ------------------------------------
class TargetMoved(Carried):
    """The task's target branch moved (a push the forge told of): `new_head`, its commit there now."""

    new_head: str = ""  # "" when the teller does not know it: the step reads the remote's head anyway
    by: str = ""  # who or what said so (e.g. "github push 1a2b3c"), for the events


class RefreshInput(Carried):
    request: TaskRequest
    config: RepoConfig
    verified_base: str = ""  # the target commit the branch's checks last passed on


class RefreshResult(Carried):
    status: RefreshStatus
    target: str
    base_commit: str = ""  # the target's commit brought in ("refreshed", "checks_failed")
    commit: str = ""  # the branch's head after it ("refreshed")
    conflicts: list[str] = []  # "conflict": the files
    feedback: str = ""  # "checks_failed": the distilled failures; "skipped": why
