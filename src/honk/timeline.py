"""One reading of a task's events: the Timeline every front door shows and every step asks about.

It folds events as they arrive — an update costs the new event, never a re-read of the task's
history — and is kept with the task in Honk's store, so a task with a long history (fleets are
coming) reads in one row. Big payloads stay in their event (the diff of a `TaskReady`): the timeline
keeps the event's id.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field

from honk.domain import (
    Artifact,
    Carried,
    CheckLine,
    DeliveryOutcome,
    DeployOutcome,
    DeployState,
    Phase,
    Plan,
    RouteShots,
    TaskState,
    next_state,
)
from honk.errors import UserFacingError
from honk.events import (
    AgentFinished,
    AgentStarted,
    AnyEvent,
    AppDelivered,
    AttemptPicked,
    BuildReady,
    ChangeReviewed,
    CheckFinished,
    CiPassed,
    DeliveryFailed,
    DeliveryStarted,
    DeliveryWaiting,
    DeployFinished,
    DeployHeld,
    DeployStarted,
    FollowUpReceived,
    ForgeChecksFailed,
    Merged,
    NetworkBlocked,
    PlanApproved,
    PlanProposed,
    PreviewFailed,
    PreviewReady,
    PullRequestUpdated,
    Refreshed,
    RepoCommitted,
    RepoMerged,
    RepoPublished,
    RevertStarted,
    SafetyWarning,
    SandboxRefused,
    ScreenshotsTaken,
    StoredEvent,
    TaskAccepted,
    TaskFailed,
    TaskReady,
)
from honk.network import DEFAULT_PORTS, allowance_host
from honk.route import Route

MAX_BLOCKED_KEPT, MAX_BLOCKED_SHOWN = 50, 5
MAX_ANSWERS = 100  # review comments answered by one delivery
MAX_REFUSALS_KEPT = 50  # the newest; `refused` counts them all


class Ready(Carried):
    """The latest delivery, without its diff (that stays in the event, `event_id`)."""

    event_id: int = 0
    commit: str
    summary: str
    diffstat: str = ""
    warnings: list[str] = []
    diff_truncated: bool = False


class Timeline(Carried):
    state: TaskState = TaskState.queued
    last_event_id: int = 0
    events: int = 0
    reason: str | None = None  # why it failed
    merged_commit: str | None = None
    approved_by: str | None = None
    cost_usd: float | None = None
    model: str | None = None
    rounds: int = 0
    preview_url: str | None = None
    preview_failed: str | None = None  # why the running preview did not start, with its log's last lines
    # The latest before/after screenshots, per route, and the routes changed that the request did not name.
    shots: list[RouteShots] = []
    shots_outside: list[str] = []
    artifacts: list[Artifact] = []
    # The latest result of each check, in the order they first ran.
    checks: dict[str, CheckLine] = {}
    ready: Ready | None = None
    # The forge review comments the follow-ups since the latest delivery address, and those the latest
    # delivery addressed (its notifier replies "done in …" to each).
    answering: list[int] = []
    answered: list[int] = []
    review: ChangeReviewed | None = None
    pull_request: PullRequestUpdated | None = None
    # A task over several repos: the other repos' pull requests, by repo (the task's own is `pull_request`).
    repo_pull_requests: dict[str, PullRequestUpdated] = Field(default_factory=dict)
    # ... and each repo merged so far, in the task's order (the primary among them), with its merge commit.
    repos_merged: dict[str, str] = Field(default_factory=dict)
    # The forge's CI on the pull request: Honk's fix attempts since it last passed (a green on Honk's head
    # is news only after one), and the latest time it passed after them.
    ci_fixes: int = 0
    ci_passed: CiPassed | None = None
    refusals: list[SandboxRefused] = []
    refused: int = 0
    # What the egress proxy refused: one entry per phase, host, method and reason, its count summed.
    blocked: list[NetworkBlocked] = []
    safety_warnings: list[str] = []
    # Each agent run's head when it started, by invocation; and every commit an agent run made: a
    # retried run finds here whether an earlier attempt already committed.
    agent_heads: dict[int, str] = Field(default_factory=dict)
    agent_commits: list[str] = []
    # The same for the other repos of a task over several: their heads when each run started, by
    # invocation, and the commits Honk made there (`RepoCommitted`).
    agent_also_heads: dict[int, dict[str, str]] = Field(default_factory=dict)
    repo_commits: list[str] = []
    plan_first: bool = False  # the request asked for a plan first
    origin: str = ""  # what started the task, when no person asked at a front door
    also: list[str] = []  # the task's other repos, in merge order after its own (one change across several)
    # The latest plan the agent proposed (a task that started with one), and who approved it.
    plan: Plan | None = None
    plan_version: int = 0
    plan_approved_by: str | None = None
    # The latest delivery to the phone (a new build replaces it), and how long its service has processed it.
    delivery: DeliveryOutcome | None = None
    delivery_waited_s: float = 0.0
    # Production after merge: where the deploy stands, its latest outcome, why it is held, and the revert
    # task a person started.
    deploy_state: DeployState | None = None
    deploy: DeployOutcome | None = None
    deploy_held: str | None = None
    revert_task: str | None = None
    # The route so far, step by step (what Slack streams as task cards).
    route: Route = Route()
    # Best of N (honk.attempts): which attempt of how many this task is, and who picked it (None: not picked).
    attempt: int = 0
    attempts: int = 0
    picked_by: str | None = None

    def fold(self, event: AnyEvent, event_id: int = 0) -> Timeline:
        """The timeline once `event` (stored with `event_id`) happened too."""
        changes: dict[str, object] = {
            "state": next_state(self.state, event),
            "last_event_id": max(self.last_event_id, event_id),
            "events": self.events + 1,
            "route": self.route.fold(event),
        }
        if isinstance(event, TaskAccepted):
            changes |= {"plan_first": event.plan, "origin": event.origin, "also": event.also}
            changes |= {"attempt": event.attempt, "attempts": event.attempts}
        elif isinstance(event, TaskFailed):
            changes["reason"] = event.reason
        elif isinstance(event, Merged):
            changes |= {"merged_commit": event.commit, "approved_by": event.approved_by}
        elif isinstance(event, BuildReady):
            changes |= {"preview_url": event.preview_url, "artifacts": event.artifacts}
        elif isinstance(event, PreviewReady):
            changes |= {"preview_url": event.url, "preview_failed": None}
        elif isinstance(event, PreviewFailed):
            changes |= {"preview_failed": "\n".join(p for p in (event.reason, event.log_tail) if p), "shots": []}
        elif isinstance(event, ScreenshotsTaken):
            changes |= {"shots": event.routes, "shots_outside": event.outside}
        elif isinstance(event, AgentStarted):
            changes["rounds"] = max(self.rounds, event.round)
            if event.invocation is not None and event.head is not None and event.invocation not in self.agent_heads:
                changes["agent_heads"] = {**self.agent_heads, event.invocation: event.head}  # the first attempt's
                if event.also_heads:
                    changes["agent_also_heads"] = {**self.agent_also_heads, event.invocation: event.also_heads}
        elif isinstance(event, AgentFinished):
            if event.cost_usd is not None:
                changes["cost_usd"] = (self.cost_usd or 0.0) + event.cost_usd
            if event.model:
                changes["model"] = event.model
            if event.commit:
                changes["agent_commits"] = [*self.agent_commits, event.commit]
        elif isinstance(event, RepoCommitted):
            changes["repo_commits"] = [*self.repo_commits, event.commit]
        elif isinstance(event, CheckFinished):
            line = CheckLine(name=event.name, passed=event.passed, detail=event.distilled, duration_s=event.duration_s)
            changes["checks"] = {**self.checks, event.name: line}
        elif isinstance(event, FollowUpReceived) and event.answers:
            changes["answering"] = [*self.answering, *event.answers][-MAX_ANSWERS:]
        elif isinstance(event, TaskReady):
            changes |= {"answered": self.answering, "answering": []}
            changes["ready"] = Ready(
                event_id=event_id,
                commit=event.commit,
                summary=event.summary,
                diffstat=event.diffstat,
                warnings=event.warnings,
                diff_truncated=event.diff_truncated,
            )
        elif isinstance(event, Refreshed) and self.ready is not None:
            # The branch now holds the moved target too: its head is the delivered commit (CI on it is Honk's).
            changes["ready"] = self.ready.model_copy(update={"commit": event.commit})
        elif isinstance(event, PlanProposed):
            changes |= {"plan": event.plan, "plan_version": event.version, "plan_approved_by": None}
        elif isinstance(event, PlanApproved) and event.version == self.plan_version:
            changes["plan_approved_by"] = event.by
        elif isinstance(event, DeliveryStarted):
            changes |= {"delivery": None, "delivery_waited_s": 0.0}
        elif isinstance(event, DeliveryWaiting):
            changes |= {"delivery": event.outcome, "delivery_waited_s": event.waited_s}
        elif isinstance(event, AppDelivered | DeliveryFailed):
            changes["delivery"] = event.outcome
        elif isinstance(event, DeployStarted):
            changes |= {"deploy_state": "deploying", "deploy": None, "deploy_held": None}
        elif isinstance(event, DeployHeld):
            changes |= {"deploy_held": event.reason, "deploy_state": None}
        elif isinstance(event, DeployFinished):
            changes |= {"deploy_state": event.outcome.state, "deploy": event.outcome}
        elif isinstance(event, RevertStarted):
            changes["revert_task"] = event.task_id
        elif isinstance(event, ChangeReviewed):
            changes["review"] = event
        elif isinstance(event, RepoMerged):
            changes["repos_merged"] = {**self.repos_merged, event.repo: event.commit}
        elif isinstance(event, RepoPublished) and (pr := event.pull_request()) is not None:
            changes["repo_pull_requests"] = {**self.repo_pull_requests, event.repo: pr}
        elif isinstance(event, PullRequestUpdated):
            changes["pull_request"] = event
        elif isinstance(event, ForgeChecksFailed) and not event.skipped:
            changes["ci_fixes"] = self.ci_fixes + 1
        elif isinstance(event, CiPassed):
            changes |= {"ci_fixes": 0, "ci_passed": event}
        elif isinstance(event, SandboxRefused):
            changes |= {"refusals": [*self.refusals, event][-MAX_REFUSALS_KEPT:], "refused": self.refused + 1}
        elif isinstance(event, NetworkBlocked):
            changes["blocked"] = _blocked_with(self.blocked, event)
        elif isinstance(event, AttemptPicked):
            changes["picked_by"] = event.by
        elif isinstance(event, SafetyWarning):
            changes["safety_warnings"] = [*self.safety_warnings, event.text]
        return self.model_copy(update=changes)

    def folded(self, stored: Iterable[StoredEvent]) -> Timeline:
        timeline = self
        for e in stored:
            timeline = timeline.fold(e.event, e.id)
        return timeline

    @classmethod
    def of(cls, stored: Iterable[StoredEvent]) -> Timeline:
        return cls().folded(stored)

    def pull_requests(self, repo: str) -> dict[str, PullRequestUpdated | None]:
        """Each repo's pull request by repo name, the task's own (`repo`, its primary) among them."""
        return {repo: self.pull_request, **self.repo_pull_requests}

    def committed_by(self, invocation: int, head: str) -> str | None:
        """The head an earlier attempt of agent run `invocation` started from, when `head` (the branch
        now) is not it: that attempt committed, then its worker went before reporting."""
        first = self.agent_heads.get(invocation)
        return first if first is not None and first != head else None

    def blocked_warning(self, repo: str = "REPO") -> str | None:
        """What the egress proxy refused, said once (thread, pull request): each host with its phase,
        method, count and the command that asked, and how to allow it. Nothing retried it."""
        if not self.blocked:
            return None
        shown = [
            f"{b.method} {b.host} in {b.phase}" + (f" ×{b.times}" if b.times > 1 else "") + f" (`{b.command[:60]}`)"
            for b in self.blocked[:MAX_BLOCKED_SHOWN]
        ]
        more = len(self.blocked) - len(shown)
        allowable = self.allowable()
        host, phase = allowable[0] if len(allowable) == 1 else ("HOST", "PHASE")
        return (
            "the egress proxy refused: "
            + "; ".join(shown)
            + (f"; and {more} more" if more > 0 else "")
            + ". To allow a host, list it under [network] in .honk.toml, or an admin runs "
            f"`honk network allow {repo} {host} --phase {phase}`"
        )

    def allowable(self) -> list[tuple[str, Phase]]:
        """The refused hosts an admin could allow the repo, each with the phase that asked, in the order
        they were refused: names not listed (or a port of one that is), as `honk network allow` takes
        them (`host:port` off 80 and 443). Never an address, or a method an allowance would not add."""
        found: list[tuple[str, Phase]] = []
        for b in self.blocked:
            if b.reason not in ("not_allowed", "port"):
                continue
            try:
                host = allowance_host(b.host if b.port in DEFAULT_PORTS else f"{b.host}:{b.port}")
            except UserFacingError:
                continue
            if (host, b.phase) not in found:
                found.append((host, b.phase))
        return found

    def refusal_warning(self) -> str | None:
        """What the sandbox refused, in one line for the warnings on delivery."""
        if not self.refused:
            return None
        kinds = sorted({r.what.replace("_", " ") for r in self.refusals})
        return (
            f"the sandbox refused {self.refused} action(s) of the agent or the repo's code "
            f"({', '.join(kinds)}); see the audit log"
        )


def _blocked_with(blocked: list[NetworkBlocked], event: NetworkBlocked) -> list[NetworkBlocked]:
    key = (event.phase, event.host, event.port, event.method, event.reason)
    for i, seen in enumerate(blocked):
        if (seen.phase, seen.host, seen.port, seen.method, seen.reason) == key:
            return [*blocked[:i], seen.model_copy(update={"times": seen.times + event.times}), *blocked[i + 1 :]]
    return [*blocked, event][:MAX_BLOCKED_KEPT]
