"""A task's route, step by step: the workspace, the plan, each agent round, each check, the review,
the build, the delivery, the merge — each with where it stands (pending, in progress, complete,
error). Folded from events as they arrive, as part of the task's Timeline; Slack shows it as the
task cards of a streamed plan (`honk.slack.progress`).

A step keeps its id for the life of the task. Its title may change (Slack replaces it); its details
only ever grow by lines (Slack appends them), within a bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from honk.domain import SERVICE_NAMES, AgentReason, Carried, StepStatus
from honk.events import (
    AgentFinished,
    AgentStarted,
    AnyEvent,
    AppDelivered,
    BuildReady,
    BuildStarted,
    ChangeReviewed,
    CheckFinished,
    ChecksFailed,
    ChecksStarted,
    DeliveryFailed,
    DeliveryStarted,
    DeliveryWaiting,
    DeployFinished,
    DeployHeld,
    DeployStarted,
    MainMoved,
    Merged,
    MergeHeld,
    MergeRequested,
    PlanApproved,
    PlanProposed,
    PlanRevisionAsked,
    PlanStarted,
    PreviewFailed,
    PreviewReady,
    PreviewStarting,
    PullRequestUpdated,
    RevertCommitted,
    RevertStarted,
    ScreenshotsTaken,
    TaskCancelled,
    TaskFailed,
    TaskReady,
    WorkspacePreparing,
    WorkspaceReady,
)

MAX_STEPS = 100  # the newest; a task with many follow-ups drops its oldest finished steps
MAX_DETAILS = 500  # characters of a step's details (and the cut's two); later lines are left out
CUT = "\n…"
MAX_LINE = 200  # characters of one line of details (a summary's first line, a check's first error)
OPEN: frozenset[StepStatus] = frozenset({"pending", "in_progress"})

WHY: dict[AgentReason, str] = {
    "request": "",
    "check_feedback": " — fixing what the checks found",
    "follow_up": " — a follow-up",
    "main_moved": " — bringing in the target branch",
    "review": " — answering the review",
    "plan_revision": "",
    "plan_approved": " — carrying out the approved plan",
    "ci_failure": " — fixing what the forge's CI found",
}


class Step(Carried):
    n: int  # its place on the route: numbers are never reused
    id: str
    title: str
    status: StepStatus
    details: str = ""

    @property
    def open(self) -> bool:
        return self.status in OPEN


class Route(Carried):
    steps: list[Step] = []
    count: int = 0  # steps ever added
    checks_round: int = 0  # the round whose checks a CheckFinished belongs to
    deliveries: int = 0
    merges: int = 0

    def fold(self, event: AnyEvent) -> Route:
        """The route once `event` happened too (itself when the event changes no step)."""
        handler = _HANDLERS.get(type(event))
        return handler(self, event) if handler is not None else self

    def get(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    # -- building blocks of the handlers ------------------------------------------------------
    def put(self, step_id: str, title: str, status: StepStatus, line: str = "") -> Route:
        """The step with this title and status (added at the end if new), `line` added to its details."""
        old = self.get(step_id)
        if old is None:
            step = Step(n=self.count, id=step_id, title=title, status=status, details=_grow("", line))
            return self._with([*self.steps, step], count=self.count + 1)
        step = old.model_copy(update={"title": title, "status": status, "details": _grow(old.details, line)})
        return self._with([step if s.id == step_id else s for s in self.steps])

    def change(self, step_id: str, title: str | None = None, status: StepStatus | None = None, line: str = "") -> Route:
        """An existing step changed (nothing when there is no such step)."""
        old = self.get(step_id)
        if old is None:
            return self
        return self.put(step_id, title or old.title, status or old.status, line)

    def close(self, status: StepStatus, line: str = "") -> Route:
        """Every step still pending or in progress ends with `status` (the task moved past them)."""
        steps = [
            s.model_copy(update={"status": status, "details": _grow(s.details, line)}) if s.open else s
            for s in self.steps
        ]
        return self._with(steps) if steps != self.steps else self

    def current(self) -> Step | None:
        """The newest step in progress."""
        return next((s for s in reversed(self.steps) if s.status == "in_progress"), None)

    def _with(self, steps: list[Step], **changes: int) -> Route:
        if (excess := len(steps) - MAX_STEPS) > 0:
            drop = {s.id for s in [s for s in steps if not s.open][:excess]}
            steps = [s for s in steps if s.id not in drop]
        return self.model_copy(update={"steps": steps, **changes})


def _grow(details: str, line: str) -> str:
    """`details` with `line` added; past MAX_DETAILS, the cut is said once and nothing more is added.
    What was there stays as it was (Slack appends to details; it never rewrites them)."""
    line = _first_line(line)
    if not line or details.endswith(CUT):
        return details
    grown = f"{details}\n{line}" if details else line
    return grown if len(grown) <= MAX_DETAILS else details + CUT


def _first_line(text: str) -> str:
    first = next((t.strip() for t in text.strip().splitlines() if t.strip()), "")
    return first if len(first) <= MAX_LINE else first[: MAX_LINE - 1].rstrip() + "…"


# -- one handler per kind of event ----------------------------------------------------------------


def _workspace_preparing(r: Route, e: WorkspacePreparing) -> Route:
    return r.put("workspace", "Preparing the workspace", "in_progress")


def _workspace_ready(r: Route, e: WorkspaceReady) -> Route:
    line = f"branch {e.branch} from {e.base_commit[:10]} in {e.seconds:.1f}s"
    if e.repo:  # another repo of a task over several: a card of its own
        return r.put(f"workspace-{e.repo}", f"Workspace of {e.repo} ready", "complete", line)
    return r.put("workspace", "Workspace ready", "complete", line)


def _plan_started(r: Route, e: PlanStarted) -> Route:
    return r.put(f"plan-{e.version}", f"Planning (plan v{e.version})", "in_progress")


def _plan_proposed(r: Route, e: PlanProposed) -> Route:
    return r.put(f"plan-{e.version}", f"Plan v{e.version} proposed, waiting for approval", "complete", e.plan.summary)


def _plan_approved(r: Route, e: PlanApproved) -> Route:
    return r.change(f"plan-{e.version}", f"Plan v{e.version} approved by {e.by}")


def _plan_revision_asked(r: Route, e: PlanRevisionAsked) -> Route:
    return r.change(f"plan-{e.version}", f"Plan v{e.version}: changes asked by {e.by}", line=e.text)


def _agent_started(r: Route, e: AgentStarted) -> Route:
    return r.put(f"agent-{e.round}", f"Agent, round {e.round}{WHY.get(e.reason, '')}", "in_progress")


def _agent_finished(r: Route, e: AgentFinished) -> Route:
    files = len(e.changed_files)
    changed = f"{files} file{'s' if files != 1 else ''} changed" if files else "no file changed"
    return r.change(f"agent-{e.round}", status="complete", line=e.summary).change(f"agent-{e.round}", line=changed)


def _checks_started(r: Route, e: ChecksStarted) -> Route:
    r = r.model_copy(update={"checks_round": e.round})
    suffix = f" (round {e.round})" if e.round > 1 else ""
    for i, name in enumerate(e.names):
        r = r.put(f"check-{e.round}-{name}", f"Check {name}{suffix}", "in_progress" if i == 0 else "pending")
    return r


def _check_finished(r: Route, e: CheckFinished) -> Route:
    step_id = f"check-{r.checks_round}-{e.name}"
    step = r.get(step_id)
    if step is None or not step.open:
        # Not one of Honk's checks of this round: the agent's own run of it, or a merge re-verifying.
        current = r.current()
        said = f"{'✅' if e.passed else '❌'} {e.name}"
        return r.change(current.id, line=said) if current is not None else r
    verdict = f"passed in {e.duration_s:.1f}s" if e.passed else "failed"
    r = r.put(step_id, f"{step.title} {verdict}", "complete" if e.passed else "error", "" if e.passed else e.distilled)
    following = next(
        (s for s in r.steps if s.id.startswith(f"check-{r.checks_round}-") and s.status == "pending"), None
    )
    return r.change(following.id, status="in_progress") if following is not None else r


def _checks_failed(r: Route, e: ChecksFailed) -> Route:
    return r.close("error")  # what was still running (a build that failed) ended with the round


def _change_reviewed(r: Route, e: ChangeReviewed) -> Route:
    ok = e.judge_ok and not e.guard_findings
    found = len(e.guard_findings) + (0 if e.judge_ok else 1)
    r = r.put(
        f"review-{r.checks_round}",
        "Review: in scope" if ok else f"Review: {found} finding(s)",
        "complete" if ok else "error",
    )
    for line in ([] if e.judge_ok else [f"scope judge: {e.judge_reason}"]) + [
        f"test guard: {f}" for f in e.guard_findings
    ]:
        r = r.change(f"review-{r.checks_round}", line=line)
    return r


def _build_started(r: Route, e: BuildStarted) -> Route:
    return r.put(f"build-{r.checks_round}", "Building the new version", "in_progress")


def _build_ready(r: Route, e: BuildReady) -> Route:
    names = ", ".join(a.name for a in e.artifacts)
    line = "; ".join(p for p in (names, "a preview to open" if e.preview_url else "") if p)
    return r.put(f"build-{r.checks_round}", "Built the new version", "complete", line)


def _preview_starting(r: Route, e: PreviewStarting) -> Route:
    return r.put(f"preview-{r.checks_round}", "Starting the preview", "in_progress")


def _preview_ready(r: Route, e: PreviewReady) -> Route:
    return r.put(f"preview-{r.checks_round}", "Preview running", "complete", e.url)


def _preview_failed(r: Route, e: PreviewFailed) -> Route:
    return r.put(f"preview-{r.checks_round}", "Preview failed", "error", e.reason[:200])


def _screenshots(r: Route, e: ScreenshotsTaken) -> Route:
    changed = [f"{s.route} ({s.changed:.1%})" for s in e.routes if s.changed > 0]
    line = "changed: " + ", ".join(changed) if changed else "no visible change"
    return r.put(f"shots-{r.checks_round}", "Before/after screenshots", "complete", line)


def _delivery_started(r: Route, e: DeliveryStarted) -> Route:
    return r.put(f"deliver-{r.checks_round}", "Delivering to the phone", "in_progress", e.deliver)


def _delivery_waiting(r: Route, e: DeliveryWaiting) -> Route:
    said = f"{SERVICE_NAMES[e.outcome.kind]} is processing the build ({e.waited_s / 60:.0f} min so far)"
    return r.change(f"deliver-{r.checks_round}", line=said)


def _app_delivered(r: Route, e: AppDelivered) -> Route:
    o = e.outcome
    what = " ".join(p for p in (o.title, o.version, f"({o.build})" if o.build else "") if p) or o.kind
    return r.put(f"deliver-{r.checks_round}", f"Delivered: {what}", "complete", o.url or "")


def _delivery_failed(r: Route, e: DeliveryFailed) -> Route:
    return r.put(f"deliver-{r.checks_round}", "Delivery failed", "error", e.outcome.why[:MAX_LINE])


def _pull_request(r: Route, e: PullRequestUpdated) -> Route:
    draft = "draft " if e.draft else ""
    return r.put(
        f"pr-{e.number}", f"{'Opened' if e.opened else 'Updated'} {draft}pull request #{e.number}", "complete", e.url
    )


def _task_ready(r: Route, e: TaskReady) -> Route:
    r = r.close("complete").model_copy(update={"deliveries": r.deliveries + 1})
    return r.put(f"ready-{r.deliveries}", "Ready for review", "complete", f"{e.commit[:10]}: {e.summary}")


def _merge_requested(r: Route, e: MergeRequested) -> Route:
    r = r.model_copy(update={"merges": r.merges + 1})
    return r.put(f"merge-{r.merges}", f"Merging, asked by {e.by}", "in_progress")


def _main_moved(r: Route, e: MainMoved) -> Route:
    return r.change(f"merge-{r.merges}", line=f"{e.target} moved: bringing it in and checking again")


def _merge_held(r: Route, e: MergeHeld) -> Route:
    return r.change(f"merge-{r.merges}", "Merge held", "error", e.reason)


def _merged(r: Route, e: Merged) -> Route:
    title = f"Merged into {e.target} as {e.commit[:10]}"
    step = r.get(f"merge-{r.merges}")
    if step is None or not step.open:  # merged on the forge, not through Honk
        r = r.model_copy(update={"merges": r.merges + 1})
    return r.put(f"merge-{r.merges}", title, "complete", f"approved by {e.approved_by}")


def _deploy_started(r: Route, e: DeployStarted) -> Route:
    what = "Reverting production" if e.revert else "Deploying"
    return r.put(f"deploy-{r.merges}", f"{what} {e.commit[:10]}", "in_progress")


def _deploy_held(r: Route, e: DeployHeld) -> Route:
    return r.put(f"deploy-{r.merges}", "Deploy held", "error", e.reason[:MAX_LINE])


def _deploy_finished(r: Route, e: DeployFinished) -> Route:
    o = e.outcome
    if o.state == "live":
        return r.put(f"deploy-{r.merges}", "Live in production", "complete", o.url or o.commit[:10])
    first = (o.detail.strip().splitlines() or [o.state])[0]
    return r.put(f"deploy-{r.merges}", "Deploy failed", "error", first[:MAX_LINE])


def _revert_started(r: Route, e: RevertStarted) -> Route:
    return r.put(f"revert-{e.task_id}", f"Revert asked by {e.by}", "complete", f"task {e.task_id}")


def _revert_committed(r: Route, e: RevertCommitted) -> Route:
    return r.put("revert", f"Reverted {e.reverted[:10]}", "complete", f"task {e.of_task}'s merge, as {e.commit[:10]}")


def _task_failed(r: Route, e: TaskFailed) -> Route:
    return r.close("error").put("failed", "Failed", "error", e.reason)


def _task_cancelled(r: Route, e: TaskCancelled) -> Route:
    return r.close("error").put("cancelled", f"Cancelled by {e.by}", "error")


_HANDLERS: dict[type, Callable[[Route, Any], Route]] = {
    WorkspacePreparing: _workspace_preparing,
    WorkspaceReady: _workspace_ready,
    PlanStarted: _plan_started,
    PlanProposed: _plan_proposed,
    PlanApproved: _plan_approved,
    PlanRevisionAsked: _plan_revision_asked,
    AgentStarted: _agent_started,
    AgentFinished: _agent_finished,
    ChecksStarted: _checks_started,
    CheckFinished: _check_finished,
    ChecksFailed: _checks_failed,
    ChangeReviewed: _change_reviewed,
    BuildStarted: _build_started,
    BuildReady: _build_ready,
    PreviewStarting: _preview_starting,
    PreviewReady: _preview_ready,
    PreviewFailed: _preview_failed,
    ScreenshotsTaken: _screenshots,
    DeliveryStarted: _delivery_started,
    DeliveryWaiting: _delivery_waiting,
    AppDelivered: _app_delivered,
    DeliveryFailed: _delivery_failed,
    PullRequestUpdated: _pull_request,
    TaskReady: _task_ready,
    MergeRequested: _merge_requested,
    MainMoved: _main_moved,
    MergeHeld: _merge_held,
    Merged: _merged,
    DeployStarted: _deploy_started,
    DeployHeld: _deploy_held,
    DeployFinished: _deploy_finished,
    RevertStarted: _revert_started,
    RevertCommitted: _revert_committed,
    TaskFailed: _task_failed,
    TaskCancelled: _task_cancelled,
}

# The events that change a route: the worker tells the notifier about these (and state moves).
ROUTE_EVENTS: tuple[type, ...] = tuple(_HANDLERS)
