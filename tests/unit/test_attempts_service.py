"""Best of N's service (honk.attempts) against the real store and the real Temporal dev server, with no
worker: the attempts are submitted as ordinary tasks (and stay queued); what they then show is written to
the store as their workflows would record it. Starting (N checked, idempotent per request id, agents in
turn, the group's workflow started once), the estimate said before, the ranked view, and picking (who may,
which task, once)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from honk.access import Policy, Refused, Who
from honk.attempts import AUTO_PICKER, Attempts, group_for
from honk.egress.policies import ceilings
from honk.errors import Conflict, NotFound, UserFacingError
from honk.events import ChangeReviewed, CheckFinished, TaskFailed, TaskReady
from honk.gate import Actor, Gate
from honk.service import TaskService
from honk.settings import Settings
from honk.store import AuditLog, AuditQuery, Store
from honk.store.attempts import StoredPick, attempt_request_id
from honk.testing.gitrepo import RemoteRepo
from honk.testing.processes import TemporalDevServer
from honk.workflow.attempts_workflow import workflow_id
from honk.workflow.client import connect
from repos import DIRECT_FIX, calc_files

POLICY = """
allow_unknown = false
[users."ada@example.com"]
[users."bo@example.com"]
[users."cy@example.com"]
[repos.calc]
requesters = ["ada@example.com", "bo@example.com", "cy@example.com"]
mergers = ["cy@example.com"]
"""
ADA = Actor(who=Who(identity="ada@example.com", email="ada@example.com"), front_door="cli")
BO = Actor(who=Who(identity="bo@example.com", email="bo@example.com"), front_door="web")
CY = Actor(who=Who(identity="cy@example.com", email="cy@example.com"), front_door="web")


@pytest.fixture
async def honk(tmp_path: Path, temporal: TemporalDevServer) -> AsyncIterator[tuple[TaskService, Client]]:
    settings = Settings().changed(
        data_dir=tmp_path / "data",
        temporal_address=temporal.address,
        task_queue=f"attempts-{uuid.uuid4().hex[:8]}",  # no worker polls it: the tasks stay queued
        agent_max_cost_usd=4.0,
    )
    settings.data_dir.mkdir(parents=True)
    store = Store(settings.db_url)
    await store.create_schema()
    client = await connect(settings)
    gate = Gate(Policy.parse(POLICY), store, AuditLog(store))
    service = TaskService(settings, store, client, gate, ceiling=ceilings(settings)[0])
    remote = RemoteRepo(tmp_path / "remote", calc_files(DIRECT_FIX))
    await service.add_repo("calc", remote.url)
    yield service, client
    await store.close()


async def _progress(service: TaskService, task_id: str, passed: bool, stat: str = "") -> None:
    """What the task's workflow records when its checks pass and it is delivered, or fail and it gives up."""
    check = CheckFinished(name="test", passed=passed, duration_s=0.1, distilled="ok" if passed else "1 failed")
    if passed:
        review = ChangeReviewed(judge_ok=True, judge_reason="no judge configured", guard_findings=[])
        await service.store.append(task_id, check, review, TaskReady(commit="c" * 40, summary="done", diffstat=stat))
    else:
        await service.store.append(task_id, check, TaskFailed(reason="the checks failed"))


async def test_start_submits_n_ordinary_tasks_once_and_follows_them(honk: tuple[TaskService, Client]) -> None:
    service, client = honk
    attempts: Attempts = service.attempts
    view, created = await attempts.start(ADA, "calc", "make add() add", 3, agents=["scripted"], request_id="r-1")
    assert created and view.group == group_for("r-1") and view.n == 3 and view.requested_by == ADA.identity
    assert sorted(a.attempt for a in view.attempts) == [1, 2, 3]
    assert all(a.agent == "scripted" and a.state.value == "queued" for a in view.attempts)
    tasks = await service.tasks(repo="calc")
    assert len(tasks) == 3 and {t.text for t in tasks} == {"make add() add"}
    timeline = await service.timeline(view.attempts[0].task_id)
    assert (timeline.attempts, timeline.picked_by) == (3, None)
    described = await client.get_workflow_handle(workflow_id(view.group)).describe()
    assert described.status == WorkflowExecutionStatus.RUNNING

    again, created = await attempts.start(ADA, "calc", "make add() add", 3, request_id="r-1")
    assert not created and [a.task_id for a in again.attempts] == [a.task_id for a in view.attempts]
    assert len(await service.tasks(repo="calc")) == 3
    with pytest.raises(Conflict, match="already used by ada@example.com"):  # someone else's request id
        await attempts.start(BO, "calc", "make add() add", 3, request_id="r-1")


@pytest.mark.parametrize(
    ("n", "agents", "said"),
    [
        (0, None, "2 to 5 attempts; 0 were asked"),
        (1, None, "For one attempt, ask without --attempts"),
        (1000, None, "Ask for at most 5"),
        (2, ["scripted", "nope"], "Unknown agent 'nope'"),
        (2, ["scripted", "scripted", "scripted"], "3 agents were named for 2 attempts"),
    ],
)
async def test_hostile_starts_start_nothing(honk: tuple[TaskService, Client], n, agents, said) -> None:  # noqa: ANN001
    service, _ = honk
    with pytest.raises(UserFacingError, match=said):
        await service.attempts.start(ADA, "calc", "make add() add", n, agents=agents)
    assert await service.tasks(repo="calc") == []


async def test_a_person_who_may_not_ask_starts_nothing(honk: tuple[TaskService, Client]) -> None:
    service, _ = honk
    stranger = Actor(who=Who(identity="eve@example.com", email="eve@example.com"), front_door="web")
    with pytest.raises(Refused):
        await service.attempts.start(stranger, "calc", "make add() add", 2)
    assert await service.tasks(repo="calc") == []


async def test_the_estimate_is_n_times_one_tasks_cost_limit(honk: tuple[TaskService, Client]) -> None:
    service, _ = honk
    estimate = await service.attempts.estimate("calc", 3)
    assert (estimate.per_attempt_usd, estimate.total_usd) == (4.0, 12.0)
    assert estimate.line() == "3 attempts cost up to $12.00 (3 × $4.00 per task)."
    with pytest.raises(UserFacingError, match="2 to 5 attempts"):
        await service.attempts.estimate("calc", 9)


async def test_the_view_ranks_and_a_pick_cancels_the_others(honk: tuple[TaskService, Client]) -> None:
    service, _ = honk
    view, _ = await service.attempts.start(ADA, "calc", "make add() add", 3, request_id="r-2")
    by_attempt = {a.attempt: a.task_id for a in view.attempts}
    await _progress(service, by_attempt[1], True, " 1 file changed, 3 insertions(+), 1 deletion(-)")
    await _progress(service, by_attempt[2], False)
    await _progress(service, by_attempt[3], True, " 1 file changed, 1 insertion(+), 1 deletion(-)")
    ranked = await service.attempts.view(view.group)
    assert [(a.attempt, a.rank) for a in ranked.attempts] == [(3, 1), (1, 2), (2, 3)]
    assert ranked.attempts[-1].why == "failed; checks fail" and ranked.settled

    with pytest.raises(Refused, match="may not cancel"):  # bo asked nothing here and may not merge
        await service.attempts.pick(view.group, by_attempt[1], BO)
    with pytest.raises(Conflict, match="Attempt 2 is failed: only an attempt that is ready"):
        await service.attempts.pick(view.group, by_attempt[2], ADA)
    other, _ = await service.attempts.start(ADA, "calc", "something else", 2, request_id="r-3")
    with pytest.raises(NotFound, match="is not an attempt of"):  # a task of another group
        await service.attempts.pick(view.group, other.attempts[0].task_id, ADA)
    with pytest.raises(NotFound, match="is not a best-of-N group"):
        await service.attempts.pick("best-../../etc", by_attempt[1], ADA)
    with pytest.raises(NotFound, match="No best-of-N group"):
        await service.attempts.view("best-000000000000")

    picked = await service.attempts.pick(view.group, by_attempt[1], CY)  # a merger may pick for ada
    assert (picked.picked, picked.picked_by) == (by_attempt[1], CY.identity)
    with pytest.raises(Conflict, match="already picked by cy@example.com"):
        await service.attempts.pick(view.group, by_attempt[3], ADA)
    assert await service.attempts.auto_pick(view.group) is None  # a person's pick stays
    refused = await service.gate.audit.find(AuditQuery(action="cancel", outcome="refused"))
    assert len(refused) == 4 and any("may not cancel" in e.detail for e in refused)
    done = await service.gate.audit.find(AuditQuery(action="cancel", outcome="ok"))
    assert [e.task_id for e in done] == [by_attempt[1]] and "picked attempt 1" in done[0].detail


async def test_auto_pick_takes_the_top_ready_attempt_only(honk: tuple[TaskService, Client]) -> None:
    service, _ = honk
    view, _ = await service.attempts.start(ADA, "calc", "make add() add", 2, request_id="r-4")
    first, second = (a.task_id for a in sorted(view.attempts, key=lambda a: a.attempt))
    await _progress(service, first, False)
    await _progress(service, second, False)
    assert await service.attempts.auto_pick(view.group) is None  # none reached ready: a person looks
    view, _ = await service.attempts.start(ADA, "calc", "make add() add", 2, request_id="r-5")
    first, second = (a.task_id for a in sorted(view.attempts, key=lambda a: a.attempt))
    await _progress(service, first, False)
    await _progress(service, second, True, " 1 file changed, 1 insertion(+)")
    chosen = await service.attempts.auto_pick(view.group)
    assert chosen is not None and chosen.task_id == second
    assert (await service.attempts.view(view.group)).picked_by == AUTO_PICKER
    assert attempt_request_id(view.group, 2).endswith("-attempt-2")


async def test_two_picks_at_once_one_wins_the_other_is_told_whose(
    honk: tuple[TaskService, Client], tmp_path: Path
) -> None:
    """Two processes (the web server and a Slack handler, say): each its own store and service on one
    database, picking different attempts of one group at the same moment. The store decides: one pick
    stands, the other is a Conflict naming it; only the winner's task records a pick."""
    service, client = honk
    view, _ = await service.attempts.start(ADA, "calc", "make add() add", 3, request_id="r-6")
    by_attempt = {a.attempt: a.task_id for a in view.attempts}
    for i in (1, 3):
        await _progress(service, by_attempt[i], True, " 1 file changed, 1 insertion(+)")
    other_store = Store(service.settings.db_url)
    other = TaskService(
        service.settings,
        other_store,
        client,
        Gate(Policy.parse(POLICY), other_store, AuditLog(other_store)),
        ceiling=ceilings(service.settings)[0],
    )
    try:
        results = await asyncio.gather(
            service.attempts.pick(view.group, by_attempt[1], ADA),
            other.attempts.pick(view.group, by_attempt[3], CY),
            return_exceptions=True,
        )
    finally:
        await other_store.close()
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1 and len(lost) == 1, results
    winner = won[0]
    assert isinstance(lost[0], Conflict)
    attempt = 1 if winner.picked == by_attempt[1] else 3
    assert f"Attempt {attempt} of {view.group} was already picked by {winner.picked_by}" in lost[0].message
    timelines = [await service.timeline(by_attempt[i]) for i in (1, 3)]
    assert [t.picked_by for t in timelines].count(None) == 1  # one AttemptPicked, on the winner only
    assert (await service.attempts.view(view.group)).picked == winner.picked


async def test_the_same_pick_again_finishes_it_and_a_different_one_is_refused(
    honk: tuple[TaskService, Client],
) -> None:
    """A pick claimed in the store whose event was never written (its process died between the two): the
    view already shows it, the same person picking the same attempt writes the event, anyone else's pick
    is a Conflict."""
    service, _ = honk
    view, _ = await service.attempts.start(ADA, "calc", "make add() add", 2, request_id="r-7")
    by_attempt = {a.attempt: a.task_id for a in view.attempts}
    for i in (1, 2):
        await _progress(service, by_attempt[i], True, " 1 file changed, 1 insertion(+)")
    claim = StoredPick(group=view.group, task_id=by_attempt[2], attempt=2, picked_by=ADA.identity)
    assert (await service.attempts.store.claim_pick(claim)) == (claim, True)
    assert (await service.attempts.view(view.group)).picked == by_attempt[2]
    with pytest.raises(Conflict, match="Attempt 2 of .* was already picked by ada@example.com"):
        await service.attempts._pick(
            view, view.attempts[0] if view.attempts[0].attempt == 1 else view.attempts[1], CY.identity
        )
    chosen = next(a for a in view.attempts if a.attempt == 2)
    done = await service.attempts._pick(view, chosen, ADA.identity)
    assert (done.picked, done.picked_by) == (by_attempt[2], ADA.identity)
    assert (await service.timeline(by_attempt[2])).picked_by == ADA.identity


LIMITED = """
allow_unknown = false
[users."ada@example.com"]
max_concurrent = 3
[repos.calc]
requesters = ["ada@example.com"]
agents = ["scripted"]
"""


@pytest.mark.parametrize(
    ("n", "going", "agents", "said"),
    [
        (
            4,
            0,
            None,
            "best of 4 starts 4 tasks at once and ada@example.com may start only 3 more now; ask for at most 3",
        ),
        (3, 2, None, "may start only 1 more now; wait for some of their tasks to finish"),
        (2, 0, ["scripted", "claude"], "agent 'claude' is not allowed in calc"),
    ],
)
async def test_a_group_that_cannot_start_whole_starts_nothing(
    honk: tuple[TaskService, Client],
    n,
    going,
    agents,
    said,  # noqa: ANN001
) -> None:
    """The person's limits and the policy are checked for all N before the first attempt starts: N more must
    fit, and every attempt's agent must be allowed. A refusal starts no attempt (and no group workflow)."""
    service, _ = honk
    service.gate.policy = Policy.parse(LIMITED)
    for i in range(going):
        await service.submit("calc", f"something else {i}", ADA)
    with pytest.raises(Refused, match=said):
        await service.attempts.start(ADA, "calc", "make add() add", n, agents=agents, request_id=f"r-{n}-{going}")
    assert len(await service.tasks(repo="calc")) == going
    refused = await service.gate.audit.find(AuditQuery(action="request", outcome="refused"))
    assert len(refused) == 1 and said.split(";")[0] in refused[0].detail


async def test_a_retried_start_needs_no_room_for_the_attempts_already_there(honk: tuple[TaskService, Client]) -> None:
    service, _ = honk
    service.gate.policy = Policy.parse(LIMITED)
    view, _ = await service.attempts.start(ADA, "calc", "make add() add", 3, request_id="r-full")
    again, created = await service.attempts.start(ADA, "calc", "make add() add", 3, request_id="r-full")
    assert not created and again.group == view.group


async def test_an_attempt_refused_after_the_check_cancels_those_started(
    honk: tuple[TaskService, Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A race the check before cannot see: between attempts 1 and 2 another task of ada's takes her last
    place, so attempt 2 is refused. Attempt 1 is cancelled (its workflow told), and the refusal says so."""
    service, client = honk
    service.gate.policy = Policy.parse(LIMITED.replace("max_concurrent = 3", "max_concurrent = 2"))
    submit = service.submit

    async def racing(repo: str, text: str, actor: Actor, *args: object, **kwargs: object):  # noqa: ANN202
        if str(args[2]).endswith("-attempt-2"):
            await submit("calc", "another request of hers", ADA)
        return await submit(repo, text, actor, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "submit", racing)
    with pytest.raises(Refused, match=r"Attempt 2 of 2 could not start \(ada@example.com has 2 tasks going") as e:
        await service.attempts.start(ADA, "calc", "make add() add", 2, request_id="r-race")
    first = next(t for t in await service.tasks(repo="calc") if t.text == "make add() add")
    assert f"the 1 started before it ({first.id}) were cancelled" in e.value.message
    assert e.value.message.startswith('Refused by policy rule users."ada@example.com".max_concurrent: Attempt 2')
    history = await client.get_workflow_handle(first.id).fetch_history()
    signals = [
        ev.workflow_execution_signaled_event_attributes
        for ev in history.events
        if ev.HasField("workflow_execution_signaled_event_attributes")
    ]
    assert [s.signal_name for s in signals] == ["cancel"]
    with pytest.raises(RPCError, match="not found"):  # the group was never followed: no workflow ranks half a group
        await client.get_workflow_handle(workflow_id(group_for("r-race"))).describe()
    done = await service.gate.audit.find(AuditQuery(action="cancel", outcome="ok"))
    assert [d.task_id for d in done] == [first.id] and "attempt 2 of 2 could not start" in done[0].detail
