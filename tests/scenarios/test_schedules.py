"""A repo's `[[schedule]]` entries become Temporal schedules and start tasks: synced from the file on
the remote's branch (created, changed, deleted; a bad cron refused with its line), fired through
Temporal's own trigger while no worker runs (the task runs when a worker comes), a short real interval
that fires by itself, and pause / resume / run / delete through `honk schedule`. One server (the one
`honk server` builds, on a real uvicorn, with the schedules router), one in-process worker with the real
activities, the real Temporal dev server and a real git remote, for the whole module."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest
import pytest_asyncio
import uvicorn
from click.testing import CliRunner, Result
from temporalio.client import Client, ScheduleIntervalSpec
from temporalio.client import ScheduleSpec as TemporalSpec
from temporalio.worker import Worker

from honk.access import Policy, Refused, Who
from honk.accounts import Role
from honk.cli.main import cli
from honk.composition.server import build_app
from honk.composition.worker import build_activities
from honk.domain import ScheduleSpec, TaskState, TaskView
from honk.events import TaskAccepted
from honk.gate import Actor, Gate
from honk.ports import free_port
from honk.scheduling import ScheduleFirer, schedule_id
from honk.service import TaskService
from honk.settings import Settings
from honk.store import AuditLog, AuditQuery, Store
from honk.testing.gitrepo import RemoteRepo
from honk.workflow.client import connect
from honk.workflow.schedule_fire import ScheduleFired, ScheduleFireWorkflow
from honk.workflow.task_workflow import TaskWorkflow
from repos import DIRECT_FIX, calc_files

pytestmark = pytest.mark.asyncio(loop_scope="module")
WAIT_S = 60.0

NIGHTLY = '[[schedule]]\nname = "nightly"\ncron = "0 3 * * mon-fri"\nprompt = "make add() add"\n'
WEEKLY = '[[schedule]]\nname = "weekly"\ncron = "30 6 * * 1"\nprompt = "tidy the README"\npaused = true\n'


class Honk:
    def __init__(self, url: str, service: TaskService, client: Client, settings: Settings, remote: RemoteRepo):
        self.url, self.service, self.client, self.settings, self.remote = url, service, client, settings, remote
        self.store = Store(settings.db_url)  # the worker's own connection, as a worker process has

    async def honk(self, *args: str) -> Result:
        """The `honk` command, run in a thread: its HTTP client blocks, and the server is on this loop."""
        runner = CliRunner()
        return await asyncio.to_thread(runner.invoke, cli, ["--url", self.url, *args], catch_exceptions=True)

    @asynccontextmanager
    async def worker(self) -> AsyncIterator[None]:
        """A worker as `honk worker` will compose it: the task's activities and the schedule's."""
        acts = build_activities(self.settings, self.store)
        async with Worker(
            self.client,
            task_queue=self.settings.temporal.task_queue,
            workflows=[TaskWorkflow, ScheduleFireWorkflow],
            activities=[*acts.all(), *ScheduleFirer(self.service).all()],
        ):
            yield
        await acts.steps.workspaces.close()

    async def tasks_of(self, schedule: str) -> list[TaskView]:
        return await self.service.tasks(repo="calc", requested_by=f"schedule:calc/{schedule}")


async def until(check: Callable[[], object], what: str, timeout_s: float = WAIT_S) -> None:
    """A bounded wait for an async condition."""
    try:
        async with asyncio.timeout(timeout_s):
            while not await check():  # type: ignore[misc]
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise AssertionError(f"timed out after {timeout_s}s waiting for {what}") from None


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def honk(tmp_path_factory: pytest.TempPathFactory, temporal) -> AsyncIterator[Honk]:
    root = tmp_path_factory.mktemp("schedules")
    remote = RemoteRepo(root / "remote", calc_files(DIRECT_FIX, NIGHTLY + WEEKLY))
    settings = Settings().changed(
        data_dir=root / "data",
        host="127.0.0.1",
        port=free_port(),
        temporal_address=temporal.address,
        task_queue=f"schedules-{uuid.uuid4().hex[:8]}",
        anonymous=True,
    )
    app = build_app(settings)  # the composition root mounts the schedules router
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=settings.server.port, log_level="warning"))
    running = asyncio.ensure_future(server.serve())
    async with asyncio.timeout(60):
        while not server.started:
            assert not running.done(), "the server did not start"
            await asyncio.sleep(0.02)
    service: TaskService = app.honk.state.service
    await service.add_repo("calc", remote.url)
    honk = Honk(f"http://127.0.0.1:{settings.server.port}", service, await connect(settings), settings, remote)
    try:
        yield honk
    finally:
        for view in await service.schedules.list():
            await service.schedules.delete(view.repo, view.name)
        await honk.store.close()
        server.should_exit = True
        await running


async def test_sync_makes_the_files_schedules_and_follows_the_file(honk: Honk):
    synced = await honk.honk("schedule", "sync", "calc")
    assert synced.exit_code == 0, (synced.output, synced.exception)
    assert synced.output.startswith("calc: created nightly, weekly (at ")
    listed = await honk.honk("schedule", "list", "calc")
    nightly, weekly = listed.output.splitlines()
    assert nightly.split()[:7] == ["calc/nightly", "0", "3", "*", "*", "mon-fri", "active"] and "next " in nightly
    assert weekly.split()[:9] == ["calc/weekly", "30", "6", "*", "*", "1", "paused", "(paused", "in"]

    again = await honk.honk("schedule", "sync", "calc")
    assert again.output.strip().startswith("calc: nothing to change")

    honk.remote.push_change(
        {".honk.toml": calc_files(DIRECT_FIX, NIGHTLY.replace("make add", "do make add"))[".honk.toml"]}
    )
    changed = await honk.honk("schedule", "sync")
    assert changed.output.startswith("calc: updated nightly; deleted weekly"), changed.output
    views = await honk.service.schedules.list("calc")
    assert [(v.name, v.prompt) for v in views] == [("nightly", "do make add() add")]


async def test_a_bad_cron_is_refused_with_its_line_and_the_schedules_stay(honk: Honk):
    bad = NIGHTLY.replace("0 3 * * mon-fri", "0 3 * *")
    honk.remote.push_change({".honk.toml": calc_files(DIRECT_FIX, bad)[".honk.toml"]})
    refused = await honk.honk("schedule", "sync", "calc")
    assert refused.exit_code != 0
    said = str(refused.exception)
    assert said.startswith(".honk.toml line 9: schedule[0].cron must have 5 fields"), said
    assert 'like "0 3 * * 1-5"' in said
    assert [v.name for v in await honk.service.schedules.list("calc")] == ["nightly"]
    good = calc_files(DIRECT_FIX, NIGHTLY)[".honk.toml"]
    head = honk.remote.push_change({".honk.toml": good})
    assert honk.remote.show(".honk.toml").strip() == good.strip()
    synced = await honk.honk("schedule", "sync", "calc")
    assert synced.output.startswith("calc: updated nightly")
    assert synced.output.strip() == f"calc: updated nightly (at {head[:10]})"


async def test_a_schedule_fired_while_no_worker_runs_starts_its_task_when_one_comes(honk: Honk):
    fired_now = await honk.honk("schedule", "run", "calc", "nightly")  # Temporal's trigger, not a cron minute
    assert fired_now.exit_code == 0 and "fired" in fired_now.output, (fired_now.output, fired_now.exception)

    async def fire_waiting() -> bool:
        view = (await honk.service.schedules.list("calc"))[0]
        return view.last_run is not None

    await until(fire_waiting, "the fire's workflow to start")
    assert await honk.tasks_of("nightly") == []  # no worker yet: the fire waits in Temporal

    async with honk.worker():

        async def started() -> bool:
            return len(await honk.tasks_of("nightly")) == 1

        await until(started, "the scheduled task")
        task = (await honk.tasks_of("nightly"))[0]

        async def ready() -> bool:
            return (await honk.service.task(task.id)).state in (TaskState.ready, TaskState.failed)

        await until(ready, "the scheduled task to finish its work", 120)
    done = await honk.service.task(task.id)
    assert done.state == TaskState.ready, done.reason
    assert done.text == "make add() add"
    accepted = [e.event for e in await honk.service.events(task.id) if isinstance(e.event, TaskAccepted)]
    assert [a.requested_by for a in accepted] == ["schedule:calc/nightly"]
    view = (await honk.service.schedules.list("calc"))[0]
    assert (view.last_task, view.last_refusal) == (task.id, None)


async def test_pause_resume_delete_and_sync_again_through_the_cli(honk: Honk):
    paused = await honk.honk("schedule", "pause", "calc", "nightly")
    assert "paused (paused by " in paused.output, (paused.output, paused.exception)
    synced = await honk.honk("schedule", "sync", "calc")  # the file did not change: a person's pause stays
    assert synced.exit_code == 0, (synced.output, synced.exception)
    assert synced.output.startswith("calc: nothing to change"), synced.output
    assert (await honk.service.schedules.list("calc"))[0].paused
    resumed = await honk.honk("schedule", "resume", "calc", "nightly")
    assert " active" in resumed.output and not (await honk.service.schedules.list("calc"))[0].paused

    unknown = await honk.honk("schedule", "pause", "calc", "nope")
    assert "calc has no schedule 'nope'" in str(unknown.exception)
    hostile = await honk.honk("schedule", "run", "calc", "../../tasks")
    assert hostile.exit_code != 0

    deleted = await honk.honk("schedule", "delete", "calc", "nightly")
    assert deleted.output.startswith("deleted schedule nightly of calc")

    async def gone() -> bool:
        return await honk.service.schedules.list("calc") == []

    await until(gone, "the deleted schedule to leave the list")
    assert (await honk.honk("schedule", "sync", "calc")).output.startswith("calc: created nightly")
    page = await asyncio.to_thread(httpx.get, f"{honk.url}/schedules")
    assert page.status_code == 200 and "calc / nightly" in page.text and "Run now" in page.text

    # Each change is in the audit log, as is what was refused; a requester may not pause one.
    bo = Actor(who=Who(identity="bo@example.com"), front_door="api", role=Role.requester)

    async def never(repo: str) -> None:
        raise AssertionError(f"a refused change to {repo}'s schedules is not made")

    with pytest.raises(Refused, match="pausing a schedule needs an admin"):
        await honk.service.managed("schedule_pause", bo, "calc", "paused nightly", never)
    logged = [(e.actor, e.action, e.outcome, e.detail) for e in await honk.service.audit(AuditQuery(repo="calc"))]
    changes = [(action, outcome, detail) for _, action, outcome, detail in reversed(logged)]
    assert [c for c in changes if c[0].startswith("schedule_") and c[1] == "ok"][-5:] == [
        ("schedule_pause", "ok", "paused nightly"),
        ("schedule_sync", "ok", "synced"),
        ("schedule_resume", "ok", "resumed nightly"),
        ("schedule_delete", "ok", "deleted nightly"),
        ("schedule_sync", "ok", "synced"),
    ]
    refused = [(who, action, detail) for who, action, outcome, detail in logged if outcome == "refused"]
    assert any(w == "bo@example.com" and a == "schedule_pause" and d.endswith("needs an admin.") for w, a, d in refused)
    assert any(action == "schedule_pause" and "no schedule 'nope'" in detail for _, action, detail in refused)


async def test_a_short_real_interval_fires_by_itself_until_deleted(honk: Honk):
    tick = ScheduleFired(repo="calc", spec=ScheduleSpec(name="tick", cron="* * * * *", prompt="make add() add"))
    # The schedule a sync makes of the entry, on a 3 s interval instead of its cron's minute.
    made = honk.service.schedules.schedule(tick)
    every = dataclasses.replace(made, spec=TemporalSpec(intervals=[ScheduleIntervalSpec(every=timedelta(seconds=3))]))
    await honk.client.create_schedule(schedule_id("calc", "tick"), every)
    async with honk.worker():

        async def two() -> bool:
            return len(await honk.tasks_of("tick")) >= 2

        await until(two, "two fires of the interval", 45)
        await honk.service.schedules.delete("calc", "tick")
        count = len(await honk.tasks_of("tick"))
        handle = honk.client.get_schedule_handle(schedule_id("calc", "tick"))
        with pytest.raises(Exception, match="not found"):  # this carries "until deleted": Temporal has it no more
            await handle.describe()
        for task in await honk.tasks_of("tick"):
            await honk.service.cancel(task.id, Actor(who=Who(identity="ana@example.com"), front_door="api"))
    assert len(await honk.tasks_of("tick")) == count  # and no fire came in the moment the worker stayed up


async def test_a_schedule_the_policy_does_not_know_is_refused_with_how_to_allow_it(honk: Honk):
    policy = Policy.parse('[users."ada@example.com"]\n[repos.calc]\nrequesters = ["ada@example.com"]\n')
    strict = TaskService(
        honk.settings,
        honk.service.store,
        honk.client,
        Gate(policy, honk.service.store, AuditLog(honk.service.store)),
        ceiling=honk.service.ceiling,
    )
    answer = await ScheduleFirer(strict, request_id=lambda: "fire-refused-1").fire(
        ScheduleFired(repo="calc", spec=ScheduleSpec(name="nightly", prompt="make add() add", cron="0 3 * * *"))
    )
    assert answer.task_id is None and answer.refused is not None
    assert answer.refused.startswith("Refused by policy rule users: schedule:calc/nightly is not listed")
    assert '[users."schedule:calc/nightly"]' in answer.refused and "[repos.calc] requesters" in answer.refused
    known = Policy.parse('[users."schedule:calc/nightly"]\n[repos.calc]\nrequesters = ["ada@example.com"]\n')
    strict.gate = Gate(known, honk.service.store, AuditLog(honk.service.store))
    answer = await ScheduleFirer(strict, request_id=lambda: "fire-refused-2").fire(
        ScheduleFired(repo="calc", spec=ScheduleSpec(name="nightly", prompt="make add() add", cron="0 3 * * *"))
    )
    assert answer.refused is not None and "schedule:calc/nightly may not request tasks in calc" in answer.refused
    gone = await ScheduleFirer(honk.service, request_id=lambda: "fire-gone-1").fire(
        ScheduleFired(repo="nowhere", spec=ScheduleSpec(name="nightly", prompt="x", cron="0 3 * * *"))
    )
    assert gone.task_id is None and gone.refused is not None and "Unknown repo 'nowhere'" in gone.refused
