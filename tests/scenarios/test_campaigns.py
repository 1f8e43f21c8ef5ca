"""Campaigns end to end: `honk server` and `honk worker` processes on the real Temporal dev server, real
git remotes (the synthetic fleet, honk.testing.fleet, or calc repos), the scripted agent. The test starts
each campaign through the service a front door calls (honk.campaigns.Campaigns, on the stack's own store
and task queue) and asserts on what is stored: the campaign's view, its members' tasks and timelines.

Stories (each ≤ 5 repos): the first wave passes and every repo reaches ready; the first wave fails and the
rest never start; a campaign cancelled halfway (its tasks cancelled, no workspace left behind); a retry of
the failed members with an added instruction; a worker killed mid-campaign and started again; and a
budget spent before every repo ran. On the loopback fake GitHub: a campaign cancelled halfway closes its
open pull requests saying who cancelled it (`on_cancel="close"`) or leaves them open drafts ("draft"); a
repo archived on GitHub is skipped before any task starts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType

from honk.access import Policy, Who
from honk.domain import CampaignSettings, CampaignState, CampaignView, ForgeRef, OnCancel, RepoSelector, TaskState
from honk.egress.policies import ceilings
from honk.gate import Actor, Gate
from honk.service import TaskService
from honk.settings import Settings
from honk.store import AuditLog, Store
from honk.testing.fake_github import FakeGitHub
from honk.testing.fleet import Meant, RepoSpec, make_fleet
from honk.testing.forge_http import branch_head
from honk.testing.processes import HonkStack, TemporalDevServer
from honk.workflow.campaign_policy import BUDGET_SPENT, HELD_BACK, workflow_id
from honk.workflow.client import connect
from repos import BREAKS_THE_FIX, DIRECT_FIX, calc_files, slow_fix

ANA = Actor(who=Who(identity="ana@example.com"), front_door="cli")
WAIT_S = 180.0
GH_TOKEN = "ghp_campaigns_0123456789"


@pytest.fixture(scope="module")
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(tokens=(GH_TOKEN,)) as fake:
        yield fake


@pytest.fixture
def gh_stack(tmp_path: Path, temporal: TemporalDevServer, github: FakeGitHub) -> Iterator[HonkStack]:
    """A Honk whose workers can sign in to the fake GitHub."""
    github.reset()
    s = HonkStack(tmp_path / "honk", temporal.address, max_rounds="3", github_token=GH_TOKEN)
    yield s
    s.stop()


@asynccontextmanager
async def service_of(stack: HonkStack, **campaigns: float) -> AsyncIterator[TaskService]:
    """The service a front door would call, on the stack's store, Temporal and task queue; `campaigns`:
    settings.campaigns beyond a 2 s poll (what the campaigns it starts run with)."""
    settings = Settings().changed(
        data_dir=stack.root / "data",
        temporal_address=stack.env["HONK_TEMPORAL_ADDRESS"],
        task_queue=stack.env["HONK_TASK_QUEUE"],
        campaigns={"poll_s": 2.0, **campaigns},
    )
    store = Store(stack.db_url)
    ceiling, setup_ceiling = ceilings(settings)
    service = TaskService(
        settings,
        store,
        await connect(settings),
        Gate(Policy.open(), store, AuditLog(store)),
        ceiling=ceiling,
        setup_ceiling=setup_ceiling,
    )
    try:
        yield service
    finally:
        await store.close()


async def until(service: TaskService, cid: str, check: Callable[[CampaignView], bool], what: str) -> CampaignView:
    """A bounded wait on the stored campaign."""
    view = await service.campaigns.get(cid)
    try:
        async with asyncio.timeout(WAIT_S):
            while not check(view):
                await asyncio.sleep(0.2)
                view = await service.campaigns.get(cid)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}: {view.model_dump_json(indent=1)[:3000]}") from None
    return view


def ended(view: CampaignView) -> bool:
    return view.state.terminal


def fleet_of(stack: HonkStack, root: Path, specs: list[RepoSpec]) -> list[str]:
    fleet = make_fleet(root, specs=specs)
    fleet.register(stack)
    return fleet.names


def tasks_ended(view: CampaignView) -> bool:
    return all(m.task is not None and m.task.state.terminal for m in view.members if m.status == "started")


async def test_the_first_wave_passes_and_every_repo_reaches_ready(stack: HonkStack, tmp_path: Path):
    names = fleet_of(stack, tmp_path / "fleet", [RepoSpec(f"svc-{i}") for i in range(4)])
    async with service_of(stack) as service:
        view, created = await service.campaigns.start(
            ANA,
            "raise the timeout",
            RepoSelector(glob="svc-*"),
            CampaignSettings(wave_size=2, go_percent=100, concurrency=2),
            request_id="wave-passes",
        )
        again, created_again = await service.campaigns.start(
            ANA, "raise the timeout", RepoSelector(glob="svc-*"), request_id="wave-passes"
        )
        assert (created, created_again, again.id) == (True, False, view.id), "one campaign per request id"

        done = await until(service, view.id, ended, "the campaign to end")

        assert done.state == CampaignState.done, done.reason
        assert done.reason == "4 of 4 reached ready"
        assert [(m.repo, m.wave, m.status) for m in done.members] == [
            (n, 1 if i < 2 else 2, "started") for i, n in enumerate(names)
        ]
        assert all(m.task is not None and m.task.state == TaskState.ready for m in done.members)
        assert all(m.checks_passed for m in done.members)
        first = done.members[0].task
        assert first is not None and first.requested_by == "ana@example.com" and first.text == "raise the timeout"
        timeline = await service.timeline(first.id)
        assert timeline.origin.startswith(f"campaign {view.id}: raise the timeout")
        # The second wave started only after the first was judged: its tasks are newer than both of the first's.
        wave_one = [m.task.created_at for m in done.members[:2] if m.task]
        wave_two = [m.task.created_at for m in done.members[2:] if m.task]
        assert min(wave_two) > max(wave_one)


async def test_a_failing_first_wave_halts_and_the_rest_never_start(stack: HonkStack, tmp_path: Path):
    specs = [RepoSpec("svc-0", Meant.FAILS_CHECKS), RepoSpec("svc-1", Meant.FAILS_CHECKS)]
    specs += [RepoSpec(f"svc-{i}") for i in range(2, 5)]
    fleet_of(stack, tmp_path / "fleet", specs)
    async with service_of(stack) as service:
        view, _ = await service.campaigns.start(
            ANA,
            "raise the timeout",
            RepoSelector(glob="svc-*"),
            CampaignSettings(wave_size=2, go_percent=50, concurrency=5),
        )
        done = await until(service, view.id, ended, "the campaign to halt")

        assert done.state == CampaignState.halted
        assert done.reason == "0 of 2 in the first wave reached ready; 50% (1) needed"
        assert [m.task.state for m in done.members[:2] if m.task] == [TaskState.failed, TaskState.failed]
        rest = done.members[2:]
        assert all(m.status == "skipped" and m.task is None for m in rest), "the rest never started"
        assert all(m.reason == f"{HELD_BACK} {done.reason}" for m in rest)
        assert len(await service.tasks(limit=50)) == 2, "a bad prompt cost the first wave's runs only"


async def test_a_campaign_cancelled_halfway_cancels_its_tasks_and_leaves_no_workspace(
    stack: HonkStack, make_remote, tmp_path: Path
):
    for name in ("calc-a", "calc-b", "calc-c"):
        stack.add_repo(name, make_remote(calc_files(slow_fix(60))).url)
    async with service_of(stack) as service:
        view, _ = await service.campaigns.start(
            ANA, "make add() add", RepoSelector(glob="calc-*"), CampaignSettings(wave_size=0, concurrency=2)
        )

        def working(v: CampaignView) -> bool:
            return sum(m.task is not None and m.task.state == TaskState.working for m in v.members) == 2

        await until(service, view.id, working, "two members' agents at work")
        refused = Actor(who=Who(identity="eve@example.com"), front_door="cli")
        with pytest.raises(Exception, match="Only ana@example.com, who started campaign"):
            await service.campaigns.cancel(view.id, refused)

        await service.campaigns.cancel(view.id, ANA)
        done = await until(service, view.id, lambda v: ended(v) and tasks_ended(v), "the campaign to be cancelled")

        assert done.state == CampaignState.cancelled and done.reason == "cancelled by ana@example.com"
        started = [m for m in done.members if m.status == "started"]
        assert [m.task.state for m in started if m.task] == [TaskState.cancelled, TaskState.cancelled]
        waiting = [m for m in done.members if m.status != "started"]
        assert [(m.status, m.reason) for m in waiting] == [("skipped", "campaign cancelled by ana@example.com")]
        workspaces = stack.root / "data" / "workspaces"
        task_ids = {m.task.id for m in started if m.task}

        async def no_workspaces() -> bool:
            return not any((workspaces / t).exists() for t in task_ids)

        async with asyncio.timeout(30):
            while not await no_workspaces():
                await asyncio.sleep(0.2)
        # Plain git remotes: no pull requests to close; each task's branch is kept in the mirror.


async def test_retry_of_the_failed_members_adds_the_instruction(stack: HonkStack, tmp_path: Path):
    fleet_of(stack, tmp_path / "fleet", [RepoSpec("svc-0"), RepoSpec("svc-1", Meant.FAILS_CHECKS)])
    async with service_of(stack) as service:
        view, _ = await service.campaigns.start(
            ANA, "raise the timeout", RepoSelector(names=["svc-0", "svc-1"]), CampaignSettings(wave_size=0)
        )
        first = await until(service, view.id, ended, "the first attempts")
        assert first.state == CampaignState.done and first.reason == "1 of 2 reached ready"
        failed = first.members[1]
        assert failed.task is not None and failed.task.state == TaskState.failed

        acted = await service.campaigns.retry_failed(view.id, ANA, "Leave the failing test alone.")
        assert [(a.repo, a.done, a.detail) for a in acted] == [("svc-1", True, "attempt 2")]

        def retried(v: CampaignView) -> bool:
            m = v.members[1]
            return ended(v) and m.attempt == 2 and m.task is not None and m.task.state.terminal

        again = await until(service, view.id, retried, "the second attempt to end")
        member = again.members[1]
        assert member.task is not None and member.task.id != failed.task.id
        assert member.task.text == "raise the timeout\n\nLeave the failing test alone."
        assert again.members[0].task == first.members[0].task, "the ready member was left alone"
        assert again.state == CampaignState.done


async def test_a_worker_killed_mid_campaign_and_started_again_finishes_it(stack: HonkStack, make_remote):
    for name in ("calc-a", "calc-b", "calc-c"):
        stack.add_repo(name, make_remote(calc_files(slow_fix(3))).url)
    async with service_of(stack) as service:
        view, _ = await service.campaigns.start(
            ANA, "make add() add", RepoSelector(glob="calc-*"), CampaignSettings(wave_size=1, concurrency=1)
        )
        await until(
            service,
            view.id,
            lambda v: (
                bool(v.members) and v.members[0].task is not None and v.members[0].task.state == TaskState.working
            ),
            "the first member at work",
        )
        stack.kill_worker(stack.workers[0])
        stack.start_worker()
        done = await until(service, view.id, ended, "the campaign to finish on the new worker")
        assert done.state == CampaignState.done, done.reason
        assert [m.task.state for m in done.members if m.task] == [TaskState.ready] * 3


async def test_a_spent_budget_skips_the_rest(stack: HonkStack, make_remote):
    costly = DIRECT_FIX.replace(
        'message = "Fixed add() directly."', 'message = "Fixed add() directly."\ncost_usd = 0.6'
    )
    for name in ("calc-a", "calc-b", "calc-c", "calc-d"):
        stack.add_repo(name, make_remote(calc_files(costly)).url)
    async with service_of(stack) as service:
        view, _ = await service.campaigns.start(
            ANA,
            "make add() add",
            RepoSelector(glob="calc-*"),
            CampaignSettings(wave_size=0, concurrency=1, max_cost_usd=1.0),
        )
        done = await until(service, view.id, ended, "the campaign to end")
        assert done.state == CampaignState.done, done.reason
        assert all(m.task.state == TaskState.ready for m in done.members if m.task), "each spent, within its run"
        started = [m for m in done.members if m.status == "started"]
        skipped = [m for m in done.members if m.status == "skipped"]
        assert [m.repo for m in started] == ["calc-a", "calc-b"]
        assert [(m.repo, m.reason) for m in skipped] == [("calc-c", BUDGET_SPENT), ("calc-d", BUDGET_SPENT)]
        assert [m.cost_cap_usd for m in started] == [0.25, pytest.approx(0.4 / 3)]
        assert done.cost_usd == pytest.approx(1.2), "each ran once: the scripted agent spends past its cap"


@pytest.mark.parametrize("on_cancel", ["close", "draft"])
async def test_a_campaign_cancelled_halfway_closes_its_pull_requests_or_leaves_them_drafts(
    gh_stack: HonkStack, github: FakeGitHub, make_remote, on_cancel: OnCancel
):
    steps = {"calc-a": DIRECT_FIX, "calc-b": DIRECT_FIX, "calc-c": slow_fix(60)}
    on_github(gh_stack, github, make_remote, {name: calc_files(script) for name, script in steps.items()})
    async with service_of(gh_stack) as service:
        view = await all_at_once(service, on_cancel)

        def halfway(v: CampaignView) -> bool:
            states = [m.task.state if m.task else None for m in v.members]
            return states == [TaskState.ready, TaskState.ready, TaskState.working] and all(
                m.pull_request_url for m in v.members[:2]
            )

        await until(service, view.id, halfway, "two members ready with pull requests, one at work")
        await service.campaigns.cancel(view.id, ANA)
        done = await until(service, view.id, lambda v: ended(v) and tasks_ended(v), "the campaign to be cancelled")

    assert done.state == CampaignState.cancelled
    assert [m.task.state for m in done.members if m.task] == [TaskState.cancelled] * 3
    pulls = {name: list(github.repos[f"acme/{name}"].pulls.values()) for name in steps}
    assert not pulls["calc-c"], "the member at work never opened one"
    opened = [(name, found[0]) for name, found in pulls.items() if found]
    assert [name for name, _ in opened] == ["calc-a", "calc-b"]

    def closed_all() -> bool:
        return all(github.pull(f"acme/{name}", pull.number).state == "closed" for name, pull in opened)

    if on_cancel == "close":  # each task closes its own once it has stopped: a bounded wait on the forge
        async with asyncio.timeout(60):
            while not closed_all():
                await asyncio.sleep(0.2)
        for name, pull in opened:
            assert not github.pull(f"acme/{name}", pull.number).merged
            said = github.comments(f"acme/{name}", pull.number)
            assert len(said) == 1 and f"campaign {view.id}" in said[0] and "cancelled by ana@example.com" in said[0]
            assert branch_kept(github, name, pull.head)
    else:
        for name, pull in opened:
            now = github.pull(f"acme/{name}", pull.number)
            assert (now.state, now.draft) == ("open", True), "left open, a draft, as a person's cancel leaves it"
            assert github.comments(f"acme/{name}", pull.number) == []


async def test_a_cancel_closes_the_pull_request_of_a_member_that_failed_after_it_opened(
    gh_stack: HonkStack, github: FakeGitHub, make_remote
):
    fails_later = calc_files(DIRECT_FIX + "\n" + BREAKS_THE_FIX)
    fails_later[".honk.toml"] = "max_rounds = 1\n" + fails_later[".honk.toml"]
    on_github(gh_stack, github, make_remote, {"calc-f": fails_later, "calc-s": calc_files(slow_fix(60))})
    async with service_of(gh_stack) as service:
        view = await all_at_once(service, "close")

        def first(v: CampaignView) -> TaskState | None:
            return v.members[0].task.state if v.members and v.members[0].task else None

        ready = await until(
            service,
            view.id,
            lambda v: first(v) == TaskState.ready and bool(v.members[0].pull_request_url),
            "calc-f ready",
        )
        assert ready.members[0].task is not None
        await service.follow_up(ready.members[0].task.id, "multiply instead", ANA)
        await until(service, view.id, lambda v: first(v) == TaskState.failed, "calc-f failing its follow-up")
        await service.campaigns.cancel(view.id, ANA)
        done = await until(service, view.id, lambda v: ended(v) and tasks_ended(v), "the campaign to be cancelled")

    assert [m.task.state for m in done.members if m.task] == [TaskState.failed, TaskState.cancelled]
    (pull,) = github.repos["acme/calc-f"].pulls.values()
    async with asyncio.timeout(60):  # closed by the cancel's activity: a bounded wait on the forge
        while github.pull("acme/calc-f", pull.number).state != "closed":
            await asyncio.sleep(0.2)
    said = github.comments("acme/calc-f", pull.number)
    assert len(said) == 1 and f"campaign {view.id}" in said[0] and "cancelled by ana@example.com" in said[0]
    assert not github.pull("acme/calc-f", pull.number).merged and branch_kept(github, "calc-f", pull.head)


def on_github(stack: HonkStack, github: FakeGitHub, make_remote, repos: dict[str, dict[str, str]]) -> None:  # noqa: ANN001
    """Each repo on the fake GitHub as acme/<name>, and known to Honk by its name."""
    for name, files in repos.items():
        remote = make_remote(files)
        github.add_repo(f"acme/{name}", remote)
        stack.add_repo(name, remote.url, forge=ForgeRef(kind="github", project=f"acme/{name}", api_url=github.url))


async def all_at_once(service: TaskService, on_cancel: OnCancel) -> CampaignView:
    """A campaign over every calc-* repo, no first wave, all of them at once."""
    view, _ = await service.campaigns.start(
        ANA,
        "make add() add",
        RepoSelector(glob="calc-*"),
        CampaignSettings(wave_size=0, concurrency=5, on_cancel=on_cancel),
    )
    return view


def branch_kept(github: FakeGitHub, name: str, branch: str) -> bool:
    return branch_head(github.repos[f"acme/{name}"].bare, branch) is not None


async def test_a_repo_archived_on_github_is_skipped_before_any_task_starts(
    gh_stack: HonkStack, github: FakeGitHub, tmp_path: Path
):
    fleet = make_fleet(
        tmp_path / "fleet", specs=[RepoSpec("svc-0"), RepoSpec("svc-1", Meant.ARCHIVED), RepoSpec("svc-2")]
    )
    fleet.register_on_forge(gh_stack, github)
    async with service_of(gh_stack) as service:
        view, _ = await service.campaigns.start(
            ANA, "raise the timeout", RepoSelector(glob="svc-*"), CampaignSettings(wave_size=1, go_percent=100)
        )
        done = await until(service, view.id, ended, "the campaign to end")
        tasks = await service.tasks(limit=50)

    assert done.state == CampaignState.done, done.reason
    # The runnable repos first (the first wave is one that can run), the archived one skipped after them.
    assert [(m.repo, m.wave, m.status, m.reason) for m in done.members] == [
        ("svc-0", 1, "started", ""),
        ("svc-2", 2, "started", ""),
        ("svc-1", 2, "skipped", "archived on GitHub"),
    ]
    assert done.members[2].task is None and sorted(t.repo for t in tasks) == ["svc-0", "svc-2"]
    assert [m.task.state for m in done.members if m.task] == [TaskState.ready, TaskState.ready]
    assert done.reason == "2 of 3 reached ready"


async def runs_of(service: TaskService, cid: str) -> list[str]:
    """The campaign workflow's runs, newest first, followed back through each run's ContinuedAsNew."""
    handle = service.client.get_workflow_handle(workflow_id(cid))
    runs: list[str] = []
    run_id: str | None = (await handle.describe()).run_id
    while run_id:
        runs.append(run_id)
        history = await service.client.get_workflow_handle(workflow_id(cid), run_id=run_id).fetch_history()
        started = history.events[0].workflow_execution_started_event_attributes
        run_id = started.continued_execution_run_id or None
    return runs


async def test_a_campaign_that_continued_as_new_still_takes_a_retry_and_a_cancel(
    stack: HonkStack, make_remote, tmp_path: Path
):
    fleet_of(stack, tmp_path / "fleet", [RepoSpec("svc-1", Meant.FAILS_CHECKS)])
    stack.add_repo("slow", make_remote(calc_files(slow_fix(120))).url)
    # A short poll and a history limit of a few loops: the campaign continues as new every second or so.
    async with service_of(stack, poll_s=0.3, history_events_limit=30) as service:
        view, _ = await service.campaigns.start(
            ANA, "fix it", RepoSelector(names=["svc-1", "slow"]), CampaignSettings(wave_size=0, concurrency=2)
        )

        def one_failed_one_working(v: CampaignView) -> bool:
            states = [m.task.state if m.task else None for m in v.members]
            return states == [TaskState.failed, TaskState.working]

        await until(service, view.id, one_failed_one_working, "svc-1 failed while slow works")
        async with asyncio.timeout(WAIT_S):
            while len(await runs_of(service, view.id)) < 3:
                await asyncio.sleep(0.2)
        failed = (await service.campaigns.get(view.id)).members[0].task
        assert failed is not None

        await service.campaigns.retry_failed(view.id, ANA, "Leave the failing test alone.")

        def retried(v: CampaignView) -> bool:
            m = v.members[0]
            return m.attempt == 2 and m.task is not None and m.task.id != failed.id and m.task.state.terminal

        again = await until(service, view.id, retried, "svc-1's second attempt, started by the continued campaign")
        assert again.state == CampaignState.running and again.members[1].task is not None
        assert again.members[1].task.state == TaskState.working, "the retry left the working member alone"
        before_cancel = await runs_of(service, view.id)

        await service.campaigns.cancel(view.id, ANA)
        done = await until(service, view.id, lambda v: ended(v) and tasks_ended(v), "the campaign to be cancelled")
        runs = await runs_of(service, view.id)
        ends = [
            (await service.client.get_workflow_handle(workflow_id(view.id), run_id=r).fetch_history()).events[-1]
            for r in runs
        ]

    assert done.state == CampaignState.cancelled and done.reason == "cancelled by ana@example.com"
    assert [m.task.state for m in done.members if m.task] == [TaskState.failed, TaskState.cancelled]
    assert done.members[0].task is not None and done.members[0].task.text.endswith("Leave the failing test alone.")
    # One workflow id, a chain of runs (newest first): the runs the retry reached are in it, every earlier run
    # ended ContinuedAsNew, and the newest ended the campaign.
    assert len(before_cancel) >= 3 and runs[-len(before_cancel) :] == before_cancel
    assert ends[0].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    assert {e.event_type for e in ends[1:]} == {EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW}
