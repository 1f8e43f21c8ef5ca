"""What every front door (HTTP API, CLI through it, Slack and the web app) asks of Honk.

Checks happen here, before anything is started, so bad input leaves no half-made task behind; who
may do what is the Gate's decision (honk.gate), asked here and nowhere else, and every request,
follow-up, merge and cancel — done or refused — is written to the audit log.
Front doors read through here too (never the store itself): status is served from Honk's store; the
workflow is only signalled or updated.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from honk import attachments
from honk.access.rules import Who
from honk.accounts import preview_link_key
from honk.agents import AGENT_NAMES, AGENTS_THAT_PLAN
from honk.attempts import Attempts
from honk.campaigns import Campaigns
from honk.domain import (
    MAX_REQUEST_CHARS,
    Action,
    Attachment,
    AttemptOf,
    Budget,
    DeployRecord,
    ForgeKind,
    ForgeRef,
    ForgeThread,
    HandOff,
    HandOffSource,
    HostAllowed,
    Origin,
    Phase,
    PreviewInfo,
    RefusedAttachment,
    RepoNetwork,
    RepoRef,
    Reverting,
    SecretInfo,
    SlackThread,
    TaskRequest,
    TaskState,
    TaskView,
)
from honk.errors import Conflict, Forbidden, NotFound, Unavailable, UserFacingError
from honk.events import (
    AgentFinished,
    AnyEvent,
    AttachmentsReceived,
    FollowUpReceived,
    RepoPullRequestClosed,
    RevertStarted,
    StoredEvent,
    TaskAccepted,
    TaskReady,
)
from honk.gate import Actor, Gate
from honk.network import Ceiling, allowance_host, allowance_phases, expand
from honk.preview_links import ENTER_PATH, PreviewLinks, preview_origin
from honk.redaction import redact
from honk.scheduling import Schedules
from honk.settings import Settings
from honk.store import (
    AttachmentStore,
    AuditEntry,
    AuditQuery,
    NetworkAllowances,
    PreviewRegistry,
    RepoSecrets,
    SecretKeys,
    Store,
)
from honk.store.deploys import DeployHistory
from honk.store.forge_threads import ForgeThreads
from honk.store.secrets import secret_name
from honk.store.slack import SlackStore
from honk.timeline import Timeline
from honk.workflow.policy import review_id, task_id_for
from honk.workflow.pull_review import PullReviewWorkflow
from honk.workflow.records import (
    AutofixSwitch,
    CancelRequest,
    CiFailure,
    CiPassing,
    DeployDecision,
    FollowUp,
    MergeDecision,
    PlanDecision,
    PullReviewInput,
    PullReviewStarted,
    TargetMoved,
    TaskInput,
)
from honk.workflow.task_workflow import NOT_READY, TaskWorkflow
from honk.workspace.git import check_remote_branch, without_credentials
from honk.workspace.worktrees import mirror_path, task_branch, task_ref

REPO_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# A preview's idle stop counts from its last access: recorded at most this often per preview (the
# web server sees every request), and a stopped one is asked to wake at most this often.
PREVIEW_TOUCH_EVERY_S = 5.0
PREVIEW_WAKE_EVERY_S = 5.0
# A hand-off's summary: the events read for it (pages of 1,000), and its size.
HAND_OFF_EVENT_PAGES = 50
MAX_HAND_OFF_SUMMARY = 200_000


T = TypeVar("T")


ATTACHMENT_SWEEP_S = 3600.0
CATCH_UP_S = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)  # a merge waits at most ~6 s for a workflow behind its store


class TaskService:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        client: Client,
        gate: Gate,
        *,
        ceiling: Ceiling,
        setup_ceiling: Ceiling | None = None,
    ) -> None:
        """`ceiling`: the operator's (HONK_EGRESS_CEILING), which bounds what admins may allow a repo;
        `setup_ceiling`: setup's, where it is wider (HONK_SANDBOX_SETUP_NETWORK)."""
        self.settings, self.store, self.client, self.gate = settings, store, client, gate
        self.ceiling, self.setup_ceiling = ceiling, setup_ceiling
        self.schedules = Schedules(client, settings, self)  # issue 19, part B: [[schedule]] as Temporal schedules
        self.campaigns = Campaigns(self)  # issue 20: one request across many repos
        self.attempts = Attempts(self)  # issue 20: best of N
        self.attachments = AttachmentStore(store)
        self._swept_at: float | None = None  # when this process last forgot expired attachments (monotonic)
        self.repo_secrets = RepoSecrets(store, SecretKeys(settings.secrets_keys(), settings.secrets_key_file))
        self.allowances = NetworkAllowances(store)
        self.previews = PreviewRegistry(store)
        self.deploy_history = DeployHistory(store)
        self.forge_threads = ForgeThreads(store)
        self._preview_links: PreviewLinks | None = None
        # Per preview: (monotonic time, what was read) / when it was last touched / woken, in this process.
        self._previews_read: dict[str, tuple[float, PreviewInfo | None]] = {}
        self._previews_touched: dict[str, float] = {}
        self._previews_woken: dict[str, float] = {}

    # -- repos --------------------------------------------------------------------------
    async def add_repo(self, name: str, url: str, branch: str = "main", forge: ForgeRef | None = None) -> RepoRef:
        if not REPO_NAME_RE.fullmatch(name) or ".." in name:
            raise UserFacingError(f"Repo name {name!r} is not allowed: use letters, digits, '.', '_' and '-'.")
        if not url.strip() or url.startswith("-"):
            raise UserFacingError(f"{url!r} is not a git URL or path.")
        url = _normalise_url(url)
        await check_remote_branch(url, branch)
        repo = RepoRef(name=name, url=url, branch=branch, forge=forge)
        if not await self.store.add_repo(repo):
            raise Conflict(f"A repo named {name!r} already exists.")
        return repo

    async def repo(self, name: str) -> RepoRef:
        repo = await self.store.get_repo(name)
        if repo is None:
            known = ", ".join(r.name for r in await self.store.list_repos()) or "none yet (honk repo add NAME URL)"
            raise NotFound(f"Unknown repo {name!r}. Known repos: {known}.")
        return repo

    async def repos(self) -> list[RepoRef]:
        return await self.store.list_repos()

    async def config_problem(self, repo: str) -> str | None:
        """The `.honk.toml` problem that failed the repo's latest task, if its latest task failed on one."""
        return await self.store.config_problem(repo)

    # -- a repo's schedules and triggers: admins only, each change in the audit log ------------------
    async def managed(
        self, action: Action, actor: Actor, repo: str, what: str, change: Callable[[str], Awaitable[T]]
    ) -> T:
        """`change(repo)` (the repo's own name), if the gate lets `actor` take `action` on the repo: refusals
        and the change (`what`: "paused nightly") go in the audit log. For schedules and triggers, which start
        tasks nobody asked for at the time (honk.scheduling, honk.triggering)."""

        async def checked() -> T:
            ref = await self.repo(repo)
            await self.gate.check(action, actor, ref.name)
            done = await change(ref.name)
            await self.gate.record(action, actor, ref.name, "ok", what)
            return done

        return await self.gate.recorded(action, actor, repo, checked)

    # -- repo secrets: admins only; values go in and never come out ----------------------------
    async def set_secret(self, actor: Actor, repo: str, name: str, value: str) -> SecretInfo:
        """Sets (or replaces) one of the repo's secrets. The value is kept only encrypted; the audit log
        gets its name."""
        return await self.gate.recorded("secret_set", actor, repo, lambda: self._set_secret(actor, repo, name, value))

    async def _set_secret(self, actor: Actor, repo: str, name: str, value: str) -> SecretInfo:
        ref = await self.repo(repo)
        await self.gate.check("secret_set", actor, ref.name)
        info = await self.repo_secrets.put(ref.name, name, value, actor.identity)
        done = "set" if info.created_at == info.updated_at else "replaced"
        await self.gate.record("secret_set", actor, ref.name, "ok", f"{done} {info.name}")
        return info

    async def secrets(self, actor: Actor, repo: str) -> list[SecretInfo]:
        """The repo's secrets by name, with when and by whom each was set; never their values."""
        return await self.gate.recorded("secret_list", actor, repo, lambda: self._secrets(actor, repo))

    async def _secrets(self, actor: Actor, repo: str) -> list[SecretInfo]:
        ref = await self.repo(repo)
        await self.gate.check("secret_list", actor, ref.name)
        return await self.repo_secrets.names(ref.name)

    async def remove_secret(self, actor: Actor, repo: str, name: str) -> None:
        await self.gate.recorded("secret_remove", actor, repo, lambda: self._remove_secret(actor, repo, name))

    async def _remove_secret(self, actor: Actor, repo: str, name: str) -> None:
        ref = await self.repo(repo)
        await self.gate.check("secret_remove", actor, ref.name)
        name = secret_name(name)
        if not await self.repo_secrets.remove(ref.name, name):
            raise NotFound(f"{ref.name} has no secret {name} (`honk secret list {ref.name}` shows its secrets).")
        await self.gate.record("secret_remove", actor, ref.name, "ok", f"removed {name}")

    # -- hosts allowed a repo beyond its .honk.toml: admins only, within the operator's ceiling ------
    async def allow_host(self, actor: Actor, repo: str, host: str, phases: Sequence[str]) -> HostAllowed:
        """Allows the repo's later sandboxes of `phases` to reach `host` (a preset or a host name), added to
        what its `.honk.toml` lists. Nothing is re-run: whoever asked asks again or follows up."""
        return await self.gate.recorded(
            "network_allow", actor, repo, lambda: self._allow_host(actor, repo, host, phases)
        )

    async def _allow_host(
        self, actor: Actor, repo: str, host: str, phases: Sequence[str], task_id: str | None = None
    ) -> HostAllowed:
        ref = await self.repo(repo)
        await self.gate.check("network_allow", actor, ref.name, task_id=task_id)
        host, wanted = allowance_host(host), allowance_phases(phases)
        if task_id is not None:
            timeline = await self.timeline(task_id)
            if any((host, phase) not in timeline.allowable() for phase in wanted):
                raise UserFacingError(
                    f"The egress proxy did not refuse {host} in {' or '.join(wanted)} for task {task_id}: a task's "
                    f"button allows only what it was refused. An admin can still run `honk network allow {ref.name} "
                    f"{host} --phase {wanted[0]}`."
                )
        for phase in wanted:
            self._within_ceiling(host, phase)
        allowance, added = await self.allowances.allow(ref.name, host, wanted, actor.identity)
        done = (
            f"allowed {host} for {', '.join(added)}" if added else f"{host} was already allowed for {', '.join(wanted)}"
        )
        await self.gate.record("network_allow", actor, ref.name, "ok", done, task_id)
        return HostAllowed(allowance=allowance, added=list(added))

    async def allow_refused_host(
        self, actor: Actor, task_id: str, host: str, phase: str
    ) -> tuple[TaskView, HostAllowed]:
        """*Allow host for this repo*, pressed under a task's message: allows the repo a host the egress
        proxy refused that task in that phase (nothing else), recorded against the task. Nothing is re-run."""
        view = await self.task(task_id)
        allowed = await self.gate.recorded(
            "network_allow",
            actor,
            view.repo,
            lambda: self._allow_host(actor, view.repo, host, [phase], task_id),
            task_id,
        )
        return view, allowed

    def _within_ceiling(self, host: str, phase: Phase) -> None:
        ceiling = self.setup_ceiling if phase == "setup" and self.setup_ceiling is not None else self.ceiling
        for name in expand([host]):
            if not ceiling.allows(name):
                shown = host if name == host else f"{host} ({name})"
                raise Forbidden(
                    f"{shown} is beyond what this server lets any repo reach in {phase}: the operator's "
                    f"HONK_EGRESS_CEILING allows {', '.join(ceiling.entries) or 'nothing'}. Ask the operator "
                    "to add it to HONK_EGRESS_CEILING first."
                )

    async def network(self, actor: Actor, repo: str) -> RepoNetwork:
        """The hosts admins allowed the repo, with who allowed each and when, and the operator's ceiling.
        (The repo's `.honk.toml` is read per task, from its target branch: it is not here.)"""
        return await self.gate.recorded("network_list", actor, repo, lambda: self._network(actor, repo))

    async def _network(self, actor: Actor, repo: str) -> RepoNetwork:
        ref = await self.repo(repo)
        await self.gate.check("network_list", actor, ref.name)
        setup = self.setup_ceiling
        return RepoNetwork(
            repo=ref.name,
            allowed=await self.allowances.listed(ref.name),
            ceiling=list(self.ceiling.entries),
            setup_ceiling=list(setup.entries) if setup is not None else None,
        )

    async def disallow_host(self, actor: Actor, repo: str, host: str) -> None:
        """Removes a host admins allowed the repo (every phase of it); what `.honk.toml` lists stays."""
        await self.gate.recorded("network_remove", actor, repo, lambda: self._disallow_host(actor, repo, host))

    async def _disallow_host(self, actor: Actor, repo: str, host: str) -> None:
        ref = await self.repo(repo)
        await self.gate.check("network_remove", actor, ref.name)
        host = allowance_host(host)
        if not await self.allowances.remove(ref.name, host):
            raise NotFound(
                f"No admin allowed {host} for {ref.name} (`honk network list {ref.name}` shows what was allowed; "
                "hosts in its .honk.toml are changed there)."
            )
        await self.gate.record("network_remove", actor, ref.name, "ok", f"removed {host}")

    def may_manage(self, actor: Actor, repo: str) -> bool:
        """Whether `actor` may allow the repo hosts (nothing recorded): whether a page offers the button."""
        return self.gate.may("network_allow", actor, repo)

    # -- reads ------------------------------------------------------------------------------
    async def tasks(
        self, repo: str | None = None, state: TaskState | None = None, requested_by: str | None = None, limit: int = 100
    ) -> list[TaskView]:
        return await self.store.list_tasks(repo=repo, state=state, requested_by=requested_by, limit=limit)

    async def events(self, task_id: str, after_id: int = 0, limit: int = 1000) -> list[StoredEvent]:
        return await self.store.events(task_id, after_id=after_id, limit=limit)

    async def timeline(self, task_id: str) -> Timeline:
        """The task's one reading of its events (NotFound for no such task)."""
        timeline = await self.store.timeline(task_id)
        if timeline is None:
            raise NotFound(f"No task {task_id!r}.")
        return timeline

    async def delivered_diff(self, timeline: Timeline) -> str:
        """The diff of the task's latest delivery (it stays in that event, not in the timeline)."""
        ready = await self.store.event(timeline.ready.event_id) if timeline.ready else None
        return ready.event.diff if ready is not None and isinstance(ready.event, TaskReady) else ""

    async def audit(self, query: AuditQuery) -> list[AuditEntry]:
        return await self.gate.audit.find(query)

    async def stats(self) -> tuple[dict[str, int], float]:
        """Tasks by state, and what all tasks' agents cost so far (for /metrics)."""
        return await self.store.state_counts(), await self.store.total_cost()

    # -- tasks --------------------------------------------------------------------------
    async def _forget_expired_attachments(self) -> None:
        """Attachments are kept for days: looking for expired ones once an hour (at the next request), not at
        every request, spares a burst of requests a write each."""
        now = time.monotonic()
        if self._swept_at is not None and now - self._swept_at < ATTACHMENT_SWEEP_S:
            return
        self._swept_at = now
        await self.attachments.forget_before(datetime.now(UTC) - timedelta(days=self.settings.tasks.attachment_days))

    async def submit(
        self,
        repo: str,
        text: str,
        actor: Actor,
        agent: str | None = None,
        model: str | None = None,
        request_id: str | None = None,
        slack: SlackThread | None = None,
        files: list[attachments.Incoming] | None = None,
        plan: bool = False,
        forge_thread: ForgeThread | None = None,
        origin: Origin | None = None,
        campaign: str | None = None,
        budget_cap: Budget | None = None,
        attempt_of: AttemptOf | None = None,
        also: list[str] | None = None,
    ) -> tuple[TaskView, bool]:
        """`files`: what came with the request; each is kept or refused on its own
        (honk.attachments), and the task goes on with those kept. `plan`: the agent proposes a plan
        first, and changes nothing until a person approves it. `forge_thread`: the issue or pull request
        it was asked on (Honk answers there); `origin`: what started it, when no person asked.
        `campaign`: the campaign it is one repo of (told as the task moves); `budget_cap`: a cap on its
        budget on top of the repo's and the policy's (the campaign's share); `attempt_of`: the best-of-N
        group it is one attempt of (honk.attempts). `also`: more repos the one change spans (issue 20),
        merged in this order after `repo`; each is gated like `repo`."""
        return await self.gate.recorded(
            "request",
            actor,
            repo,
            lambda: self._submit(
                repo,
                text,
                actor,
                agent,
                model,
                request_id,
                slack,
                files,
                plan,
                forge_thread=forge_thread,
                origin=origin,
                campaign=campaign,
                budget_cap=budget_cap,
                attempt_of=attempt_of,
                also=also or [],
            ),
        )

    async def _also(
        self, repo: str, also: list[str], actor: Actor, agent: str | None, model: str | None
    ) -> list[RepoRef]:
        """The other repos of a task over several, each known and each one `actor` may ask changes of
        (refusals audited per repo, as for the first): named once each, within the server's limit."""
        names = [n.strip() for n in also if n.strip()]
        if not names:
            return []
        cap = self.settings.tasks.max_repos_per_task
        if len(names) + 1 > cap:
            raise UserFacingError(
                f"A task may change at most {cap} repos together; this one names {len(names) + 1}. "
                "Split the change, or start a campaign for many repos."
            )
        seen = {repo.lower()}
        for name in names:
            if name.lower() in seen:
                raise UserFacingError(f"Repo {name!r} is named twice; name each repo of the change once.")
            seen.add(name.lower())
        refs = [await self.repo(name) for name in names]
        for ref in refs:
            await self.gate.check("request", actor, ref.name, agent=agent, model=model)
        return refs

    async def may_request(self, repo: str, actor: Actor) -> RepoRef:
        """Whether `actor` may ask for a change of `repo` (NotFound, Refused), before anything is
        fetched or started: a form shows the refusal on its field. `submit` checks again."""
        return await self.gate.recorded("request", actor, repo, lambda: self._may_request(repo, actor))

    async def _may_request(self, repo: str, actor: Actor) -> RepoRef:
        ref = await self.repo(repo)
        await self.gate.check("request", actor, ref.name)
        return ref

    async def _submit(
        self,
        repo: str,
        text: str,
        actor: Actor,
        agent: str | None,
        model: str | None,
        request_id: str | None,
        slack: SlackThread | None,
        files: list[attachments.Incoming] | None = None,
        plan: bool = False,
        reverts: Reverting | None = None,
        forge_thread: ForgeThread | None = None,
        origin: Origin | None = None,
        campaign: str | None = None,
        budget_cap: Budget | None = None,
        attempt_of: AttemptOf | None = None,
        also: list[str] | None = None,
    ) -> tuple[TaskView, bool]:
        text = self.checked_request(text, agent, plan)
        ref = await self.repo(repo)
        others = await self._also(ref.name, also or [], actor, agent, model)
        request_id = request_id or uuid.uuid4().hex
        if len(request_id) > 200:
            raise UserFacingError("request_id is too long (200 characters at most).")
        task_id = task_id_for(request_id)
        requested_by = actor.identity
        if (known := await self.store.get_task(task_id)) is not None:
            # A retried submission: the same task, as first asked (never this call's text), and only
            # its own requester may revive one whose start was lost.
            if known.requested_by != requested_by:
                raise Conflict(f"request_id {request_id!r} was already used by {known.requested_by}'s request.")
            if known.state == TaskState.queued:
                await self._start(
                    TaskRequest(
                        task_id=task_id,
                        request_id=request_id,
                        repo=await self.repo(known.repo),
                        text=known.text,
                        requested_by=known.requested_by,
                        agent=known.agent,
                        model=known.model,
                        front_door=actor.front_door,
                        slack=slack,
                        attachments=[a for a, _ in await self.attachments.files(task_id)],
                        plan=(first := await self.store.timeline(task_id) or Timeline()).plan_first,
                        forge_thread=forge_thread,
                        origin=origin,
                        campaign=campaign,
                        budget_cap=budget_cap,
                        **_attempt_fields(attempt_of),
                        also=[await self.repo(name) for name in first.also],
                    )
                )
            return known, False
        await self.gate.check("request", actor, ref.name, agent=agent, model=model)
        kept, refused = _attachments(files or [])
        req = TaskRequest(
            task_id=task_id,
            request_id=request_id,
            repo=ref,
            text=text,
            requested_by=requested_by,
            agent=agent,
            model=model,
            front_door=actor.front_door,
            slack=slack,
            attachments=[a for a, _ in kept],
            plan=plan,
            reverts=reverts,
            forge_thread=forge_thread,
            origin=origin,
            campaign=campaign,
            budget_cap=budget_cap,
            **_attempt_fields(attempt_of),
            also=others,
        )
        accepted = TaskAccepted(
            repo=ref.name,
            text=text,
            requested_by=requested_by,
            agent=agent or "repo default",
            plan=plan,
            origin=origin.detail if origin else "",
            **_attempt_fields(attempt_of),
            also=[r.name for r in others],
        )
        # Accepted with the task in one write; with files, once they are kept (their rows name the task).
        with_files = bool(kept or refused)
        view, created = await self.store.create_task(req, task_branch(task_id), [] if with_files else [accepted])
        if created:
            if kept:
                await self.attachments.keep(task_id, kept)
            if with_files:
                await self.store.append(task_id, accepted, AttachmentsReceived(kept=req.attachments, refused=refused))
            await self._forget_expired_attachments()
            await self.gate.record("request", actor, ref.name, "ok", text[:200], task_id)
            if forge_thread is not None:
                await self.forge_threads.link(
                    forge_thread.forge, forge_thread.repo, forge_thread.number, task_id, forge_thread.pull_request
                )
        # Also on a retry: a submission that died between the record and the start is completed now.
        await self._start(req)
        return (await self.task(task_id)), created

    @staticmethod
    def checked_request(text: str, agent: str | None, plan: bool = False) -> str:
        """The request's text as Honk keeps it (stripped, secrets redacted), or a UserFacingError saying what
        is wrong with it: empty, too long, an unknown agent, a plan from an agent that cannot plan. A task's
        and a campaign's requests are checked alike (honk.campaigns)."""
        text = redact(text.strip())  # a pasted token never reaches the agent, the history or a page
        if not text:
            raise UserFacingError("The request is empty: say what should change.")
        if len(text) > MAX_REQUEST_CHARS:
            raise UserFacingError(
                f"The request is {len(text):,} characters; the limit is {MAX_REQUEST_CHARS:,}. "
                "Put long context in a file in the repo and refer to it."
            )
        if agent is not None and agent not in AGENT_NAMES:
            raise UserFacingError(f"Unknown agent {agent!r}; available: {', '.join(AGENT_NAMES)}.")
        if plan and agent is not None and agent not in AGENTS_THAT_PLAN:
            raise UserFacingError(
                f"The {agent} agent cannot plan first: it runs its command, which changes files. "
                f"Ask without a plan, or with an agent that plans ({', '.join(AGENTS_THAT_PLAN)})."
            )
        return text

    async def _start(self, req: TaskRequest) -> None:
        try:
            await self.client.start_workflow(
                TaskWorkflow.run,
                TaskInput(
                    request=req,
                    heartbeat_timeout_s=self.settings.temporal.heartbeat_timeout_s,
                    forge_poll_s=self.settings.forges.forge_poll_s,
                ),
                id=req.task_id,
                task_queue=self.settings.temporal.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            return
        except RPCError as e:
            try:  # an answer may have been lost although the start happened
                await self.client.get_workflow_handle(req.task_id).describe()
                return
            except RPCError:
                pass
            await self.store.delete_task(req.task_id)  # nothing half-made stays behind
            raise Unavailable(f"Temporal did not accept the task ({e}); nothing was started. Try again.") from e

    async def task(self, task_id: str) -> TaskView:
        view = await self.store.get_task(task_id)
        if view is None:
            raise NotFound(f"No task {task_id!r}.")
        return view

    async def follow_up(
        self,
        task_id: str,
        text: str,
        actor: Actor,
        files: list[attachments.Incoming] | None = None,
        answers: Sequence[int] = (),
    ) -> TaskView:
        """`files`: what came with the follow-up (a new screenshot), each kept or refused as a request's.
        `answers`: the forge review comments it addresses (the next delivery replies to each)."""
        return await self.gate.recorded(
            "follow_up", actor, None, lambda: self._follow_up(task_id, text, actor, files or [], answers), task_id
        )

    async def _follow_up(
        self, task_id: str, text: str, actor: Actor, files: list[attachments.Incoming], answers: Sequence[int] = ()
    ) -> TaskView:
        by = actor.identity
        text = redact(text.strip())  # a pasted token never reaches the agent, the history or a page
        if not text:
            raise UserFacingError("The follow-up is empty: say what should change.")
        if len(text) > MAX_REQUEST_CHARS:
            raise UserFacingError(f"The follow-up is longer than {MAX_REQUEST_CHARS:,} characters.")
        view = await self.task(task_id)
        await self.gate.check("follow_up", actor, view.repo, requested_by=view.requested_by, task_id=task_id)
        if view.state.terminal:
            raise Conflict(f"Task {task_id} is {view.state.value}; a follow-up cannot change it. Start a new request.")
        if view.state == TaskState.merging:
            raise Conflict(f"Task {task_id} is being merged; start a new request for further changes.")
        kept, refused = _attachments(files)
        if kept:  # before the signal: the worker that applies the follow-up reads them from the store
            await self.attachments.keep(task_id, kept)
        follow_up = FollowUp(text=text, by=by, attachments=[a for a, _ in kept], answers=list(answers))
        try:
            await self.client.get_workflow_handle(task_id).signal(TaskWorkflow.follow_up, follow_up)
        except RPCError as e:
            await self.attachments.forget([a.id for a, _ in kept])  # nothing half-done stays behind
            raise Conflict(f"Task {task_id} has already finished; start a new request.") from e
        received: list[AnyEvent] = [FollowUpReceived(text=text, by=by, answers=list(answers))]
        if kept or refused:
            received.append(AttachmentsReceived(kept=follow_up.attachments, refused=refused))
        await self.store.append(task_id, *received)
        await self.gate.record("follow_up", actor, view.repo, "ok", text[:200], task_id)
        return await self.task(task_id)

    async def merge(self, task_id: str, actor: Actor) -> TaskView:
        return await self.gate.recorded("merge", actor, None, lambda: self._merge(task_id, actor), task_id)

    async def _merge(self, task_id: str, actor: Actor) -> TaskView:
        view = await self.task(task_id)
        await self.gate.check("merge", actor, view.repo, requested_by=view.requested_by, task_id=task_id)
        if view.state == TaskState.merged:
            raise Conflict(f"Task {task_id} is already merged as {view.merged_commit}.")
        if view.state != TaskState.ready:
            raise Conflict(f"Task {task_id} is {view.state.value}; it can be merged only when ready.")
        waits = iter(CATCH_UP_S)
        while True:
            try:
                await self.client.get_workflow_handle(task_id).execute_update(
                    TaskWorkflow.merge, MergeDecision(by=actor.identity)
                )
                break
            except WorkflowUpdateFailedError as e:
                # The store says ready as soon as the verify step that delivered the change wrote so; the
                # workflow, once that step has reported back (moments later): a merge in between waits for it.
                wait_s = next(waits, None)
                behind = getattr(e.cause, "type", None) == NOT_READY
                if wait_s is None or not behind or (await self.task(task_id)).state != TaskState.ready:
                    raise Conflict(getattr(e.cause, "message", None) or str(e)) from e
                await asyncio.sleep(wait_s)
            except RPCError as e:
                now = await self.task(task_id)
                raise Conflict(f"Task {task_id} is {now.state.value}; it can no longer be merged.") from e
        await self.gate.record("merge", actor, view.repo, "ok", f"approved {view.branch}", task_id)
        return await self.task(task_id)

    async def approve_plan(self, task_id: str, actor: Actor, version: int | None = None) -> TaskView:
        """Approves the plan waiting on the task (`version`: the one the person saw; None: the current)."""
        decision = PlanDecision(by=actor.identity, approve=True, version=version)
        return await self.gate.recorded(
            "approve", actor, None, lambda: self._decide_plan(task_id, actor, decision), task_id
        )

    async def revise_plan(self, task_id: str, text: str, actor: Actor, version: int | None = None) -> TaskView:
        """Asks the agent to revise the plan waiting on the task, with what should change."""
        text = redact(text.strip())
        decision = PlanDecision(by=actor.identity, approve=False, version=version, text=text)
        return await self.gate.recorded(
            "revise", actor, None, lambda: self._decide_plan(task_id, actor, decision), task_id
        )

    async def _decide_plan(self, task_id: str, actor: Actor, decision: PlanDecision) -> TaskView:
        action: Action = "approve" if decision.approve else "revise"
        if not decision.approve and not decision.text:
            raise UserFacingError("Say what should change in the plan.")
        if len(decision.text) > MAX_REQUEST_CHARS:
            raise UserFacingError(f"The changes asked are longer than {MAX_REQUEST_CHARS:,} characters.")
        view = await self.task(task_id)
        await self.gate.check(action, actor, view.repo, requested_by=view.requested_by, task_id=task_id)
        if view.state != TaskState.plan_ready:
            which = "No plan is" if decision.version is None else f"Plan v{decision.version} is no longer"
            raise Conflict(f"{which} waiting for a decision on {task_id}: the task is {view.state.value}.")
        try:
            await self.client.get_workflow_handle(task_id).execute_update(TaskWorkflow.decide_plan, decision)
        except WorkflowUpdateFailedError as e:
            raise Conflict(getattr(e.cause, "message", None) or str(e)) from e
        except RPCError as e:
            now = await self.task(task_id)
            raise Conflict(f"Task {task_id} is {now.state.value}; there is no plan waiting for a decision.") from e
        said = "approved the plan" if decision.approve else decision.text[:200]
        await self.gate.record(action, actor, view.repo, "ok", said, task_id)
        return await self.task(task_id)

    async def cancel(self, task_id: str, actor: Actor, close_comment: str | None = None) -> TaskView:
        """Cancels the task. Its pull request stays open (a draft) unless `close_comment` is given: then the
        task closes it with that comment once its steps have stopped (a campaign cancelled with
        `on_cancel="close"`)."""
        return await self.gate.recorded(
            "cancel", actor, None, lambda: self._cancel(task_id, actor, close_comment), task_id
        )

    async def _cancel(self, task_id: str, actor: Actor, close_comment: str | None = None) -> TaskView:
        view = await self.task(task_id)
        await self.gate.check("cancel", actor, view.repo, requested_by=view.requested_by, task_id=task_id)
        if view.state.terminal:
            raise Conflict(f"Task {task_id} is already {view.state.value}.")
        if view.state == TaskState.merging:
            raise Conflict(f"Task {task_id} is being merged and cannot be cancelled now.")
        try:
            await self.client.get_workflow_handle(task_id).signal(
                TaskWorkflow.cancel, CancelRequest(by=actor.identity, close_comment=close_comment)
            )
        except RPCError as e:
            raise Conflict(f"Task {task_id} has already finished.") from e
        await self.gate.record("cancel", actor, view.repo, "ok", "cancel", task_id)
        return await self.task(task_id)

    # -- the forge as a front door (honk.forgedoor) ---------------------------------------------------
    async def forge_repo(self, forge: ForgeKind, full_name: str) -> RepoRef | None:
        """The Honk repo that is `full_name` on `forge` (forges match names without case); None when Honk
        does not work on it."""
        wanted = full_name.lower()
        for repo in await self.store.list_repos():
            if repo.forge is not None and repo.forge.kind == forge and repo.forge.project.lower() == wanted:
                return repo
        return None

    def forge_actor(self, forge: ForgeKind, login: str) -> Actor | None:
        """The person behind a forge login, as the access policy lists them (`github = "login"` in their
        [users] entry); None when it does not: the forge front door obeys only people the policy names."""
        who = Who(identity=f"{forge}:{login}")
        if not login or not self.gate.policy.lists(who):
            return None
        return Actor(who=who, front_door="forge")

    async def forge_task(
        self, forge: ForgeKind, full_name: str, number: int, head_branch: str = "", pull_request: bool = True
    ) -> TaskView | None:
        """The task that answers on issue or pull request `number`: the one linked to it; for a pull request
        of another repo of a task over several, that task (by the number its RepoPublished recorded); or, for
        a pull request of a Honk task branch (`honk/<task>`, in the task's repo or one of its others) not
        linked yet, that task (linked now). `pull_request` False: an issue (GitLab numbers issues apart from
        merge requests, so an issue's number says nothing of a pull request's)."""
        linked = await self.forge_threads.get(forge, full_name, number)
        if linked is not None:
            return await self.store.get_task(linked.task_id)
        repo = await self.forge_repo(forge, full_name) if pull_request else None
        if repo is None:
            return None
        # Another repo's pull request of a task over several, as its RepoPublished recorded it.
        other = await self.store.task_of_pull_request(repo.name, number)
        if other is not None:
            return await self.store.get_task(other)
        view = await self.branch_task(repo, head_branch) if head_branch else None
        if view is not None:
            await self.forge_threads.link(forge, full_name, number, view.id, pull_request=True)
        return view

    async def branch_task(self, repo: RepoRef, branch: str) -> TaskView | None:
        """The repo's task whose branch is `branch` (`honk/<task>`), if any: the task's own repo, or one of
        its other repos (one change across several: every repo's branch has the task's name)."""
        prefix = task_branch("")
        task_id = branch[len(prefix) :] if branch.startswith(prefix) else ""
        view = await self.store.get_task(task_id) if task_id else None
        if view is None:
            return None
        return view if view.repo == repo.name or await self.store.has_other_repo(view.id, repo.name) else None

    async def other_repo_closed(self, task_id: str, repo: str, number: int, merged: bool, by: str) -> bool:
        """Records that another repo's pull request of a task over several was merged or closed on the forge
        (a signed forge event). False when there is nothing to record: the task has ended, or it is being
        merged (its own merges close its pull requests, whoever the forge says did it)."""
        view = await self.task(task_id)
        if view.state.terminal or view.state == TaskState.merging:
            return False
        await self.store.append(task_id, RepoPullRequestClosed(repo=repo, number=number, merged=merged, by=by[:200]))
        return True

    async def tasks_waiting_on(self, repo: str) -> list[TaskView]:
        """The repo's tasks ready for review (a push to their target may conflict with them)."""
        return await self.store.list_tasks(repo=repo, state=TaskState.ready, limit=500)

    async def ci_failed(self, task_id: str, failure: CiFailure) -> bool:
        """Tells the task that the forge's CI failed on its pull request (a signed forge event: no person
        to check); the workflow decides whether to try a fix. False when the task has ended."""
        return await self._tell_open_task(task_id, TaskWorkflow.ci_failed, failure)

    async def ci_passed(self, task_id: str, passing: CiPassing) -> bool:
        """Tells the task that the forge's CI passed on its pull request, when that is news: on the commit
        Honk pushed last (a person's commit, or an older one, is not its to report), after Honk tried to fix
        a failure there since CI last passed (a first push passing, or a green said already, is quiet). The
        workflow records it once whatever comes twice; False when nothing was told."""
        timeline = await self.timeline(task_id)
        if timeline.ready is None or timeline.ready.commit != passing.commit or not timeline.ci_fixes:
            return False
        return await self._tell_open_task(task_id, TaskWorkflow.ci_passed, passing)

    async def target_moved(self, task_id: str, new_head: str = "", by: str = "") -> bool:
        """Tells a task its target branch moved (the forge front door, for each open Honk pull request onto
        a pushed branch); a task waiting for people brings it in. False when the task has ended (nothing to
        do: a front door telling every task of a push is not refused)."""
        moved = TargetMoved(new_head=new_head[:64], by=by[:200])
        return await self._tell_open_task(task_id, TaskWorkflow.target_moved, moved)

    async def _tell_open_task(self, task_id: str, signal: Callable[[TaskWorkflow, Any], Any], arg: Any) -> bool:
        """Signals a task the forge told something of; False when it has ended (before or while telling)."""
        if (await self.task(task_id)).state.terminal:
            return False
        try:
            await self.client.get_workflow_handle(task_id).signal(signal, arg)
        except RPCError:
            return False  # it ended between the look and the signal
        return True

    async def set_autofix(self, task_id: str, on: bool, actor: Actor) -> TaskView:
        """`@honk autofix off|on` on the task's pull request: whoever may follow up on the task may."""
        return await self.gate.recorded(
            "follow_up", actor, None, lambda: self._set_autofix(task_id, on, actor), task_id
        )

    async def _set_autofix(self, task_id: str, on: bool, actor: Actor) -> TaskView:
        view = await self.task(task_id)
        await self.gate.check("follow_up", actor, view.repo, requested_by=view.requested_by, task_id=task_id)
        if view.state.terminal:
            raise Conflict(f"Task {task_id} is {view.state.value}: there is nothing left to fix.")
        try:
            await self.client.get_workflow_handle(task_id).signal(
                TaskWorkflow.autofix, AutofixSwitch(on=on, by=actor.identity)
            )
        except RPCError as e:
            raise Conflict(f"Task {task_id} has already finished.") from e
        await self.gate.record("follow_up", actor, view.repo, "ok", f"autofix {'on' if on else 'off'}", task_id)
        return view

    # -- production: deploys and reverts ------------------------------------------------------------
    async def deploy(self, task_id: str, actor: Actor) -> TaskView:
        """Starts a merged task's held deploy (its merger could not deploy, or a freeze held it)."""
        return await self.gate.recorded("deploy", actor, None, lambda: self._deploy(task_id, actor), task_id)

    async def _deploy(self, task_id: str, actor: Actor) -> TaskView:
        view = await self.task(task_id)
        await self.gate.check("deploy", actor, view.repo, requested_by=view.requested_by, task_id=task_id)
        timeline = await self.store.timeline(task_id) or Timeline()
        if view.state != TaskState.merged or timeline.deploy_held is None:
            raise Conflict(f"Task {task_id} has no deploy waiting to start (it is {view.state.value}).")
        try:
            await self.client.get_workflow_handle(task_id).execute_update(
                TaskWorkflow.deploy, DeployDecision(by=actor.identity)
            )
        except WorkflowUpdateFailedError as e:
            raise Conflict(getattr(e.cause, "message", None) or str(e)) from e
        except RPCError as e:
            raise Conflict(f"Task {task_id}'s deploy can no longer be started: it waited too long. Merge again.") from e
        await self.gate.record("deploy", actor, view.repo, "ok", f"deploy of {view.merged_commit or ''}", task_id)
        return await self.task(task_id)

    async def revert(self, task_id: str, actor: Actor, slack: SlackThread | None = None) -> TaskView:
        """Starts a task that reverts a merged task's change: the same checks and merge policy (fast-tracked
        where `[deploy] revert = "fast-track"`), then the repo's deploy, which puts back what was live."""
        return await self.gate.recorded("revert", actor, None, lambda: self._revert(task_id, actor, slack), task_id)

    async def _revert(self, task_id: str, actor: Actor, slack: SlackThread | None) -> TaskView:
        view = await self.task(task_id)
        await self.gate.check("revert", actor, view.repo, requested_by=view.requested_by, task_id=task_id)
        timeline = await self.store.timeline(task_id) or Timeline()
        if view.state != TaskState.merged or not view.merged_commit:
            raise Conflict(f"Task {task_id} is {view.state.value}: only a merged change can be reverted.")
        if timeline.revert_task is not None:
            earlier = await self.store.get_task(timeline.revert_task)
            if earlier is not None and earlier.state not in (TaskState.failed, TaskState.cancelled):
                raise Conflict(
                    f"Task {task_id} is already being reverted by task {earlier.id} ({earlier.state.value})."
                )
        target = (await self.repo(view.repo)).branch
        first = view.text.strip().splitlines()[0][:120]
        text = f"Revert task {task_id} ({view.merged_commit[:10]}): {first}"
        subject = Reverting(task_id=task_id, commit=view.merged_commit, target=target)
        request_id = f"revert:{task_id}:{view.merged_commit}:{(timeline.revert_task or '')}"
        if slack is None:  # asked from the page or the CLI: the revert still talks in the task's thread
            known = await SlackStore(self.store).thread_of(task_id)
            slack = known.model_copy(update={"status_ts": None}) if known is not None else None
        reverting, _ = await self._submit(view.repo, text, actor, None, None, request_id, slack, reverts=subject)
        await self.store.append(task_id, RevertStarted(task_id=reverting.id, by=actor.identity))
        await self.gate.record("revert", actor, view.repo, "ok", f"revert of {view.merged_commit[:12]}", task_id)
        return reverting

    async def deploys(self, repo: str, limit: int = 50) -> list[DeployRecord]:
        """A repo's deploys, newest first: who, which commit, when, and what came of it."""
        ref = await self.repo(repo)
        return await self.deploy_history.listed(ref.name, limit)

    # -- previews: the web server's side of a task's running preview --------------------------------
    async def preview(self, task_id: str, max_age_s: float = 0.0) -> PreviewInfo | None:
        """The task's preview as the store has it (None: never started). `max_age_s`: an answer read that
        recently in this process will do (the preview origin asks on every request it proxies)."""
        now = time.monotonic()
        seen = self._previews_read.get(task_id)
        if seen is not None and now - seen[0] <= max_age_s:
            return seen[1]
        info = await self.previews.get(task_id)
        if len(self._previews_read) > 10_000:  # one entry per preview opened lately; never grows unbounded
            self._previews_read.clear()
        self._previews_read[task_id] = (now, info)
        return info

    async def touch_preview(self, task_id: str) -> None:
        """Someone opened the preview just now (written at most every few seconds per preview)."""
        now = time.monotonic()
        if now - self._previews_touched.get(task_id, -PREVIEW_TOUCH_EVERY_S) < PREVIEW_TOUCH_EVERY_S:
            return
        if len(self._previews_touched) > 10_000:
            self._previews_touched.clear()
        self._previews_touched[task_id] = now
        await self.previews.touch(task_id)

    async def wake_preview(self, task_id: str) -> None:
        """Asks the task's workflow to start its stopped (or lost) preview again: one wake at a time however
        many requests ask (the workflow starts one; this server asks at most every few seconds)."""
        now = time.monotonic()
        if now - self._previews_woken.get(task_id, -PREVIEW_WAKE_EVERY_S) < PREVIEW_WAKE_EVERY_S:
            return
        view = await self.task(task_id)
        if view.state.terminal:
            raise Conflict(f"Task {task_id} is {view.state.value}: its preview ended with it.")
        try:
            await self.client.get_workflow_handle(task_id).signal(TaskWorkflow.wake_preview)
        except RPCError as e:
            raise Unavailable(f"Temporal did not take the preview's wake ({e}); reload in a moment.") from e
        if len(self._previews_woken) > 10_000:
            self._previews_woken.clear()
        self._previews_woken[task_id] = now
        self._previews_read.pop(task_id, None)

    async def revoke_preview_links(self, actor: Actor, task_id: str) -> int:
        """Every link to the task's preview signed so far stops working, and so does every browser they let
        in; returns the links' new generation. New links (the task page's, `honk preview link`) work."""
        return await self.gate.recorded(
            "preview_revoke", actor, None, lambda: self._revoke_preview_links(actor, task_id), task_id
        )

    async def _revoke_preview_links(self, actor: Actor, task_id: str) -> int:
        view = await self.task(task_id)
        await self.gate.check("preview_revoke", actor, view.repo, requested_by=view.requested_by, task_id=task_id)
        generation = await self.previews.revoke_links(task_id)
        self._previews_read.pop(task_id, None)
        await self.gate.record(
            "preview_revoke",
            actor,
            view.repo,
            "ok",
            f"links signed before now stop working (generation {generation})",
            task_id,
        )
        return generation

    async def preview_link(self, task_id: str, ttl_s: float | None = None, stay_s: float | None = None) -> str:
        """A signed link to the task's preview that works for `ttl_s` (default: HONK_PREVIEW_LINK_DAYS) until
        its links are revoked; the browser that opens it stays in for `stay_s` (default: as long as the link
        works). Whoever asks must already be allowed to see the task."""
        await self.task(task_id)
        info = await self.previews.get(task_id)
        ttl = ttl_s if ttl_s is not None else self.settings.previews.link_days * 86_400
        token = self.links.token(task_id, info.link_generation if info else 0, ttl, stay_s)
        return f"{preview_origin(self.settings, task_id)}{ENTER_PATH}?t={token}"

    @property
    def links(self) -> PreviewLinks:
        """The server's preview link signer (its key is read on first use: only the web server signs)."""
        if self._preview_links is None:
            configured = self.settings.previews.link_key
            key = preview_link_key(configured.get_secret_value() if configured else None, self.settings.secret_key_file)
            self._preview_links = PreviewLinks(key)
        return self._preview_links

    # -- @honk review (issue 19, part E) ---------------------------------------------------------------
    async def review_pull_request(self, repo: str, number: int, actor: Actor, head_sha: str) -> PullReviewStarted:
        """`@honk review` on pull request `number` of `repo`, at its head `head_sha` (the forge front door
        reads it from the pull request: a comment's webhook does not carry it). Whoever may request a change
        of the repo may ask; the review's workflow then posts it — no task, branch or commit. One review per
        head: asking again while it runs, or after it was posted, starts nothing (`started` False)."""
        return await self.gate.recorded(
            "request", actor, repo, lambda: self._review_pull_request(repo, number, actor, head_sha)
        )

    async def _review_pull_request(self, repo: str, number: int, actor: Actor, head_sha: str) -> PullReviewStarted:
        ref = await self.repo(repo)
        if ref.forge is None:
            raise UserFacingError(
                f"Repo {ref.name!r} is a plain git remote: Honk posts reviews on GitHub or GitLab pull requests."
            )
        if not 0 < number < 2**31 or not re.fullmatch(r"[0-9a-f]{7,64}", head_sha):
            raise UserFacingError(f"Pull request #{number} at {head_sha[:70]!r} is not a pull request and commit.")
        await self.gate.check("request", actor, ref.name)
        inp = PullReviewInput(
            repo=ref,
            number=number,
            head_sha=head_sha,
            requested_by=actor.identity,
            heartbeat_timeout_s=self.settings.temporal.heartbeat_timeout_s,
        )
        started = PullReviewStarted(workflow_id=review_id(inp), started=True)
        try:
            await self.client.start_workflow(
                PullReviewWorkflow.run,
                inp,
                id=started.workflow_id,
                task_queue=self.settings.temporal.task_queue,
                # A failed review (refused, out of budget) may be asked again for the same head; a made one not.
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            )
        except WorkflowAlreadyStartedError:
            started = started.model_copy(update={"started": False})
        except RPCError as e:
            raise Unavailable(f"Temporal did not accept the review ({e}); nothing was started. Try again.") from e
        said = "asked" if started.started else "already asked (nothing new started)"
        await self.gate.record("request", actor, ref.name, "ok", f"review of #{number} at {head_sha[:12]}: {said}")
        return started

    # -- hand-off (issue 19, part C) -----------------------------------------------------------------------
    async def checkout(self, task_id: str) -> HandOff:
        """Where the task's branch can be fetched from, and what the agent did: for `honk checkout`."""
        view, timeline = await self.task(task_id), await self.timeline(task_id)
        hand_off = await self.hand_off(view, timeline)
        return hand_off.model_copy(update={"summary": await self._hand_off_summary(view, timeline)})

    async def hand_off(self, view: TaskView, timeline: Timeline) -> HandOff:
        """Where the task's branch can be fetched from (the task page's commands; `checkout` adds what the
        agent did). The remote is the repo's URL as a person clones it (never with credentials in it)."""
        repo = await self.repo(view.repo)
        commit = timeline.ready.commit if timeline.ready else (timeline.agent_commits or [None])[-1]
        if commit is None and view.merged_commit is None:
            raise Conflict(f"Task {view.id} has no commit yet ({view.state.value}): nothing to check out.")
        pull_request = timeline.pull_request
        source: HandOffSource
        if repo.forge is not None and pull_request is not None:
            source, remote, ref = "forge", without_credentials(repo.url), f"refs/heads/{view.branch}"
        elif self.settings.workspaces.share_task_branches:
            source, remote, ref = "remote", without_credentials(repo.url), task_ref(view.id)
        else:  # one machine (`honk up`): the branch is only in the worker's mirror, on this machine
            source, remote, ref = (
                "worker",
                str(mirror_path(self.settings.mirrors_dir, repo)),
                f"refs/heads/{view.branch}",
            )
        return HandOff(
            task_id=view.id,
            repo=repo.name,
            state=view.state,
            source=source,
            clone_url=without_credentials(repo.url),
            remote=remote,
            ref=ref,
            branch=view.branch,
            commit=commit,
            pull_request_url=pull_request.url if pull_request else "",
            merged_commit=view.merged_commit,
        )

    async def _hand_off_summary(self, view: TaskView, timeline: Timeline) -> str:
        """The task in markdown, for the person taking it over: what was asked, planned, done, said and checked."""
        lines = [f"# Honk task {view.id} on {view.repo}", "", f"Asked by {view.requested_by}:", ""]
        lines += [f"> {line}" for line in view.text.splitlines()]
        lines += ["", f"State: {view.state.value}. Branch `{view.branch}`."]
        if timeline.pull_request is not None:
            lines.append(f"Pull request: {timeline.pull_request.url}")
        if view.reason:
            lines += ["", f"Why it stopped: {view.reason}"]
        if timeline.plan is not None:
            approved = f", approved by {timeline.plan_approved_by}" if timeline.plan_approved_by else ""
            lines += ["", f"## Plan (v{timeline.plan_version}{approved})", "", timeline.plan.text()]
        rounds: list[str] = []
        follow_ups: list[str] = []
        after = 0
        for _ in range(HAND_OFF_EVENT_PAGES):
            page = await self.store.events(view.id, after_id=after)
            for stored in page:
                ev = stored.event
                if isinstance(ev, AgentFinished):
                    files = ", ".join(ev.changed_files[:20]) or "no files"
                    rounds.append(f"- Round {ev.round} ({(ev.commit or 'no commit')[:10]}; {files}): {ev.summary}")
                elif isinstance(ev, FollowUpReceived):
                    follow_ups.append(f"- {ev.by}: {ev.text}")
            if not page:
                break
            after = page[-1].id
        if rounds:
            lines += ["", "## What the agent did", "", *rounds]
        if follow_ups:
            lines += ["", "## Follow-ups", "", *follow_ups]
        if timeline.checks:
            lines += ["", "## Checks", ""]
            for c in timeline.checks.values():
                detail = (c.detail or "").strip().splitlines()[-1:] if not c.passed else []
                lines.append(
                    f"- {'passed' if c.passed else 'FAILED'}: {c.name}" + (f" — {detail[0]}" if detail else "")
                )
        if timeline.ready is not None:
            lines += ["", "## Ready for review", "", timeline.ready.summary]
            if timeline.ready.diffstat:
                lines += ["", "```", timeline.ready.diffstat, "```"]
            lines += [f"- warning: {w}" for w in timeline.ready.warnings]
        return redact("\n".join(lines) + "\n")[:MAX_HAND_OFF_SUMMARY]


def _attempt_fields(attempt_of: AttemptOf | None) -> dict[str, Any]:
    """A best-of-N attempt's fields, as TaskRequest and TaskAccepted name them (none for a task asked alone)."""
    if attempt_of is None:
        return {}
    return {"attempt_group": attempt_of.group, "attempt": attempt_of.attempt, "attempts": attempt_of.attempts}


def _normalise_url(url: str) -> str:
    """Local paths become absolute, so workers started elsewhere find them."""
    if "://" in url or re.match(r"^[\w.-]+@[\w.-]+:", url):
        return url
    return str(Path(url).expanduser().resolve())


def _attachments(files: list[attachments.Incoming]) -> tuple[list[tuple[Attachment, bytes]], list[RefusedAttachment]]:
    """Each file kept (with an id, its bytes as the agent will get them) or refused with why."""
    kept, refused = attachments.accept(files)
    return (
        [
            (
                Attachment(
                    id=uuid.uuid4().hex,
                    name=k.name,
                    kind=k.kind,
                    media_type=k.media_type,
                    size=len(k.data),
                    note=k.note,
                ),
                k.data,
            )
            for k in kept
        ],
        [RefusedAttachment(name=r.name, reason=r.reason) for r in refused],
    )
