"""Campaigns: one request across many repos (issue 20). A campaign is one Temporal workflow
(`HonkCampaign`, id `campaign-<id>`, honk.workflow.campaign_workflow) that starts a task per repo through
TaskService (so every task passes the same gate, budget and merge policy as one asked alone), in waves:
the first `wave_size` repos, then the rest only if enough of those reached ready.

`Campaigns` is what the front doors call (CLI, web, API, Slack); `CampaignSteps` holds the campaign
workflow's activities (select the repos, start a member's task, read the members' progress, tell the
campaign's Slack message), which need the service and the store, so they live here, not in the workflow.
The store (honk.store.campaigns) is the campaign's truth; the workflow only decides and acts.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from honk.access import Refused, Who
from honk.accounts import Role
from honk.domain import (
    MAX_REQUEST_CHARS,
    AccountRole,
    AskedAs,
    Budget,
    CampaignRequest,
    CampaignSettings,
    CampaignState,
    CampaignView,
    MemberActed,
    Origin,
    RepoRef,
    RepoSelector,
    SlackThread,
    TaskState,
)
from honk.errors import Conflict, Forbidden, NotFound, Unavailable, UserFacingError
from honk.gate import Actor
from honk.protocols import CampaignNotifier, Forge, RepoFiles
from honk.redaction import redact
from honk.store.campaigns import CampaignStore
from honk.workflow import campaign_policy as policy
from honk.workflow.campaign_workflow import (
    ACT_CANCEL,
    ACT_MERGE,
    ACT_PROGRESS,
    ACT_REOPEN,
    ACT_SELECT,
    ACT_SKIP,
    ACT_START,
    ACT_STATE,
    ACT_TELL,
    CampaignInput,
    CampaignWorkflow,
    CancelMembersInput,
    MemberStarted,
    MergeMemberInput,
    Progress,
    ProgressInput,
    ReopenInput,
    RetryFailed,
    Selected,
    SelectInput,
    SkipInput,
    StartMemberInput,
    StateInput,
    TellInput,
)
from honk.workflow.records import CancelRequest

if TYPE_CHECKING:
    from honk.service import TaskService

log = logging.getLogger("honk.campaigns")

FAILED_STATES = (TaskState.failed, TaskState.cancelled)
ARCHIVED_ASKS = 8  # forge API calls at once while selecting: hundreds of repos, without a burst of hundreds
FORGE_NAMES = {"github": "GitHub", "gitlab": "GitLab"}


def requester(req: CampaignRequest) -> Actor:
    """The campaign's requester, as its members' tasks are asked, cancelled and merged: the same Actor that
    asked (identity, email, Slack id, account role), so the access policy and the role checks decide for
    each repo as they would for them asking alone."""
    asked = req.asked_as
    who = Who(identity=req.requested_by, email=asked.email, slack_id=asked.slack_id)
    return Actor(who=who, front_door=req.front_door, role=Role(asked.role) if asked.role else None)


# Each account role by its name in the domain (AskedAs.role): spelled out, so a role added to accounts without
# a name here fails the test that compares them rather than passing as a string.
ROLE_NAMES: dict[Role, AccountRole] = {Role.requester: "requester", Role.merger: "merger", Role.admin: "admin"}


def asked_as(actor: Actor) -> AskedAs:
    """What `requester` needs to be that actor again, kept with the campaign."""
    role = ROLE_NAMES[actor.role] if actor.role is not None else None
    return AskedAs(email=actor.who.email, slack_id=actor.who.slack_id, role=role)


def close_comment(req: CampaignRequest, by: str) -> str:
    """What a member's pull request says as a cancelled campaign closes it: which campaign, and who."""
    return (
        f"Honk closed this pull request: campaign {req.campaign_id} ({redact(req.text)[:80]!r}) was cancelled "
        f"by {by}. The branch is kept."
    )


def member_text(req: CampaignRequest, instruction: str) -> str:
    return f"{req.text}\n\n{instruction}" if instruction else req.text


class Campaigns:
    def __init__(self, service: TaskService) -> None:
        self.service = service
        self.store = CampaignStore(service.store)

    @property
    def client(self) -> Client:
        return self.service.client

    async def start(
        self,
        actor: Actor,
        text: str,
        selector: RepoSelector,
        settings: CampaignSettings | None = None,
        agent: str | None = None,
        model: str | None = None,
        request_id: str | None = None,
        slack: SlackThread | None = None,
    ) -> tuple[CampaignView, bool]:
        """Starts a campaign (or, for a `request_id` already used by the same person, answers the one it
        started, created=False). The request is checked as a task's is (empty, too long, unknown agent);
        a selector naming a repo Honk does not know is a UserFacingError naming it. Repos the actor may not
        ask changes of are members with status "refused", not an error."""
        return await self.service.gate.recorded(
            "request",
            actor,
            None,
            lambda: self._start(actor, text, selector, settings or CampaignSettings(), agent, model, request_id, slack),
        )

    async def _start(
        self,
        actor: Actor,
        text: str,
        selector: RepoSelector,
        settings: CampaignSettings,
        agent: str | None,
        model: str | None,
        request_id: str | None,
        slack: SlackThread | None,
    ) -> tuple[CampaignView, bool]:
        text = self.service.checked_request(text, agent)
        request_id = request_id or uuid.uuid4().hex
        if len(request_id) > 200:
            raise UserFacingError("request_id is too long (200 characters at most).")
        if selector.names:
            known = {r.name for r in await self.service.repos()}
            if unknown := [n for n in selector.names if n not in known]:
                raise NotFound(
                    f"Unknown repo{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}: a campaign reaches only "
                    f"repos Honk knows ({', '.join(sorted(known)) or 'none yet: honk repo add NAME URL'})."
                )
        existing = await self.store.by_request(request_id)
        if existing is not None and existing.requested_by != actor.identity:
            raise Conflict(f"request_id {request_id!r} was already used by {existing.requested_by}'s campaign.")
        req = CampaignRequest(
            campaign_id=policy.campaign_id_for(request_id),
            request_id=request_id,
            text=text,
            selector=selector,
            settings=settings,
            requested_by=actor.identity,
            front_door=actor.front_door,
            agent=agent,
            model=model,
            slack=slack,
            asked_as=asked_as(actor),
        )
        view, created = await self.store.create(req)
        if created:
            await self.service.gate.record(
                "request", actor, None, "ok", f"campaign {view.id} over {selector.describe()}: {text[:150]}"
            )
        # Also for a retried start: one whose workflow start was lost is completed now.
        await self._start_workflow(req, fresh=created)
        return await self.get(view.id), created

    async def _start_workflow(self, req: CampaignRequest, fresh: bool) -> None:
        try:
            await self.client.start_workflow(
                CampaignWorkflow.run,
                self._input(req),
                id=policy.workflow_id(req.campaign_id),
                task_queue=self.service.settings.temporal.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            return
        except RPCError as e:
            try:  # an answer may have been lost although the start happened
                await self.client.get_workflow_handle(policy.workflow_id(req.campaign_id)).describe()
                return
            except RPCError:
                pass
            if fresh:
                await self.store.delete(req.campaign_id)  # nothing half-made stays behind
            raise Unavailable(f"Temporal did not accept the campaign ({e}); nothing was started. Try again.") from e

    def _input(self, req: CampaignRequest, selected: bool = False) -> CampaignInput:
        """The campaign workflow's input, with this Honk's settings for how it waits and when it continues as new."""
        s = self.service.settings.campaigns
        return CampaignInput(
            request=req, poll_s=s.poll_s, selected=selected, history_events_limit=s.history_events_limit
        )

    async def get(self, campaign_id: str) -> CampaignView:
        """The campaign and each member's latest task (NotFound when there is none)."""
        view = await self.store.get(campaign_id)
        if view is None:
            raise NotFound(f"No campaign {campaign_id!r} (`honk campaign list` shows the campaigns).")
        return view

    async def listed(self, limit: int = 50) -> list[CampaignView]:
        """The newest campaigns first, with their members."""
        return await self.store.listed(limit)

    async def merge_green(self, campaign_id: str, actor: Actor) -> list[MemberActed]:
        """Merges every member that is ready with its checks passing, each through TaskService.merge (the
        same merge policy as a task merged alone); what was not merged says why."""
        view = await self.get(campaign_id)
        acted: list[MemberActed] = []
        for m in view.members:
            if m.task is None:
                continue
            if m.task.state != TaskState.ready or m.checks_passed is not True:
                why = "its checks did not pass" if m.task.state == TaskState.ready else f"it is {m.task.state.value}"
                acted.append(MemberActed(repo=m.repo, task_id=m.task.id, done=False, detail=f"not merged: {why}"))
                continue
            try:
                merged = await self.service.merge(m.task.id, actor)
            except UserFacingError as e:  # the merge policy refused, or it moved meanwhile: said, not fatal
                acted.append(MemberActed(repo=m.repo, task_id=m.task.id, done=False, detail=e.message))
                continue
            acted.append(MemberActed(repo=m.repo, task_id=m.task.id, done=True, detail=merged.state.value))
        return acted

    async def retry_failed(self, campaign_id: str, actor: Actor, instruction: str = "") -> list[MemberActed]:
        """Starts a new attempt for every failed member, its request with `instruction` added."""
        return await self.service.gate.recorded(
            "request", actor, None, lambda: self._retry_failed(campaign_id, actor, instruction)
        )

    async def _retry_failed(self, campaign_id: str, actor: Actor, instruction: str) -> list[MemberActed]:
        view = await self.get(campaign_id)
        self._check_owner(actor, view, "retry")
        instruction = redact(instruction.strip())
        if len(view.text) + len(instruction) + 2 > MAX_REQUEST_CHARS:
            raise UserFacingError(
                f"The request with the added instruction would be over {MAX_REQUEST_CHARS:,} characters: say it shorter."
            )
        if view.state == CampaignState.cancelled:
            raise Conflict(f"Campaign {campaign_id} was cancelled: start a new one.")
        failed = [m for m in view.members if m.task is not None and m.task.state in FAILED_STATES]
        if not failed:
            raise Conflict(f"No member of campaign {campaign_id} failed: nothing to retry.")
        req = await self._request(campaign_id)
        await self._signal_with_start(req, view, "retry", RetryFailed(instruction=instruction, by=actor.identity))
        await self.service.gate.record(
            "request", actor, None, "ok", f"campaign {campaign_id}: retry of {len(failed)} failed: {instruction[:150]}"
        )
        return [
            MemberActed(
                repo=m.repo, task_id=m.task.id if m.task else None, done=True, detail=f"attempt {m.attempt + 1}"
            )
            for m in failed
        ]

    async def cancel(self, campaign_id: str, actor: Actor) -> CampaignView:
        """Stops the campaign: no further member starts, running tasks are cancelled, and open pull requests
        are closed or left as drafts as the campaign's `on_cancel` says."""
        return await self.service.gate.recorded("cancel", actor, None, lambda: self._cancel(campaign_id, actor))

    async def _cancel(self, campaign_id: str, actor: Actor) -> CampaignView:
        view = await self.get(campaign_id)
        self._check_owner(actor, view, "cancel")
        if view.state == CampaignState.cancelled:
            raise Conflict(f"Campaign {campaign_id} is already cancelled.")
        req = await self._request(campaign_id)
        await self._signal_with_start(req, view, "cancel", CancelRequest(by=actor.identity))
        await self.service.gate.record("cancel", actor, None, "ok", f"campaign {campaign_id}")
        return await self.get(campaign_id)

    async def _request(self, campaign_id: str) -> CampaignRequest:
        req = await self.store.request(campaign_id)
        if req is None:
            raise NotFound(f"No campaign {campaign_id!r}.")
        return req

    @staticmethod
    def _check_owner(actor: Actor, view: CampaignView, verb: str) -> None:
        """Only the campaign's requester, or an admin account, may retry or cancel all of it at once (each
        member's own task can still be acted on alone, as its gate allows). The refusal is recorded by the
        gate's `recorded` around the call."""
        if actor.identity == view.requested_by or actor.role == Role.admin:
            return
        raise Forbidden(f"Only {view.requested_by}, who started campaign {view.id}, or an admin may {verb} it.")

    async def _signal_with_start(self, req: CampaignRequest, view: CampaignView, signal: str, arg: object) -> None:
        """Tells the campaign's workflow, starting it again when it has ended (a done or halted campaign
        whose failed members are retried, or whose ready ones are cancelled): the store carries the rest."""
        try:
            await self.client.start_workflow(
                CampaignWorkflow.run,
                self._input(req, selected=view.state != CampaignState.selecting),
                id=policy.workflow_id(req.campaign_id),
                task_queue=self.service.settings.temporal.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
                start_signal=signal,
                start_signal_args=[arg],
            )
        except RPCError as e:
            raise Unavailable(
                f"Temporal did not take the campaign's {signal} ({e}); nothing changed. Try again."
            ) from e


class CampaignSteps:
    """The campaign workflow's activities, registered by name in the worker (as `ScheduleFirer`'s are).
    `files`: how "repos whose files match" is tested (None: this worker cannot, and says so); `notifier`:
    the campaign's one Slack message (None: no Slack); `forge_of`: each repo's forge, asked whether the repo
    is archived there (None: nobody is asked, and an archived repo's task fails at its push)."""

    def __init__(
        self,
        service: TaskService,
        files: RepoFiles | None = None,
        notifier: CampaignNotifier | None = None,
        forge_of: Callable[[RepoRef], Forge] | None = None,
    ) -> None:
        self.service, self.files, self.notifier, self.forge_of = service, files, notifier, forge_of
        self.store = CampaignStore(service.store)

    @activity.defn(name=ACT_SELECT)
    async def select(self, inp: SelectInput) -> Selected:
        """The campaign's repos, as members in order (names in the order given, else by name); the first
        `wave_size` are its first wave. Nothing to run ends the campaign with a reason."""
        req, sel = inp.request, inp.request.selector
        repos = await self.service.repos()
        by_name = {r.name: r for r in repos}
        if unknown := [n for n in sel.names if n not in by_name]:
            return Selected(ended=f"Unknown repo{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}.")
        chosen: list[RepoRef] = [by_name[n] for n in sel.names] if sel.names else sorted(repos, key=lambda r: r.name)
        if sel.glob:
            chosen = [r for r in chosen if fnmatch.fnmatchcase(r.name, sel.glob)]
        unreadable: list[tuple[str, str]] = []
        if sel.path:
            if self.files is None:
                return Selected(
                    ended="This Honk's workers cannot test repos' files, so a files: selector cannot be used here; "
                    "name the repos or use a glob on their names."
                )
            matching: list[RepoRef] = []
            for repo in chosen:
                activity.heartbeat(repo.name)
                try:
                    if await self.files.matching(repo, sel.path, sel.content, limit=1):
                        matching.append(repo)
                except UserFacingError as e:
                    unreadable.append((repo.name, e.message))
            chosen = matching
        limit = self.service.settings.campaigns.max_repos
        if len(chosen) > limit:
            return Selected(
                ended=f"{len(chosen)} repos match {sel.describe()}; a campaign reaches at most {limit} "
                "(HONK_CAMPAIGNS_MAX_REPOS): narrow the selector."
            )
        if not chosen and not unreadable:
            return Selected(ended=f"No repo matches {sel.describe()}.")
        cid = req.campaign_id
        archived = await self._archived(chosen)
        runnable = [r.name for r in chosen if r.name not in archived]
        # The repos that can run first, so a first wave is `wave_size` repos that say something of the prompt.
        await self.store.add_members(cid, runnable, req.settings.wave_size)
        for name, where in archived.items():  # skipped before any task starts: a task there could never push
            await self.store.add_members(cid, [name], req.settings.wave_size, "skipped", f"archived on {where}")
        for name, why in unreadable:  # in the campaign, so the board says why they were left out
            await self.store.add_members(cid, [name], req.settings.wave_size, "skipped", f"files not readable: {why}")
        await self.store.set_state(cid, CampaignState.running)
        return Selected(repos=runnable)

    async def _archived(self, repos: list[RepoRef]) -> dict[str, str]:
        """The repos their forge has archived, each with the forge's name, asked a few at a time. A repo on a
        plain git remote is never among them: nothing can be asked there (LocalGitForge.archived), so its
        task starts and fails at the push with the remote's own words. A forge that cannot answer (down, no
        credentials on this worker) does not hold the campaign up either: that repo's task says why."""
        if self.forge_of is None:
            return {}
        forge_of, limit = self.forge_of, asyncio.Semaphore(ARCHIVED_ASKS)

        async def ask(repo: RepoRef) -> tuple[str, str] | None:
            if repo.forge is None:
                return None
            async with limit:
                activity.heartbeat(repo.name)
                try:
                    archived = await forge_of(repo).archived(repo)
                except UserFacingError as e:
                    log.info("campaign: could not ask whether %s is archived: %s", repo.name, e.message)
                    return None
            return (repo.name, FORGE_NAMES[repo.forge.kind]) if archived else None

        found = await asyncio.gather(*(ask(r) for r in repos))
        return dict(f for f in found if f is not None)

    @activity.defn(name=ACT_PROGRESS)
    async def progress(self, inp: ProgressInput) -> Progress:
        return Progress(members=await self.store.progress(inp.campaign_id, with_checks=inp.with_checks))

    @activity.defn(name=ACT_START)
    async def start_member(self, inp: StartMemberInput) -> MemberStarted:
        """Submits the member's task as the requester (idempotent: its request id names the attempt). The
        policy's refusal makes it "refused" with the policy's words; a repo no longer registered, "skipped"."""
        req, cid = inp.request, inp.request.campaign_id
        member = await self.store.member(cid, inp.repo)
        if member is None or member.status != "waiting":  # started by an earlier try of this step
            return MemberStarted(repo=inp.repo, status=member.status if member else "skipped", task_id=None)
        try:
            view, _ = await self.service.submit(
                inp.repo,
                member_text(req, member.instruction),
                requester(req),
                agent=req.agent,
                model=req.model,
                request_id=policy.member_request_id(cid, inp.repo, member.attempt),
                slack=None,  # the campaign's one message is its board: never a thread per repo
                origin=Origin(kind="campaign", detail=f"campaign {cid}: {req.text[:80]}"),
                campaign=cid,
                budget_cap=Budget(max_cost_usd=inp.cap_usd) if inp.cap_usd is not None else None,
            )
        except Refused as e:
            await self.store.set_member(cid, inp.repo, status="refused", reason=e.message)
            return MemberStarted(repo=inp.repo, status="refused", reason=e.message)
        except NotFound as e:
            await self.store.set_member(cid, inp.repo, status="skipped", reason=e.message)
            return MemberStarted(repo=inp.repo, status="skipped", reason=e.message)
        await self.store.set_member(cid, inp.repo, status="started", task_id=view.id, cost_cap_usd=inp.cap_usd)
        return MemberStarted(repo=inp.repo, status="started", task_id=view.id)

    @activity.defn(name=ACT_SKIP)
    async def skip(self, inp: SkipInput) -> None:
        for s in inp.skips:
            await self.store.skip_waiting(inp.campaign_id, [s.repo], s.reason)

    @activity.defn(name=ACT_STATE)
    async def set_state(self, inp: StateInput) -> None:
        await self.store.set_state(inp.campaign_id, inp.state, inp.reason)

    @activity.defn(name=ACT_CANCEL)
    async def cancel_members(self, inp: CancelMembersInput) -> None:
        """Cancels each started member's task that has not ended, as the requester would (TaskService.cancel);
        members not started are skipped. Pull requests: `on_cancel="draft"` leaves them open (Honk's pull
        requests are drafts until merged); "close" has each task close its own, with a comment saying who
        cancelled the campaign (the task does it once its steps have stopped: see TaskWorkflow)."""
        req, cid = inp.request, inp.request.campaign_id
        plan = policy.cancel_plan(await self.store.progress(cid))
        await self.store.skip_waiting(cid, plan.skip, f"{policy.CANCELLED} by {inp.by}")
        actor = requester(req)
        close = close_comment(req, inp.by) if req.settings.on_cancel == "close" else None
        for task_id in plan.tasks:
            activity.heartbeat(task_id)
            try:
                await self.service.cancel(task_id, actor, close_comment=close)
            except UserFacingError as e:  # it ended meanwhile, or is being merged: left as it is
                log.info("campaign %s: task %s not cancelled: %s", cid, task_id, e.message)
        for task_id in plan.failed if close is not None else []:
            activity.heartbeat(task_id)
            await self._close_failed(cid, task_id, close or "")

    async def _close_failed(self, cid: str, task_id: str, comment: str) -> None:
        """A member that failed after its pull request opened (a later round's checks failing) has no running
        task to close it on a cancel: the campaign closes it, as the task closes its own. Best effort, as there."""
        pull_request = (await self.service.timeline(task_id)).pull_request
        if pull_request is None or self.forge_of is None:
            return
        try:
            repo = await self.service.repo((await self.service.task(task_id)).repo)
            await self.forge_of(repo).close(pull_request, comment)
        except UserFacingError as e:
            log.warning("campaign %s: pull request of failed task %s not closed: %s", cid, task_id, e.message)

    @activity.defn(name=ACT_MERGE)
    async def merge_member(self, inp: MergeMemberInput) -> None:
        """Automerge of a ready member whose checks passed, as the requester: the merge policy decides; a
        refusal is shown on the member, not fatal, and not tried again."""
        cid = inp.request.campaign_id
        member = await self.store.member(cid, inp.repo)
        if member is None or member.task_id is None or member.merge_tried:
            return
        await self.store.set_member(cid, inp.repo, merge_tried=True)
        try:
            await self.service.merge(member.task_id, requester(inp.request))
        except UserFacingError as e:
            await self.store.set_member(cid, inp.repo, reason=f"not merged automatically: {e.message}")

    @activity.defn(name=ACT_REOPEN)
    async def reopen(self, inp: ReopenInput) -> None:
        """A retry: the failed members get a new attempt (and the campaign runs again)."""
        progress = await self.store.progress(inp.campaign_id)
        failed = [m.repo for m in progress if m.status == "started" and m.task_state in FAILED_STATES]
        await self.store.reopen(inp.campaign_id, failed, inp.retry.instruction, held_back=policy.HELD_BACK)
        await self.store.set_state(inp.campaign_id, CampaignState.running, "")

    @activity.defn(name=ACT_TELL)
    async def tell(self, inp: TellInput) -> None:
        """The campaign's one Slack message, posted the first time and updated in place after."""
        if self.notifier is None:
            return
        req = await self.store.request(inp.campaign_id)
        view = await self.store.get(inp.campaign_id)
        if req is None or view is None or req.slack is None:
            return
        ts = await self.notifier.show(view, req.slack, await self.store.slack_ts(inp.campaign_id))
        if ts is not None:
            await self.store.set_slack_ts(inp.campaign_id, ts)

    def all(self) -> list[Callable[..., object]]:
        return [
            self.select,
            self.progress,
            self.start_member,
            self.skip,
            self.set_state,
            self.cancel_members,
            self.merge_member,
            self.reopen,
            self.tell,
        ]
