"""Frozen, past-tense progress events. Every step emits them; every front door renders them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from honk.domain import (
    SERVICE_NAMES,
    AgentReason,
    Artifact,
    Attachment,
    BlockReason,
    DeliverKind,
    DeliveryOutcome,
    DeployOutcome,
    Phase,
    Plan,
    RefusedAttachment,
    RouteShots,
    TaskState,
    UpdateMode,
    ViolationKind,
)


class Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    #: The state a task is in once this event happened; None leaves the state as it was.
    moves_to: ClassVar[TaskState | None] = None

    def line(self) -> str:
        """One human line, used by the CLI and as fallback text elsewhere."""
        return self.kind.replace("_", " ")  # type: ignore[attr-defined]


class TaskAccepted(Event):
    kind: Literal["task_accepted"] = "task_accepted"
    moves_to: ClassVar = TaskState.queued
    repo: str
    text: str
    requested_by: str
    agent: str
    plan: bool = False  # a plan first, approved before any change
    origin: str = ""  # what started it, when no person asked at a front door ("schedule nightly of calc")
    # Best of N: this task is attempt `attempt` of `attempts` of group `attempt_group` (honk.attempts).
    attempt_group: str = ""
    attempt: int = 0
    attempts: int = 0
    also: list[str] = []  # the task's other repos (one change across several), in merge order after `repo`

    def line(self) -> str:
        first = ", plan first" if self.plan else ""
        started = f", started by {self.origin}" if self.origin else ""
        repos = " → ".join([self.repo, *self.also])
        best = f", attempt {self.attempt} of {self.attempts} ({self.attempt_group})" if self.attempt_group else ""
        return (
            f"accepted: {self.text[:80]!r} on {repos} for {self.requested_by} "
            f"(agent {self.agent}{first}{started}{best})"
        )


class AttachmentsReceived(Event):
    """The files that came with the request: those kept for the agent, and each refused one with why."""

    kind: Literal["attachments_received"] = "attachments_received"
    kept: list[Attachment] = []
    refused: list[RefusedAttachment] = []

    def line(self) -> str:
        parts = [f"{a.name}" + (f" ({a.note})" if a.note else "") for a in self.kept]
        said = f"attached: {', '.join(parts)}" if parts else "no attachment kept"
        return said + "".join(f"; not taken: {r.name}: {r.reason}" for r in self.refused)


class WorkspacePreparing(Event):
    kind: Literal["workspace_preparing"] = "workspace_preparing"
    moves_to: ClassVar = TaskState.provisioning

    def line(self) -> str:
        return "preparing the workspace"


class WorkspaceReady(Event):
    kind: Literal["workspace_ready"] = "workspace_ready"
    branch: str
    base_commit: str
    seconds: float
    repo: str = ""  # another repo of a task over several ("": the task's own)

    def line(self) -> str:
        which = f"workspace of {self.repo}" if self.repo else "workspace"
        return f"{which} ready on {self.branch} from {self.base_commit[:10]} in {self.seconds:.2f}s"


class AgentStarted(Event):
    kind: Literal["agent_started"] = "agent_started"
    moves_to: ClassVar = TaskState.working
    round: int
    reason: AgentReason
    # Which of the task's agent runs, and the branch head it started from: a retried run finds here
    # whether an earlier attempt already committed (see run_agent).
    invocation: int | None = None
    head: str | None = None
    # A task over several repos: each other repo's branch head it started from, by repo (the same use).
    also_heads: dict[str, str] = {}

    def line(self) -> str:
        return f"agent working (round {self.round}, {self.reason.replace('_', ' ')})"


class PlanStarted(Event):
    """An agent run that reads the repo (mounted read-only) and proposes a plan; it changes nothing."""

    kind: Literal["plan_started"] = "plan_started"
    moves_to: ClassVar = TaskState.planning
    version: int  # the plan it will propose: 1, then one more per revision
    reason: AgentReason = "request"

    def line(self) -> str:
        return f"agent planning (plan v{self.version})"


class PlanProposed(Event):
    kind: Literal["plan_proposed"] = "plan_proposed"
    moves_to: ClassVar = TaskState.plan_ready
    version: int
    plan: Plan

    def line(self) -> str:
        return f"plan v{self.version} proposed, waiting for approval: {self.plan.summary[:80]!r}"


class PlanApproved(Event):
    kind: Literal["plan_approved"] = "plan_approved"
    version: int
    by: str

    def line(self) -> str:
        return f"plan v{self.version} approved by {self.by}"


class PlanRevisionAsked(Event):
    kind: Literal["plan_revision_asked"] = "plan_revision_asked"
    version: int  # the plan the changes are asked of
    by: str
    text: str

    def line(self) -> str:
        return f"changes to plan v{self.version} asked by {self.by}: {self.text[:80]!r}"


class AgentSaid(Event):
    kind: Literal["agent_said"] = "agent_said"
    text: str

    def line(self) -> str:
        return f"agent: {self.text}"


class AgentRanCommand(Event):
    kind: Literal["agent_ran_command"] = "agent_ran_command"
    command: str
    exit_code: int | None
    output: str = ""  # truncated

    def line(self) -> str:
        return f"agent ran `{self.command}` → exit {self.exit_code}"


class AgentToolCalled(Event):
    kind: Literal["agent_tool_called"] = "agent_tool_called"
    tool: str
    input: str  # a short rendering of the call's input

    def line(self) -> str:
        return f"agent → {self.tool} {self.input[:100]}"


class AgentToolResult(Event):
    kind: Literal["agent_tool_result"] = "agent_tool_result"
    tool: str
    output: str  # truncated
    is_error: bool = False

    def line(self) -> str:
        first = self.output.strip().splitlines()[0][:100] if self.output.strip() else ""
        return f"agent ← {self.tool}{' (error)' if self.is_error else ''}: {first}"


class AgentToolDenied(Event):
    kind: Literal["agent_tool_denied"] = "agent_tool_denied"
    tool: str
    input: str
    reason: str

    def line(self) -> str:
        return f"denied {self.tool} {self.input[:80]}: {self.reason}"


class SandboxRefused(Event):
    """The sandbox stopped repo code or an agent command from doing something (also in the audit log)."""

    kind: Literal["sandbox_refused"] = "sandbox_refused"
    what: ViolationKind
    detail: str
    command: str
    source: str  # setup, check, build, agent

    def line(self) -> str:
        return f"sandbox refused ({self.what}) in {self.source} `{self.command[:60]}`: {self.detail[:120]}"


class NetworkBlocked(Event):
    """Honk's egress proxy refused a request from a confined process (also in the audit log). Nothing
    retries it: a person widens the allowlist (`.honk.toml`, or an admin's "allow host") and asks again."""

    kind: Literal["network_blocked"] = "network_blocked"
    host: str
    port: int
    method: str  # CONNECT when the tunnel itself was refused
    phase: Phase
    reason: BlockReason
    detail: str
    command: str  # what was running in that sandbox when it asked
    times: int = 1  # the same request refused again (a client retrying) is counted, not repeated

    def line(self) -> str:
        where = self.host if self.port in (80, 443) else f"{self.host}:{self.port}"
        again = f" ×{self.times}" if self.times > 1 else ""
        return f"network blocked{again} in {self.phase}: {self.method} {where} ({self.detail[:120]}) by `{self.command[:60]}`"


class SafetyWarning(Event):
    kind: Literal["safety_warning"] = "safety_warning"
    text: str

    def line(self) -> str:
        return f"⚠ {self.text}"


class AgentUsage(Event):
    """Running totals for the current agent run: cost is an estimate until `final` (the CLI's figure)."""

    kind: Literal["agent_usage"] = "agent_usage"
    input_tokens: int
    output_tokens: int
    cost_usd: float | None = None
    turns: int = 0
    final: bool = True

    def line(self) -> str:
        cost = f", {'' if self.final else '~'}${self.cost_usd:.4f}" if self.cost_usd is not None else ""
        return f"usage: {self.input_tokens} in / {self.output_tokens} out tokens{cost}"


class AgentFinished(Event):
    kind: Literal["agent_finished"] = "agent_finished"
    round: int
    summary: str
    changed_files: list[str]
    commit: str | None
    model: str | None = None
    cost_usd: float | None = None

    def line(self) -> str:
        files = ", ".join(self.changed_files[:5]) or "no files"
        return f"agent finished round {self.round}: changed {files}"


class RepoCommitted(Event):
    """An agent run's change in another repo of a task over several (issue 20), committed by Honk there."""

    kind: Literal["repo_committed"] = "repo_committed"
    repo: str
    commit: str
    changed_files: list[str]

    def line(self) -> str:
        count = len(self.changed_files)
        return f"committed in {self.repo}: {count} file{'s' if count != 1 else ''} ({self.commit[:10]})"


class ChecksStarted(Event):
    kind: Literal["checks_started"] = "checks_started"
    moves_to: ClassVar = TaskState.verifying
    round: int
    names: list[str]

    def line(self) -> str:
        return f"running checks: {', '.join(self.names) or 'none configured'}"


class CheckFinished(Event):
    kind: Literal["check_finished"] = "check_finished"
    name: str
    passed: bool
    duration_s: float
    distilled: str

    def line(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        first = self.distilled.splitlines()[0] if self.distilled else ""
        return f"check {self.name} {verdict} ({self.duration_s:.1f}s) {first}"


class ChecksFailed(Event):
    kind: Literal["checks_failed"] = "checks_failed"
    round: int
    feedback: str
    giving_up: bool

    def line(self) -> str:
        then = "giving up" if self.giving_up else "sending the errors back to the agent"
        return f"checks failed in round {self.round}; {then}"


class ChangeReviewed(Event):
    """The test guard's findings and the scope judge's verdict on the diff."""

    kind: Literal["change_reviewed"] = "change_reviewed"
    judge_ok: bool
    judge_reason: str
    guard_findings: list[str]

    def line(self) -> str:
        parts = [f"judge {'ok' if self.judge_ok else 'VETO'}: {self.judge_reason}"]
        parts += [f"guard: {f}" for f in self.guard_findings]
        return "; ".join(parts)


class BuildStarted(Event):
    kind: Literal["build_started"] = "build_started"
    moves_to: ClassVar = TaskState.building

    def line(self) -> str:
        return "building"


class BuildReady(Event):
    kind: Literal["build_ready"] = "build_ready"
    artifacts: list[Artifact]
    preview_url: str | None

    def line(self) -> str:
        names = ", ".join(a.name for a in self.artifacts) or "no artifacts"
        return f"built: {names}" + (f"; preview {self.preview_url}" if self.preview_url else "")


class PreviewStarting(Event):
    """The task's version is starting as a running preview (`[preview] start`)."""

    kind: Literal["preview_starting"] = "preview_starting"

    def line(self) -> str:
        return "starting the preview"


class PreviewReady(Event):
    """The task's version runs at its own origin; people get in with a signed link or signed in."""

    kind: Literal["preview_ready"] = "preview_ready"
    url: str  # the preview's origin (not a link that lets anyone in)
    routes: list[str] = []
    duration_s: float = 0.0

    def line(self) -> str:
        return f"preview running at {self.url}"


class PreviewFailed(Event):
    """The preview did not start (or stopped working): the task still goes to review, saying so."""

    kind: Literal["preview_failed"] = "preview_failed"
    reason: str
    log_tail: str = ""

    def line(self) -> str:
        return f"preview failed: {self.reason}"


class ScreenshotsTaken(Event):
    """Before (the target branch) and after (the task) screenshots of each route, and their diffs."""

    kind: Literal["screenshots_taken"] = "screenshots_taken"
    routes: list[RouteShots]
    # Routes that changed though the request did not name them (when it named some).
    outside: list[str] = []

    def line(self) -> str:
        changed = [f"{r.route} {r.changed:.1%}" for r in self.routes if r.changed > 0]
        return "screenshots: " + (", ".join(changed) if changed else "no visible change")


class DeliveryStarted(Event):
    """The green build is on its way to the phone (`[deliver]`)."""

    kind: Literal["delivery_started"] = "delivery_started"
    deliver: DeliverKind

    def line(self) -> str:
        return f"delivering ({self.deliver})"


class DeliveryWaiting(Event):
    """The team's service has the build but is still processing it (TestFlight: 5–30 minutes); Honk asks
    again (`[deliver] wait`) until it gives a link or `wait_timeout` ends."""

    kind: Literal["delivery_waiting"] = "delivery_waiting"
    outcome: DeliveryOutcome
    waited_s: float = 0.0

    def line(self) -> str:
        said = f": {self.outcome.message}" if self.outcome.message else ""
        return f"{SERVICE_NAMES[self.outcome.kind]} is processing the build ({self.waited_s / 60:.0f} min so far){said}"


class AppDelivered(Event):
    """The new version of the app can be installed or opened on a phone: `outcome.url`."""

    kind: Literal["app_delivered"] = "app_delivered"
    outcome: DeliveryOutcome

    def line(self) -> str:
        o = self.outcome
        what = " ".join(p for p in (o.title, o.version, f"({o.build})" if o.build else "") if p)
        return f"delivered{' ' + what if what else ''}: {o.url}"


class DeliveryFailed(Event):
    """The build could not be delivered; the task stays reviewable, saying why."""

    kind: Literal["delivery_failed"] = "delivery_failed"
    outcome: DeliveryOutcome

    def line(self) -> str:
        return f"delivery failed: {self.outcome.why}"


class TaskReady(Event):
    kind: Literal["task_ready"] = "task_ready"
    moves_to: ClassVar = TaskState.ready
    commit: str
    summary: str
    diffstat: str
    # Test-guard findings and judge concerns the agent did not resolve: shown prominently.
    warnings: list[str] = []
    diff: str = ""  # the whole change against its base, capped (see `diff_truncated`)
    diff_truncated: bool = False

    def line(self) -> str:
        warn = f" — WARNINGS: {'; '.join(self.warnings)}" if self.warnings else ""
        return f"ready for review at {self.commit[:10]}: {self.summary[:120]}{warn}"


class PullRequestUpdated(Event):
    """The task's pull (merge) request on its forge, opened or brought up to date."""

    kind: Literal["pull_request_updated"] = "pull_request_updated"
    number: int
    url: str
    draft: bool
    opened: bool  # True the first time

    def line(self) -> str:
        return f"{'opened' if self.opened else 'updated'} {'draft ' if self.draft else ''}pull request #{self.number}: {self.url}"


class RepoPublished(Event):
    """Another repo of a task over several (issue 20) at delivery: its pull request opened or brought up to
    date (`number`, `url`; none on a plain git remote), or, `changed` False, none because the agent did not
    change that repo."""

    kind: Literal["repo_published"] = "repo_published"
    repo: str
    changed: bool
    branch: str = ""
    number: int = 0
    url: str = ""
    draft: bool = False
    opened: bool = False

    def pull_request(self) -> PullRequestUpdated | None:
        """As the repo's forge takes it back at the merge (None: no pull request)."""
        if not self.number:
            return None
        return PullRequestUpdated(number=self.number, url=self.url, draft=self.draft, opened=self.opened)

    def line(self) -> str:
        if not self.changed:
            return f"{self.repo}: not changed by the agent, so no pull request there"
        if self.number:
            return f"{self.repo}: {'opened' if self.opened else 'updated'} pull request #{self.number}: {self.url}"
        return f"{self.repo}: branch {self.branch} ready"


class FollowUpReceived(Event):
    kind: Literal["follow_up_received"] = "follow_up_received"
    text: str
    by: str
    answers: list[int] = []  # the forge review comments it addresses: the next delivery replies to each

    def line(self) -> str:
        return f"follow-up from {self.by}: {self.text[:80]!r}"


class FollowUpsNotApplied(Event):
    """Follow-ups that arrived too late to be applied (the task ended first), said out loud."""

    kind: Literal["follow_ups_not_applied"] = "follow_ups_not_applied"
    texts: list[str]
    reason: str

    def line(self) -> str:
        return f"{len(self.texts)} follow-up(s) not applied: {self.reason}"


class MergeRequested(Event):
    kind: Literal["merge_requested"] = "merge_requested"
    moves_to: ClassVar = TaskState.merging
    by: str

    def line(self) -> str:
        return f"merge requested by {self.by}"


class MainMoved(Event):
    kind: Literal["main_moved"] = "main_moved"
    target: str
    verified_base: str
    new_base: str

    def line(self) -> str:
        return f"{self.target} moved since verification ({self.verified_base[:10]} → {self.new_base[:10]}); bringing it in and re-verifying"


class ForgeChecksFailed(Event):
    """The forge's CI failed on the task's pull request: Honk is fixing it (`attempt` of `of`), or says
    why not (`skipped`): the head commit is not Honk's, the same jobs fail on the target too, autofix is
    off, or the attempts are spent."""

    kind: Literal["forge_checks_failed"] = "forge_checks_failed"
    commit: str
    jobs: list[str] = []
    attempt: int = 0
    of: int = 0
    skipped: str = ""  # why no fix is tried ("" when one is)
    repo: str = ""  # another repo of a task over several, whose pull request CI failed on ("": the task's own)

    def line(self) -> str:
        what = f"CI failed on {self.commit[:10]} ({', '.join(self.jobs[:5]) or 'a job'})"
        if self.repo:
            what = f"{self.repo}: {what}"
        return f"{what}: {self.skipped}" if self.skipped else f"{what}: fix attempt {self.attempt} of {self.of}"


class CiPassed(Event):
    """The forge's CI passed on the task's pull request after Honk's fixes (`after_attempts` of them since it
    last passed): said once on the pull request and where the task was asked. CI passing with no failure
    before is not news, and is not recorded."""

    kind: Literal["ci_passed"] = "ci_passed"
    commit: str
    after_attempts: int

    def line(self) -> str:
        attempts = "1 fix attempt" if self.after_attempts == 1 else f"{self.after_attempts} fix attempts"
        return f"CI passed on {self.commit[:7]} after {attempts}"


class MergeHeld(Event):
    """The merge did not happen, and says why: the task is back to review, or (`rework`) back to the
    agent, when the latest target broke the checks or conflicts with the branch."""

    kind: Literal["merge_held"] = "merge_held"
    reason: str
    rework: bool = False

    @property
    def moves_to(self) -> TaskState:  # pyright: ignore[reportIncompatibleVariableOverride] - per instance
        return TaskState.working if self.rework else TaskState.ready

    def line(self) -> str:
        return f"merge held: {self.reason}"


class Merged(Event):
    kind: Literal["merged"] = "merged"
    moves_to: ClassVar = TaskState.merged
    commit: str
    target: str
    approved_by: str

    def line(self) -> str:
        return f"merged into {self.target} as {self.commit[:10]}, approved by {self.approved_by}"


class RepoMerged(Event):
    """One repo of a task over several (issue 20) merged, in the task's order; the task is merged (`Merged`)
    once every changed repo is."""

    kind: Literal["repo_merged"] = "repo_merged"
    repo: str
    commit: str
    target: str

    def line(self) -> str:
        return f"{self.repo}: merged into {self.target} as {self.commit[:10]}"


class RepoPullRequestClosed(Event):
    """Another repo's pull request of a task over several (issue 20) was merged or closed on the forge by a
    person, not by Honk: recorded so the task's page says it (the task's own merge order does not expect it)."""

    kind: Literal["repo_pull_request_closed"] = "repo_pull_request_closed"
    repo: str
    number: int
    merged: bool
    by: str = ""

    def line(self) -> str:
        who = f" by @{self.by}" if self.by else ""
        if self.merged:
            return f"{self.repo}: pull request #{self.number} merged{who} on the forge, outside Honk's merge order"
        return f"{self.repo}: pull request #{self.number} closed{who} on the forge without merging"


class RevertCommitted(Event):
    """A revert task's change, made by Honk (no agent): the revert of `reverted`, task `of_task`'s merge."""

    kind: Literal["revert_committed"] = "revert_committed"
    commit: str
    reverted: str
    of_task: str

    def line(self) -> str:
        return f"reverted {self.reverted[:10]} (task {self.of_task}) as {self.commit[:10]}"


class DeployStarted(Event):
    """The merged change is on its way to production: the repo's `[deploy] run`, or the forge's deploy
    awaited (`how`: "run" or "wait_for")."""

    kind: Literal["deploy_started"] = "deploy_started"
    commit: str
    target: str
    by: str
    how: str = "run"
    revert: bool = False  # a revert putting back what was live

    def line(self) -> str:
        return f"deploying {self.commit[:10]} from {self.target} (for {self.by})"


class DeployHeld(Event):
    """The merged change was not deployed, and says why (its merger may not deploy, or a freeze is in
    force): someone who may presses Deploy."""

    kind: Literal["deploy_held"] = "deploy_held"
    reason: str

    def line(self) -> str:
        return f"deploy held: {self.reason}"


class DeployFinished(Event):
    """What the deploy came to: "live" (with its link), "deploy_failed" (the command's distilled log) or
    "health_failed" (the health check's last answer) — the last two offer a Revert."""

    kind: Literal["deploy_finished"] = "deploy_finished"
    outcome: DeployOutcome

    def line(self) -> str:
        o = self.outcome
        if o.state == "live":
            return f"live in production at {o.commit[:10]}" + (f": {o.url}" if o.url else "")
        first = o.detail.strip().splitlines()[0] if o.detail.strip() else o.state.replace("_", " ")
        return f"deploy failed at {o.commit[:10]}: {first}"


class RevertStarted(Event):
    """A revert of this task's merged change was asked for: the task `task_id` makes and lands it."""

    kind: Literal["revert_started"] = "revert_started"
    task_id: str
    by: str

    def line(self) -> str:
        return f"revert asked by {self.by}: task {self.task_id}"


class TaskFailed(Event):
    kind: Literal["task_failed"] = "task_failed"
    moves_to: ClassVar = TaskState.failed
    reason: str

    def line(self) -> str:
        return f"failed: {self.reason}"


class TaskCancelled(Event):
    kind: Literal["task_cancelled"] = "task_cancelled"
    moves_to: ClassVar = TaskState.cancelled
    by: str

    def line(self) -> str:
        return f"cancelled by {self.by}"


class AttemptPicked(Event):
    """Best of N: this attempt was picked (by a person, or by Honk where the repo allows it); the group's
    other attempts are cancelled. Merging it is the usual merge."""

    kind: Literal["attempt_picked"] = "attempt_picked"
    by: str
    attempt: int
    rank: int
    of: int

    def line(self) -> str:
        return f"attempt {self.attempt} (ranked {self.rank} of {self.of}) picked by {self.by}"


# -- issue 19, part D (refresh): a waiting task brings in its moved target ------------------------------------
class Refreshed(Event):
    """The moved target was brought into the waiting task's branch (`how`), the checks pass, and the
    branch was pushed (`pushed`; with a lease against Honk's last push) where it has a pull request."""

    kind: Literal["refreshed"] = "refreshed"
    target: str
    new_base: str
    commit: str
    how: UpdateMode = "merge"  # `[merge] update`
    pushed: bool = False

    def line(self) -> str:
        pushed = ", pushed" if self.pushed else ""
        return f"brought in the latest {self.target} ({self.new_base[:10]}) by {self.how}: checks pass at {self.commit[:10]}{pushed}"


class RefreshSkipped(Event):
    """The moved target was not brought in, and why (someone else pushed to the branch: their commits
    are never overwritten; or the forge refused the push)."""

    kind: Literal["refresh_skipped"] = "refresh_skipped"
    target: str
    reason: str

    def line(self) -> str:
        return f"did not bring in the latest {self.target}: {self.reason}"


AnyEvent = Annotated[
    TaskAccepted
    | AttachmentsReceived
    | WorkspacePreparing
    | WorkspaceReady
    | AgentStarted
    | PlanStarted
    | PlanProposed
    | PlanApproved
    | PlanRevisionAsked
    | AgentSaid
    | AgentRanCommand
    | AgentToolCalled
    | AgentToolResult
    | AgentToolDenied
    | SandboxRefused
    | NetworkBlocked
    | SafetyWarning
    | AgentUsage
    | AgentFinished
    | RepoCommitted
    | ChecksStarted
    | CheckFinished
    | ChecksFailed
    | ChangeReviewed
    | BuildStarted
    | BuildReady
    | PreviewStarting
    | PreviewReady
    | PreviewFailed
    | ScreenshotsTaken
    | DeliveryStarted
    | DeliveryWaiting
    | AppDelivered
    | DeliveryFailed
    | TaskReady
    | PullRequestUpdated
    | RepoPublished
    | FollowUpReceived
    | FollowUpsNotApplied
    | MergeRequested
    | MainMoved
    | ForgeChecksFailed
    | CiPassed
    | MergeHeld
    | Merged
    | RepoMerged
    | RepoPullRequestClosed
    | DeployStarted
    | DeployHeld
    | DeployFinished
    | RevertStarted
    | RevertCommitted
    | TaskFailed
    | TaskCancelled
    | Refreshed
    | RefreshSkipped
    | AttemptPicked,
    Field(discriminator="kind"),
]
EVENT_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(AnyEvent)


class StoredEvent(BaseModel):
    """An event as kept in Honk's store: its position, time and task."""

    model_config = ConfigDict(frozen=True)
    id: int
    task_id: str
    at: datetime
    event: AnyEvent
