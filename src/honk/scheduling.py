"""A repo's `[[schedule]]` entries as Temporal schedules, and what a schedule does when it fires.

`Schedules.sync` makes Temporal match the repo's `.honk.toml` on its branch (one schedule per entry, id
`honk-schedule:<repo>/<name>`; an entry removed from the file is deleted). Temporal keeps the timer: a
schedule fires whether or not a worker is up, its `HonkScheduleFire` workflow waits for one, and
`ScheduleFirer` submits the task through TaskService as the schedule itself (`schedule:<repo>/<name>`),
so the access policy decides whether a schedule may ask, as it does for a person.

What a schedule asks for travels in its action (`ScheduleFired`): Temporal is the one record of it, so
nothing here can drift from what fires. A pause from `honk schedule pause` stays across syncs until it
is resumed, or until the file's own `paused` changes.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from temporalio import activity
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionExecutionStartWorkflow,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleDescription,
    ScheduleHandle,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.client import ScheduleSpec as TemporalSpec
from temporalio.service import RPCError, RPCStatusCode

from honk.access import Refused, Who
from honk.domain import Origin, Record, RepoConfig, RepoRef, ScheduleView, SlackThread
from honk.errors import Conflict, NotFound, UserFacingError
from honk.gate import Actor
from honk.settings import Settings
from honk.verify.config import CONFIG_FILE, parse_repo_config
from honk.workflow.schedule_fire import ACTIVITY, NAME, ScheduleFired, ScheduleFireResult
from honk.workspace.at_head import file_at_remote_head
from honk.workspace.worktrees import WorktreeWorkspaces

if TYPE_CHECKING:
    from honk.service import TaskService

log = logging.getLogger("honk.scheduling")

# `:` and `/` are in neither a repo's name nor a schedule's, so `<repo>/<name>` names one schedule of one
# repo (with `-`, repo `a` + schedule `b-c` and repo `a-b` + schedule `c` would share an id).
PREFIX = "honk-schedule:"
FILE_PAUSED = "paused in .honk.toml"


def schedule_id(repo: str, name: str) -> str:
    return f"{PREFIX}{repo}/{name}"


def fire_id(repo: str, name: str) -> str:
    """The fire workflow's id; Temporal appends when it was due, so each fire is its own workflow (and
    the task's request id: a retried submission is the same task)."""
    return f"honk-fire:{repo}/{name}"


def identity(repo: str, name: str) -> str:
    """Who a schedule is to the access policy and in `requested_by`."""
    return f"schedule:{repo}/{name}"


class ScheduleSynced(Record):
    """What a sync does to a repo's schedules, by name (planned by `plan_sync`), and from which commit of
    its branch."""

    repo: str
    commit: str = ""
    created: list[str] = []
    updated: list[str] = []
    deleted: list[str] = []
    unchanged: list[str] = []


def plan_sync(repo: str, wanted: list[ScheduleFired], existing: list[ScheduleFired]) -> ScheduleSynced:
    """Pure: what a sync does, from what the file wants and what Temporal has."""
    have = {f.spec.name: f for f in existing}
    want = {f.spec.name: f for f in wanted}
    return ScheduleSynced(
        repo=repo,
        created=[n for n in want if n not in have],
        updated=[n for n in want if n in have and have[n] != want[n]],
        deleted=sorted(n for n in have if n not in want),
        unchanged=[n for n in want if n in have and have[n] == want[n]],
    )


class RepoReads(Protocol):
    """What Schedules reads of Honk's repos (TaskService answers it)."""

    async def repo(self, name: str) -> RepoRef: ...

    async def repos(self) -> list[RepoRef]: ...


class Schedules:
    def __init__(self, client: Client, settings: Settings, reads: RepoReads) -> None:
        self.client, self.settings, self.reads = client, settings, reads
        self.queue = settings.temporal.task_queue
        # The server's own view of the mirrors workers share (file-locked): the file is read at the
        # remote head without a workspace.
        self.workspaces = WorktreeWorkspaces(
            settings.mirrors_dir,
            settings.workspaces_dir,
            settings.workspaces.git_author_name,
            settings.workspaces.git_author_email,
        )

    # -- what Temporal runs ---------------------------------------------------------------------
    def schedule(self, fire: ScheduleFired) -> Schedule:
        """The Temporal schedule of one entry."""
        return Schedule(
            action=ScheduleActionStartWorkflow(
                NAME, fire, id=fire_id(fire.repo, fire.spec.name), task_queue=self.queue
            ),
            spec=TemporalSpec(cron_expressions=[fire.spec.cron]),
            # A fire still submitting when the next is due: the next is skipped, never piled up.
            policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(minutes=10)),
            state=ScheduleState(paused=fire.spec.paused, note=FILE_PAUSED if fire.spec.paused else None),
        )

    async def create(self, fire: ScheduleFired) -> None:
        await self.client.create_schedule(schedule_id(fire.repo, fire.spec.name), self.schedule(fire))

    # -- sync -------------------------------------------------------------------------------------
    async def read_config(self, repo: RepoRef) -> tuple[str, RepoConfig]:
        """The repo's `.honk.toml` at its branch's remote head (none: no schedules); a bad file is an
        InvalidRepoConfig naming the line."""
        commit, text = await file_at_remote_head(self.workspaces, repo, repo.branch, CONFIG_FILE)
        return commit, parse_repo_config(text) if text is not None else RepoConfig()

    async def sync(self, repo: str) -> ScheduleSynced:
        """Makes the repo's Temporal schedules match its `.honk.toml`, read now."""
        ref = await self.reads.repo(repo)
        commit, config = await self.read_config(ref)
        wanted = [ScheduleFired(repo=ref.name, spec=spec) for spec in config.schedule]
        existing = [view_fire for _, view_fire in await self._described(ref.name)]
        plan = plan_sync(ref.name, wanted, existing)
        by_name = {f.spec.name: f for f in wanted}
        for name in plan.created:
            try:
                await self.create(by_name[name])
            except ScheduleAlreadyRunningError:  # made since it was listed (another sync): made again
                await self._update(self._handle(ref.name, name), by_name[name])
        for name in plan.updated:
            await self._update(self._handle(ref.name, name), by_name[name])
        for name in plan.deleted:
            await self._delete(self._handle(ref.name, name))
        done = plan.model_copy(update={"commit": commit})
        log.info("schedules of %s synced: %s", ref.name, done.model_dump(exclude={"repo"}))
        return done

    async def sync_all(self) -> dict[str, str]:
        """Every repo synced (at server start); a repo whose file or remote has a problem keeps its
        schedules as they were, and its problem is returned (by repo) for the caller to say."""
        problems: dict[str, str] = {}
        for ref in await self.reads.repos():
            try:
                await self.sync(ref.name)
            except UserFacingError as e:
                problems[ref.name] = e.message
        return problems

    async def _update(self, handle: ScheduleHandle, fire: ScheduleFired) -> None:
        new = self.schedule(fire)

        async def updater(current: ScheduleUpdateInput) -> ScheduleUpdate:
            old = await self._fire_of(current.description)
            if old is not None and old.spec.paused == fire.spec.paused:  # a person's pause (or resume) stays
                return ScheduleUpdate(schedule=dataclasses.replace(new, state=current.description.schedule.state))
            return ScheduleUpdate(schedule=new)

        await handle.update(updater)

    # -- reads ----------------------------------------------------------------------------------
    async def list(self, repo: str | None = None) -> list[ScheduleView]:
        """The schedules Temporal has for `repo` (every repo: None), with their next and latest runs."""
        views = []
        for description, fire in await self._described(repo):
            views.append(await self._view(description, fire))
        return sorted(views, key=lambda v: (v.repo, v.name))

    async def _described(self, repo: str | None) -> list[tuple[ScheduleDescription, ScheduleFired]]:
        # The list is eventually consistent; each schedule is described (consistent) before it counts.
        prefix = PREFIX if repo is None else schedule_id(repo, "")
        found = []
        async for listed in await self.client.list_schedules():
            if not listed.id.startswith(prefix):
                continue
            try:
                description = await self.client.get_schedule_handle(listed.id).describe()
            except RPCError as e:
                if e.status == RPCStatusCode.NOT_FOUND:
                    continue
                raise
            fire = await self._fire_of(description)
            if fire is not None:
                found.append((description, fire))
        return found

    async def _fire_of(self, description: ScheduleDescription) -> ScheduleFired | None:
        action = description.schedule.action
        if not isinstance(action, ScheduleActionStartWorkflow) or action.workflow != NAME or not action.args:
            return None
        decoded = await self.client.data_converter.decode(list(action.args), [ScheduleFired])  # type: ignore[arg-type]
        return decoded[0] if decoded and isinstance(decoded[0], ScheduleFired) else None

    async def _view(self, description: ScheduleDescription, fire: ScheduleFired) -> ScheduleView:
        info, state, spec = description.info, description.schedule.state, fire.spec
        last = info.recent_actions[-1] if info.recent_actions else None
        view = ScheduleView(
            id=description.id,
            repo=fire.repo,
            name=spec.name,
            cron=spec.cron,
            prompt=spec.prompt,
            agent=spec.agent,
            notify=spec.notify,
            paused=state.paused,
            note=state.note or "",
            next_runs=list(info.next_action_times[:3]),
            last_run=last.started_at if last else None,
        )
        if last is None or not isinstance(last.action, ScheduleActionExecutionStartWorkflow):
            return view
        try:  # the latest fire's answer, once it is done (a running one says nothing yet)
            handle = self.client.get_workflow_handle(last.action.workflow_id, result_type=ScheduleFireResult)
            described = await handle.describe()
            if described.status is None or described.status.name != "COMPLETED":
                return view
            result = await handle.result()
        except RPCError:
            return view
        return view.model_copy(update={"last_task": result.task_id, "last_refusal": result.refused})

    # -- what people do to a schedule -----------------------------------------------------------
    def _handle(self, repo: str, name: str) -> ScheduleHandle:
        return self.client.get_schedule_handle(schedule_id(repo, name))

    async def _existing(self, repo: str, name: str) -> tuple[ScheduleHandle, ScheduleDescription, ScheduleFired]:
        """The repo's schedule, described (NotFound when it has none)."""
        ref = await self.reads.repo(repo)
        handle = self._handle(ref.name, name)
        try:
            description = await handle.describe()
        except RPCError as e:
            if e.status == RPCStatusCode.NOT_FOUND:
                raise NotFound(
                    f"{ref.name} has no schedule {name!r} (`honk schedule list {ref.name}` shows its schedules; "
                    f"`honk schedule sync {ref.name}` reads its .honk.toml again)."
                ) from None
            raise
        fire = await self._fire_of(description)
        if fire is None:
            raise Conflict(f"Schedule {handle.id} is not {ref.name}'s.")
        return handle, description, fire

    async def pause(self, repo: str, name: str, by: str) -> ScheduleView:
        handle, _, fire = await self._existing(repo, name)
        await handle.pause(note=f"paused by {by}")
        return await self._view(await handle.describe(), fire)  # its state now; the action is unchanged

    async def resume(self, repo: str, name: str, by: str) -> ScheduleView:
        handle, _, fire = await self._existing(repo, name)
        await handle.unpause(note=f"resumed by {by}")
        return await self._view(await handle.describe(), fire)

    async def trigger(self, repo: str, name: str) -> None:
        """Runs the schedule now (also when paused: a person asked), beside any run under way."""
        handle, _, _ = await self._existing(repo, name)
        await handle.trigger(overlap=ScheduleOverlapPolicy.ALLOW_ALL)

    async def delete(self, repo: str, name: str) -> None:
        """Deletes it from Temporal; the next sync makes it again while the file still has it."""
        handle, _, _ = await self._existing(repo, name)
        await self._delete(handle)

    async def view(self, repo: str, name: str) -> ScheduleView:
        _, description, fire = await self._existing(repo, name)
        return await self._view(description, fire)

    @staticmethod
    async def _delete(handle: ScheduleHandle) -> None:
        try:
            await handle.delete()
        except RPCError as e:
            if e.status != RPCStatusCode.NOT_FOUND:
                raise


def refusal_for(repo: str, name: str, refused: Refused) -> str:
    """A policy refusal of a schedule, with how to allow it."""
    who = identity(repo, name)
    return (
        f"{refused.message} To let schedule {name} of {repo} start tasks, an admin names it in the access "
        f'policy: [users."{who}"] (with groups = [...] that may request in {repo}), and lists it (or one of '
        f"those groups) in [repos.{repo}] requesters where that is set."
    )


class ScheduleFirer:
    """The `schedule_fire` activity: a fired schedule's task, submitted through TaskService as the
    schedule (its front door "schedule"), once per fire however often Temporal retries it."""

    def __init__(self, service: TaskService, request_id: Callable[[], str] | None = None) -> None:
        self.service = service
        self._request_id = request_id or (lambda: activity.info().workflow_id)

    @activity.defn(name=ACTIVITY)
    async def fire(self, fire: ScheduleFired) -> ScheduleFireResult:
        repo, spec = fire.repo, fire.spec
        actor = Actor(who=Who(identity=identity(repo, spec.name)), front_door="schedule")
        slack = SlackThread(channel=spec.notify, thread_ts="") if spec.notify else None
        try:
            view, _ = await self.service.submit(
                repo,
                spec.prompt,
                actor,
                agent=spec.agent,
                request_id=self._request_id(),
                slack=slack,
                origin=Origin(kind="schedule", detail=f"schedule {spec.name} of {repo} ({spec.cron})"),
            )
        except Refused as e:
            log.warning("schedule %s of %s refused: %s", spec.name, repo, e.message)
            return ScheduleFireResult(refused=refusal_for(repo, spec.name, e))
        except UserFacingError as e:  # the repo is gone, the agent unknown: said where the schedule is listed
            log.warning("schedule %s of %s started nothing: %s", spec.name, repo, e.message)
            return ScheduleFireResult(refused=e.message)
        return ScheduleFireResult(task_id=view.id)

    def all(self) -> list[Callable[..., object]]:
        return [self.fire]
