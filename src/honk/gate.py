"""The one place where Honk decides whether someone may do something, and writes it down.

Every front door (HTTP API, CLI through it, web app, Slack) reaches Honk through TaskService, and
TaskService asks the Gate before it acts: the account's role (where the front door has accounts),
then the server's access policy. Allowed actions and refusals alike go to the audit log; a refusal
says which rule refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, time
from typing import TypeVar

from honk.access import Policy, Refused, Usage, Who
from honk.accounts import Role
from honk.domain import (
    ADMIN_ACTIONS,
    SCHEDULE_ACTIONS,
    TRIGGER_ACTIONS,
    Action,
    AuditAction,
    AuditOutcome,
    DeployOutcome,
    FrontDoor,
    Record,
    TaskRequest,
)
from honk.errors import UserFacingError
from honk.store import AuditEntry, AuditLog, Store

T = TypeVar("T")

# The least account role each action needs, where the front door has accounts.
ROLE_NEEDED: dict[Action, Role] = {
    "request": Role.requester,
    "follow_up": Role.requester,
    "merge": Role.merger,
    "cancel": Role.requester,
    "approve": Role.requester,  # a plan: the requester, or someone the policy lets merge
    "revise": Role.requester,
    "secret_set": Role.admin,  # a repo's secrets: an admin account, and the policy's `admins` for the repo
    "secret_list": Role.admin,
    "secret_remove": Role.admin,
    "network_allow": Role.admin,  # hosts allowed a repo beyond its .honk.toml: the same
    "network_list": Role.admin,
    "network_remove": Role.admin,
    "preview_revoke": Role.requester,  # a leaked link: whoever may cancel the task may stop its links
    "deploy": Role.merger,  # production: the policy's deployers (default: its mergers)
    "revert": Role.merger,
    **dict.fromkeys(SCHEDULE_ACTIONS + TRIGGER_ACTIONS, Role.admin),  # they start tasks unasked: the repo's admins
}


# How a refusal names an action ("…; merge needs a merger.").
ACTION_WORDS: dict[Action, str] = {
    "follow_up": "follow up",
    "secret_set": "setting a secret",
    "secret_list": "listing secrets",
    "secret_remove": "removing a secret",
    "network_allow": "allowing a host",
    "network_list": "listing allowed hosts",
    "network_remove": "removing an allowed host",
    "preview_revoke": "revoking preview links",
    "deploy": "deploying",
    "revert": "reverting a deploy",
    "schedule_sync": "syncing schedules",
    "schedule_pause": "pausing a schedule",
    "schedule_resume": "resuming a schedule",
    "schedule_run": "running a schedule now",
    "schedule_delete": "deleting a schedule",
    "trigger_create": "making a trigger",
    "trigger_delete": "deleting a trigger",
}


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


class Actor(Record):
    """Who is acting, and through which front door. `role` is None where there are no accounts (Slack)."""

    who: Who
    front_door: FrontDoor
    role: Role | None = None

    @property
    def identity(self) -> str:
        return self.who.identity


class Gate:
    def __init__(self, policy: Policy, store: Store, audit: AuditLog, slack_mergers: Sequence[str] = ()) -> None:
        self.policy, self.store, self.audit = policy, store, audit
        self.slack_mergers = {m.lower() for m in slack_mergers}  # the server's setting: who may merge from Slack

    def _check_slack_merger(self, actor: Actor) -> None:
        """HONK_SLACK_MERGERS narrows who may press Merge in Slack (emails or Slack ids), on top of the policy."""
        if actor.front_door != "slack" or not self.slack_mergers:
            return
        handles = {h.lower() for h in (actor.who.identity, actor.who.email, actor.who.slack_id) if h}
        if handles.isdisjoint(self.slack_mergers):
            raise Refused(
                "settings.slack.mergers",
                f"{actor.identity} is not allowed to merge from Slack here; ask someone who is.",
            )

    async def check(
        self,
        action: Action,
        actor: Actor,
        repo: str,
        *,
        requested_by: str | None = None,
        agent: str | None = None,
        model: str | None = None,
        task_id: str | None = None,
    ) -> None:
        """Raises Refused (and records it) when `actor` may not take `action`."""
        try:
            needed = ROLE_NEEDED[action]
            if actor.role is not None and not actor.role.allows(needed):
                raise Refused(
                    "accounts.role",
                    f"{actor.identity} is {_a(actor.role.value)}; {ACTION_WORDS.get(action, action)} needs "
                    f"{_a(needed.value)}.",
                )
            if action == "request":
                self.policy.check_request(actor.who, repo, agent, model, await self.usage(actor.identity))
            elif action == "follow_up":
                self.policy.check_follow_up(actor.who, repo, requested_by or "")
            elif action == "merge":
                self._check_slack_merger(actor)
                self.policy.check_merge(actor.who, repo, requested_by or "")
            elif action in ("approve", "revise"):
                if not self.policy.is_requester(actor.who, requested_by or ""):
                    self._check_slack_merger(actor)
                self.policy.check_plan(actor.who, repo, requested_by or "", action)
            elif action in ("deploy", "revert"):
                self.policy.check_deploy(actor.who, repo, datetime.now(UTC), revert=action == "revert")
            elif action in ADMIN_ACTIONS:
                self.policy.check_admin(actor.who, repo, action)
            else:  # cancel, preview_revoke: the requester, or someone who may merge there
                self.policy.check_cancel(actor.who, repo, requested_by or "")
        except Refused as refused:
            await self.record(action, actor, repo, "refused", refused.message, task_id, refused.rule)
            raise

    async def check_room(
        self, actor: Actor, repo: str, n: int, *, agent: str | None = None, model: str | None = None
    ) -> None:
        """Whether `actor` may ask `n` tasks of `repo` at once (best of N): the request check as for one,
        then the person's limits with the other n-1 counted as started, so a request that cannot start
        whole starts nothing. Refused (and recorded) with how many would fit."""
        await self.check("request", actor, repo, agent=agent, model=model)
        usage = await self.usage(actor.identity)
        fits, refused = 1, None
        for more in range(1, n):
            try:
                self.policy.check_request(actor.who, repo, agent, model, _plus(usage, more))
            except Refused as e:
                refused = e
                break
            fits = more + 1
        if refused is None:
            return
        then = (
            f"ask for at most {fits} attempts"
            if fits >= 2
            else "wait for some of their tasks to finish (or cancel some)"
        )
        e = Refused(
            refused.rule,
            f"best of {n} starts {n} tasks at once and {actor.identity} may start only {fits} more now; {then}.",
        )
        await self.record("request", actor, repo, "refused", e.message, None, e.rule)
        raise e

    def may(self, action: Action, actor: Actor, repo: str) -> bool:
        """Whether `actor` may take one of the admins' actions on the repo, asked without recording (what a
        page offers); the action itself is checked, and recorded, when it is taken."""
        assert action in ADMIN_ACTIONS, action
        if actor.role is not None and not actor.role.allows(ROLE_NEEDED[action]):
            return False
        try:
            self.policy.check_admin(actor.who, repo, action)
        except Refused:
            return False
        return True

    async def record(
        self,
        action: Action,
        actor: Actor,
        repo: str | None,
        outcome: AuditOutcome,
        detail: str,
        task_id: str | None = None,
        rule: str | None = None,
    ) -> None:
        await self.audit.add(
            AuditEntry(
                actor=actor.identity,
                front_door=actor.front_door,
                action=action,
                outcome=outcome,
                repo=repo,
                task_id=task_id,
                rule=rule,
                detail=detail,
            )
        )

    async def recorded(
        self,
        action: Action,
        actor: Actor,
        repo: str | None,
        call: Callable[[], Awaitable[T]],
        task_id: str | None = None,
    ) -> T:
        """Runs `call`; a refusal it raises (bad state, bad input) is recorded too, then re-raised."""
        try:
            return await call()
        except UserFacingError as e:
            if not isinstance(e, Refused):
                await self.record(action, actor, repo, "refused", e.message, task_id)
            raise

    # -- what the worker refuses, or grants, while a task runs --------------------------------------
    async def check_agent(
        self,
        repo: str,
        agent: str,
        model: str | None,
        *,
        requested_by: str,
        front_door: FrontDoor,
        task_id: str | None = None,
    ) -> None:
        """The repo's own config chose the agent and model after the request (a task's, a pull request
        review's): the policy may still refuse them, recorded against the requester, through the front
        door they used."""
        try:
            self.policy.check_agent(repo, agent, model)
        except Refused as refused:
            await self.audit.add(
                AuditEntry(
                    actor=requested_by,
                    front_door=front_door,
                    action="request",
                    outcome="refused",
                    repo=repo,
                    task_id=task_id,
                    rule=refused.rule,
                    detail=refused.message,
                )
            )
            raise

    async def worker_refused(self, task: TaskRequest, *refusals: WorkerRefusal) -> None:
        """What the sandbox or the agent's tool policy refused, or a change not committed for a secret."""
        await self.audit.add(
            *(
                AuditEntry(
                    actor=f"{r.source} of {task.task_id}",
                    front_door="worker",
                    action=r.action,
                    outcome=r.outcome,
                    repo=task.repo.name,
                    task_id=task.task_id,
                    rule=r.rule,
                    detail=r.detail,
                )
                for r in refusals
            )
        )

    async def check_deploy(self, task: TaskRequest, by: str, revert: bool = False) -> str | None:
        """Whether the person who merged a task (`by`, as the workflow knows them) may deploy it now: None,
        or why not (they are not a deployer; a freeze is in force), recorded as refused."""
        action: AuditAction = "revert" if revert else "deploy"
        try:
            self.policy.check_deploy(_who(by), task.repo.name, datetime.now(UTC), revert=revert)
        except Refused as refused:
            await self.audit.add(
                AuditEntry(
                    actor=by,
                    front_door="worker",
                    action=action,
                    outcome="refused",
                    repo=task.repo.name,
                    task_id=task.task_id,
                    rule=refused.rule,
                    detail=refused.message,
                )
            )
            return refused.message
        return None

    async def deployed(self, task: TaskRequest, by: str, outcome: DeployOutcome, revert: bool = False) -> None:
        """A deploy's result, in the audit log beside who asked for it (deploy history: `honk deploys`)."""
        said = f"{outcome.state.replace('_', ' ')} at {outcome.commit[:12]}"
        if outcome.state != "live" and outcome.detail:
            said += ": " + outcome.detail.strip().splitlines()[0][:200]
        await self.audit.add(
            AuditEntry(
                actor=by,
                front_door="worker",
                action="revert" if revert else "deploy",
                outcome="ok" if outcome.ok else "failed",
                repo=task.repo.name,
                task_id=task.task_id,
                detail=said,
            )
        )

    async def usage(self, identity: str) -> Usage:
        midnight = datetime.combine(datetime.now(UTC).date(), time(0), tzinfo=UTC)
        tasks = await self.store.tasks_of(identity, since=midnight)
        active = await self.store.count_active(identity)
        return Usage(active_tasks=active, tasks_today=len(tasks), usd_today=sum(t.cost_usd or 0.0 for t in tasks))


def _plus(usage: Usage, more: int) -> Usage:
    """`usage` with `more` tasks started now (they count as going and as asked today; they cost nothing yet)."""
    return usage.model_copy(update={"active_tasks": usage.active_tasks + more, "tasks_today": usage.tasks_today + more})


def _who(identity: str) -> Who:
    """A person as the workflow names them (`requested_by`, who merged): an email, or `slack:ID`."""
    slack = identity.removeprefix("slack:") if identity.startswith("slack:") else None
    return Who(identity=identity, email=identity if "@" in identity else None, slack_id=slack)


class WorkerRefusal(Record):
    """One thing the worker refused (or granted) while a task ran, for the audit log."""

    source: str  # who tried: "agent", "check", "setup", "build", "preview"
    action: AuditAction
    outcome: AuditOutcome
    rule: str
    detail: str
