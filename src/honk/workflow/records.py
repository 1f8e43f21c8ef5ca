"""One input record and one result record per activity, so fields can be added without breaking
running workflows. Large things (logs, diffs, artifacts) stay on disk or in the store."""

from __future__ import annotations

from pydantic import Field

from honk.domain import (
    AgentJob,
    AgentOutcome,
    Artifact,
    Attachment,
    Carried,
    LineComment,
    RefreshStatus,
    RepoConfig,
    RepoRef,
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
    # Close the task's pull request with this comment (None: leave it open, a draft, as a person's cancel
    # of one task always has: the work may still be of use to them). A campaign cancelled with
    # `on_cancel="close"` asks it for each member.
    close_comment: str | None = None


class ClosePullRequestInput(Carried):
    request: TaskRequest
    comment: str


class TaskStatus(Carried):
    state: TaskState
    round: int
    pending_followups: int


class RecordInput(Carried):
    task_id: str
    events: list[AnyEvent]
    # The workflows following the task, poked when these events move it (honk.workflow.pokes).
    campaign: str | None = None
    attempt_group: str | None = None


class ProvisionInput(Carried):
    request: TaskRequest


class RepoProvisioned(Carried):
    """Another repo of a task over several (issue 20), as provisioned: its own `.honk.toml` (its checks, its
    merge target), on the task's branch name."""

    name: str
    branch: str
    base_commit: str
    config: RepoConfig


class ProvisionResult(Carried):
    branch: str
    base_commit: str
    config: RepoConfig
    max_rounds: int
    agent: str
    also: list[RepoProvisioned] = []  # the task's other repos, in its order (empty: a one-repo task)
    # The commit provisioning left the task's worktree at, clean (no setup command ran in it); None: not
    # known. The first agent run then neither asks the remote, nor resets, nor reads HEAD again.
    head: str | None = None


class AgentRunInput(Carried):
    request: TaskRequest
    job: AgentJob
    agent: str
    config: RepoConfig | None = None  # as read at provisioning: what the agent's sandbox and checks may reach
    also: list[RepoProvisioned] = []  # a task over several repos: the others as provisioned (their checks)
    head: str | None = None  # as StepInput.head
    # The worktree is as provisioning left it, clean at `head` (the step before was provisioning, no setup
    # ran): a first attempt skips the reset and clean that a retried run needs.
    clean: bool = False


class AgentRunResult(Carried):
    outcome: AgentOutcome
    commit: str | None
    changed_files: list[str]
    also_commits: dict[str, str] = {}  # a task over several repos: the other repos the run changed, their commits


class StepInput(Carried):
    """For steps that need only the task and its repo config (verify, build, deliver, cleanup)."""

    request: TaskRequest
    config: RepoConfig
    round: int = 0
    summary: str = ""
    warnings: list[str] = []
    also: list[RepoProvisioned] = []  # a task over several repos: the others as provisioned (their configs)
    # The commit the workflow last saw the task's branch at (None: not known): Workspaces.ensure uses a
    # worktree already there without asking the remote whether another machine took the branch further.
    head: str | None = None
    # The merge base of `head` with the repo's target, as verify found it for that head (None: not known):
    # review and deliver read their diff from it instead of running `merge-base` again.
    base: str | None = None
    # Verify only: when the checks pass, review the change too (in the same activity, with these
    # follow-ups), rather than the workflow scheduling a review step after it.
    review: bool = False
    follow_ups: list[str] = []
    # Verify only, with `review`: when the checks pass and the review lets the change through (it is ok, or
    # this is the task's `last_round`), deliver it too, with `summary` (what the deliver step does), rather
    # than the workflow scheduling that step after it. Asked only when nothing comes between (no build, no
    # preview, no app delivery): policy.delivery_after_verify.
    deliver: bool = False
    last_round: bool = False


class ReviewResult(Carried):
    ok: bool
    feedback: str = ""
    warnings: list[str] = []


class VerifyResult(Carried):
    passed: bool
    feedback: str
    base_commit: str
    head_commit: str
    # The review, when the step was asked for it (StepInput.review) and the checks passed: None otherwise,
    # and from a worker that does not know the field (the workflow then runs the review step).
    review: ReviewResult | None = None
    # The change was delivered in the same step (StepInput.deliver): the workflow schedules no deliver step.
    delivered: bool = False


class ReviewInput(Carried):
    request: TaskRequest
    config: RepoConfig
    follow_ups: list[str] = []
    also: list[RepoProvisioned] = []  # a task over several repos: the others (the review reads every diff)
    head: str | None = None  # as StepInput.head
    base: str | None = None  # as StepInput.base


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
    repo: str = ""  # which repo of a task over several merges now, by name ("": the task's own); `config` is its


class NotifyInput(Carried):
    """A milestone to say in the task's chat thread (the message is built from Honk's store)."""

    request: TaskRequest
    detail: str = ""
    note: bool = False  # `detail` is a passing note (CI failed, a fix under way), not a milestone
    asked_too: bool = False  # the note goes where the task was asked too, not only on its pull request


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


# -- the forge's CI on the task's pull request (issue 19) ------------------------------------------------


class CiFailure(Carried):
    """The forge's CI failed on a commit of the task's pull request (a forge event, through TaskService)."""

    commit: str
    name: str = ""  # the check, job, workflow or pipeline that failed
    run_id: int | None = None  # where its jobs' logs are (a workflow run, a check suite, a pipeline)
    url: str = ""
    repo: str = ""  # another repo of a task over several, whose pull request it is ("": the task's own)


class CiPassing(Carried):
    """The forge's CI passed on the commit Honk pushed last to the task's pull request, after fixing a failure
    there (the forge front door, through TaskService, tells only then)."""

    commit: str
    name: str = ""  # the suite, workflow or pipeline that passed
    url: str = ""


class AutofixSwitch(Carried):
    """`@honk autofix off` (or `on`) on the task's pull request."""

    on: bool
    by: str


class CiLogsInput(Carried):
    request: TaskRequest
    commit: str
    run_id: int | None = None
    target: str  # the branch the pull request goes into: a job failing there too is not the change's fault


class CiLogs(Carried):
    """What failed on the forge, distilled for the agent (`feedback`), and which of those jobs fail on the
    target branch too."""

    jobs: list[str] = []
    feedback: str = ""
    on_target: list[str] = []
    head: str = ""  # the commit Honk delivered last: a failure on another commit is not Honk's to fix


# -- @honk review (issue 19, part E) ------------------------------------------------------------------
# A review is a workflow of its own (honk.workflow.pull_review), not a task: no branch, no commit, no row.

MAX_REVIEW_FINDINGS = 30  # line comments one review posts; more read as noise (the rest are counted)
MAX_REVIEW_SUMMARY = 8_000  # the review's own words; the body stays within the forge's comment size


class PullReviewInput(Carried):
    """`@honk review` on pull request `number` of `repo`, at `head_sha` (the commit reviewed), as asked by
    `requested_by` (a Honk identity the gate let through)."""

    repo: RepoRef
    number: int
    head_sha: str = Field(min_length=7, max_length=64)
    requested_by: str
    heartbeat_timeout_s: float = 60.0


class PullReviewAnswer(Carried):
    """What the agent said of the change, bounded (honk.workflow.policy.parse_review_answer): `structured`
    False when it did not answer with the JSON asked for (its words are then the summary); `dropped`: the
    findings left out (unusable, or past MAX_REVIEW_FINDINGS)."""

    summary: str = Field(default="", max_length=MAX_REVIEW_SUMMARY)
    findings: list[LineComment] = Field(default=[], max_length=MAX_REVIEW_FINDINGS)
    structured: bool = True
    dropped: int = 0


class PullReviewRan(Carried):
    """The review run's result: the answer, the files the pull request changes (line comments go only
    there), and what ran it."""

    answer: PullReviewAnswer
    changed_files: list[str] = []
    agent: str = ""
    model: str | None = None
    cost_usd: float | None = None


class PullReviewPost(Carried):
    """What is posted on the pull request: a review (`comments` on its lines), or, when `as_comment`, one
    plain comment (a review that could not be made says so there)."""

    repo: RepoRef
    number: int
    commit: str
    body: str
    comments: list[LineComment] = []
    as_comment: bool = False


class PullReviewDone(Carried):
    """The workflow's result: the posted review's URL (a review that could not be made fails the workflow,
    having said why on the pull request)."""

    url: str | None = None
    findings: int = 0


class PullReviewStarted(Carried):
    """What `TaskService.review_pull_request` did: `started` False when that head's review was already
    asked (running or made); `workflow_id` names it either way."""

    workflow_id: str
    started: bool


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
