"""Best of N (issue 20): N independent attempts at one request, ranked, one picked.

A group (`best-<hex>`, derived from the request id so a retried start is the same group) has no table of
its own: each attempt is an ordinary task submitted through TaskService.submit (the gate, the audit log,
the budget and the merge policy all apply as to a task asked alone), with request id `<group>-attempt-<i>`,
found again by that prefix (honk.store.attempts). The ranking is pure (honk.workflow.attempts_policy).
Picking records `AttemptPicked` on the chosen task and cancels the others; merging it is the usual merge.

`Attempts` is what the front doors call; `AttemptSteps` holds the `attempts_settle` activity of the group's
workflow (honk.workflow.attempts_workflow), which needs the service, so it lives here.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from honk.access import Refused
from honk.agents import AGENT_NAMES
from honk.domain import (
    ATTEMPT_GROUP,
    MAX_ATTEMPTS,
    AttemptOf,
    AttemptScore,
    AttemptsEstimate,
    AttemptsView,
    Budget,
    RepoConfig,
    RepoRef,
    SlackThread,
    TaskState,
    effective_budget,
)
from honk.errors import Conflict, NotFound, Unavailable, UserFacingError
from honk.events import AttemptPicked, TaskCancelled
from honk.gate import Actor
from honk.protocols import AttemptsNotifier
from honk.store.attempts import AttemptStore, StoredPick, attempt_request_id
from honk.workflow.attempts_policy import rank, score, top_pick
from honk.workflow.attempts_workflow import NAME, SETTLE, AttemptsInput, AttemptsSettled, workflow_id
from honk.workflow.records import CancelRequest
from honk.workflow.task_workflow import TaskWorkflow

if TYPE_CHECKING:
    from honk.service import TaskService

log = logging.getLogger("honk.attempts")
AUTO_PICKER = "honk (best of N)"


def group_for(request_id: str) -> str:
    """The group a request id names (the same id, the same group: a retried start starts nothing twice)."""
    return "best-" + hashlib.sha256(request_id.encode()).hexdigest()[:12]


def cancelled_by(attempt: int) -> str:
    """Who the group's other attempts were cancelled by, as their TaskCancelled says."""
    return f"best of N: attempt {attempt} was picked"


def _withdrawn(started: list[str], i: int, n: int, why: str) -> str:
    """What a start that failed at attempt `i` says: why, and what became of the attempts before it."""
    if not started:
        return why
    return (
        f"Attempt {i} of {n} could not start ({why}); the {len(started)} started before it "
        f"({', '.join(started)}) were cancelled, so nothing of this request runs. Ask again once it can start whole."
    )


def agent_of(agents: list[str], attempt: int) -> str | None:
    """Attempt `attempt`'s agent: the listed ones in turn (none listed: the repo's default)."""
    return agents[(attempt - 1) % len(agents)] if agents else None


class Attempts:
    def __init__(self, service: TaskService) -> None:
        self.service = service
        self.store = AttemptStore(service.store)

    # -- before it starts ---------------------------------------------------------------------------
    def check_n(self, n: int) -> None:
        """N within 2 and the server's `attempts_max_n`, else what to ask instead."""
        most = min(self.service.settings.attempts.max_n, MAX_ATTEMPTS)
        if not 2 <= n <= most:
            raise UserFacingError(
                f"Best of N takes 2 to {most} attempts; {n} were asked. "
                + ("For one attempt, ask without --attempts." if n == 1 else f"Ask for at most {most}.")
            )

    async def estimate(self, repo: str, n: int) -> AttemptsEstimate:
        """The most N attempts may cost: N × one task's cost limit, said before anything starts."""
        self.check_n(n)
        ref = await self.service.repo(repo)
        tasks = self.service.settings.tasks
        server = Budget(
            max_turns=tasks.agent_max_turns, max_cost_usd=tasks.agent_max_cost_usd, timeout_s=tasks.agent_timeout_s
        )
        config = await self._config(ref.name)
        per_task = effective_budget(server, config.agent.budget, self.service.gate.policy.budget_cap(ref.name))
        return AttemptsEstimate(n=n, per_attempt_usd=per_task.max_cost_usd)

    async def _config(self, repo: str) -> RepoConfig:
        """The repo's `.honk.toml` at its branch's head (none, or one that does not read: the defaults;
        each attempt says the file's problem when it provisions)."""
        try:
            _, config = await self.service.schedules.read_config(await self.service.repo(repo))
        except UserFacingError as e:
            log.info("best of N: %s's .honk.toml not read (%s); its defaults apply", repo, e.message)
            return RepoConfig()
        return config

    # -- start ------------------------------------------------------------------------------------
    async def start(
        self,
        actor: Actor,
        repo: str,
        text: str,
        n: int,
        agents: list[str] | None = None,
        model: str | None = None,
        request_id: str | None = None,
        slack: SlackThread | None = None,
        plan: bool = False,
    ) -> tuple[AttemptsView, bool]:
        """Starts N attempts at `text` in `repo` (each an ordinary task, checked as one) and the workflow that
        follows them; a request id used before answers that group (created False), starting only what a lost
        start left out. `agents`: used in turn (claude,codex); none: the repo's default for each."""
        self.check_n(n)
        agents = [a.strip() for a in agents or [] if a.strip()]
        for agent in agents:
            if agent not in AGENT_NAMES:
                raise UserFacingError(f"Unknown agent {agent!r}; available: {', '.join(AGENT_NAMES)}.")
        if len(agents) > n:
            raise UserFacingError(f"{len(agents)} agents were named for {n} attempts: name at most one per attempt.")
        request_id = request_id or uuid.uuid4().hex
        if len(request_id) > 150:
            raise UserFacingError("request_id is too long (150 characters at most).")
        group = group_for(request_id)
        ref = await self.service.gate.recorded(
            "request", actor, repo, lambda: self._may_start(actor, repo, text, n, agents, model, plan, group)
        )
        created, started = False, list[str]()
        for i in range(1, n + 1):
            try:
                view, made = await self.service.submit(
                    ref.name,
                    text,
                    actor,
                    agent_of(agents, i),
                    model,
                    attempt_request_id(group, i),
                    slack=None,  # one thread is one task's: the group talks there itself, once settled
                    plan=plan,
                    attempt_of=AttemptOf(group=group, attempt=i, attempts=n),
                )
            except Exception as e:
                # Checked above for all N, so only a race gets here (another task of theirs took the last
                # place meanwhile): a group missing an attempt, with no workflow to rank it, is no use.
                await self._withdraw(actor, ref.name, group, started, i, n)
                if not isinstance(e, UserFacingError):
                    raise
                said = _withdrawn(started, i, n, e.detail if isinstance(e, Refused) else e.message)
                raise (Refused(e.rule, said) if isinstance(e, Refused) else type(e)(said)) from e
            started.append(view.id)
            created = created or made
        await self._follow(AttemptsInput(group=group, poll_s=self.service.settings.attempts.poll_s, slack=slack))
        return await self.view(group), created

    async def _may_start(
        self,
        actor: Actor,
        repo: str,
        text: str,
        n: int,
        agents: list[str],
        model: str | None,
        plan: bool,
        group: str,
    ) -> RepoRef:
        """Everything each of the N submissions would check, checked for all of them before the first starts
        (the repo, the text, each attempt's agent and the policy for it, and room for the N under the
        person's limits), so a refusal starts nothing. Attempts already there (a retried start) need no
        room."""
        ref = await self.service.repo(repo)
        for agent in dict.fromkeys(agent_of(agents, i) for i in range(1, n + 1)):
            self.service.checked_request(text, agent, plan)
        missing = n - len(await self.store.of_group(group))
        if missing <= 0:
            return ref
        first, *others = dict.fromkeys(agent_of(agents, i) for i in range(1, n + 1))
        await self.service.gate.check_room(actor, ref.name, missing, agent=first, model=model)
        for agent in others:
            await self.service.gate.check("request", actor, ref.name, agent=agent, model=model)
        return ref

    async def _withdraw(self, actor: Actor, repo: str, group: str, started: list[str], i: int, n: int) -> None:
        """Cancels the attempts a start got through before attempt `i` failed (their workflows end them
        as any cancel does; one whose workflow never started is marked cancelled in the store)."""
        by = f"best of N: attempt {i} of {n} could not start"
        for task_id in started:
            try:
                await self.service.client.get_workflow_handle(task_id).signal(TaskWorkflow.cancel, CancelRequest(by=by))
            except RPCError:
                task = await self.service.store.get_task(task_id)
                if task is not None and not task.state.terminal:
                    await self.service.store.append(task_id, TaskCancelled(by=by))
            await self.service.gate.record("cancel", actor, repo, "ok", f"{group}: {by}", task_id)

    async def _follow(self, inp: AttemptsInput) -> None:
        """Starts the group's workflow (once: a retried start finds it running, or done)."""
        try:
            await self.service.client.start_workflow(
                NAME,
                inp,
                id=workflow_id(inp.group),
                task_queue=self.service.settings.temporal.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            return
        except RPCError as e:
            raise Unavailable(
                f"The attempts started, but Temporal did not take the workflow that ranks them ({e}); "
                "ask again with the same request id to finish starting it."
            ) from e

    # -- reads ------------------------------------------------------------------------------------
    async def view(self, group: str) -> AttemptsView:
        """The group, its attempts ranked best first (NotFound for no such group)."""
        if not re.fullmatch(ATTEMPT_GROUP, group):
            raise NotFound(f"{group[:80]!r} is not a best-of-N group (they are named like best-0123456789ab).")
        rows = await self.store.of_group(group)
        if not rows:
            raise NotFound(f"No best-of-N group {group}.")
        first, timeline = rows[0]
        scores = [score(view, t, t.attempt) for view, t in rows]
        stored = await self.store.picked(group)  # the pick that stands, even before its event is written
        picked = (
            (stored.task_id, stored.picked_by)
            if stored is not None
            else next(((view.id, t.picked_by) for view, t in rows if t.picked_by), (None, None))
        )
        return AttemptsView(
            group=group,
            repo=first.repo,
            text=first.text,
            n=max(timeline.attempts, len(rows)),
            requested_by=first.requested_by,
            attempts=rank(scores),
            picked=picked[0],
            picked_by=picked[1],
        )

    # -- pick -------------------------------------------------------------------------------------
    async def pick(self, group: str, task_id: str, actor: Actor) -> AttemptsView:
        """Picks attempt `task_id`: it stays (merged the usual way), the group's other attempts are cancelled.
        Whoever may cancel the requester's tasks may pick (the requester, or someone who may merge there)."""
        view = await self.view(group)
        return await self.service.gate.recorded(
            "cancel", actor, view.repo, lambda: self._checked_pick(view, task_id, actor), task_id
        )

    async def _checked_pick(self, view: AttemptsView, task_id: str, actor: Actor) -> AttemptsView:
        chosen = self._pickable(view, task_id, actor.identity)
        await self.service.gate.check("cancel", actor, view.repo, requested_by=view.requested_by, task_id=task_id)
        done = await self._pick(view, chosen, actor.identity)
        others = ", ".join(a.task_id for a in view.attempts if a.task_id != task_id)
        said = f"best of N {view.group}: picked attempt {chosen.attempt}; cancelled {others}"
        await self.service.gate.record("cancel", actor, view.repo, "ok", said, task_id)
        return done

    @staticmethod
    def _pickable(view: AttemptsView, task_id: str, by: str) -> AttemptScore:
        """The attempt to pick. Picked already by the same person, it is picked again: what an interrupted pick
        left undone (its event, the other attempts' cancels) is finished, and nothing else changes."""
        chosen = next((a for a in view.attempts if a.task_id == task_id), None)
        if chosen is None:
            listed = ", ".join(f"{a.task_id} (attempt {a.attempt})" for a in view.attempts)
            raise NotFound(f"Task {task_id[:60]!r} is not an attempt of {view.group}; its attempts are {listed}.")
        if view.picked is not None and (view.picked, view.picked_by) != (task_id, by):
            earlier = next(a.attempt for a in view.attempts if a.task_id == view.picked)
            raise Conflict(f"Attempt {earlier} of {view.group} was already picked by {view.picked_by}.")
        if chosen.state != TaskState.ready:
            raise Conflict(
                f"Attempt {chosen.attempt} is {chosen.state.value}: only an attempt that is ready can be picked "
                f"(`honk attempts show {view.group}` ranks them)."
            )
        return chosen

    async def _pick(self, view: AttemptsView, chosen: AttemptScore, by: str) -> AttemptsView:
        """Claims the group's pick in the store (of two picks at once, from any processes, one stands; the
        other is a Conflict naming it), then records it on the task and cancels the other attempts. The same
        person picking the same attempt again finishes what an interrupted pick left undone."""
        claim = StoredPick(group=view.group, task_id=chosen.task_id, attempt=chosen.attempt, picked_by=by)
        stood, won = await self.store.claim_pick(claim)
        if not won and stood != claim:
            raise Conflict(
                f"Attempt {stood.attempt} of {view.group} was already picked by {stood.picked_by} "
                f"(`honk attempts show {view.group}`)."
            )
        if won or (await self.service.timeline(chosen.task_id)).picked_by is None:
            picked = AttemptPicked(by=by, attempt=chosen.attempt, rank=chosen.rank, of=view.n)
            await self.service.store.append(chosen.task_id, picked)
        cancel = CancelRequest(by=cancelled_by(chosen.attempt))
        for other in view.attempts:
            if other.task_id == chosen.task_id or other.state.terminal or other.state == TaskState.merging:
                continue
            try:  # its workflow cancels it as any cancel does: no further work, its workspace removed
                await self.service.client.get_workflow_handle(other.task_id).signal(TaskWorkflow.cancel, cancel)
            except RPCError:
                log.info("best of N %s: attempt %s had already ended", view.group, other.task_id)
        return await self.view(view.group)

    async def auto_pick(self, group: str) -> AttemptScore | None:
        """Honk's own pick once every attempt settled, where the repo allows it: the top attempt if it is
        ready (none when none is, or someone already picked)."""
        view = await self.view(group)
        chosen = top_pick(view.attempts)
        if view.picked is not None or chosen is None:
            return None
        try:
            await self._pick(view, chosen, AUTO_PICKER)
        except Conflict:  # a person picked meanwhile: theirs stands
            return None
        return chosen


class AttemptSteps:
    """The `attempts_settle` activity of a group's workflow: nothing until every attempt settled; then the
    pick where `[attempts] auto_pick` allows it, and the ranking told where the group was asked."""

    def __init__(self, attempts: Attempts, notifier: AttemptsNotifier | None = None) -> None:
        self.attempts, self.notifier = attempts, notifier

    @activity.defn(name=SETTLE)
    async def settle(self, inp: AttemptsInput) -> AttemptsSettled:
        view = await self.attempts.view(inp.group)
        if not view.settled:
            return AttemptsSettled()
        picked = None
        if view.picked is None and (await self.attempts._config(view.repo)).attempts.auto_pick:
            chosen = await self.attempts.auto_pick(inp.group)
            picked = chosen.task_id if chosen is not None else None
            view = await self.attempts.view(inp.group)
        said = view.ranking()
        if inp.slack is not None and self.notifier is not None:
            await self.notifier.settled(view, inp.slack, picked is not None)
        log.info("best of N %s settled%s:\n%s", inp.group, f", picked {picked}" if picked else "", said)
        return AttemptsSettled(done=True, picked=picked, said=said)

    def all(self) -> list[Callable[..., object]]:
        return [self.settle]
