"""Honk's store keeps each task's summary in step with its events, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from honk.domain import RepoRef, TaskRequest, TaskState
from honk.events import (
    AgentFinished,
    Merged,
    RepoPublished,
    TaskAccepted,
    TaskFailed,
    TaskReady,
    WorkspacePreparing,
)
from honk.store import Store


def _req(task_id: str = "t-abc") -> TaskRequest:
    return TaskRequest(
        task_id=task_id, request_id=f"r-{task_id}", repo=RepoRef(name="r", url="/x"), text="do it", requested_by="ana"
    )


async def test_events_move_the_state_and_fill_the_summary(store: Store):
    view, created = await store.create_task(_req(), "honk/t-abc")
    assert created and view.state == TaskState.queued
    await store.append(
        "t-abc", TaskAccepted(repo="r", text="do it", requested_by="ana", agent="scripted"), WorkspacePreparing()
    )
    assert (await store.get_task("t-abc")).state == TaskState.provisioning
    await store.append(
        "t-abc", AgentFinished(round=1, summary="s", changed_files=["a"], commit="c", model="m1", cost_usd=0.25)
    )
    await store.append("t-abc", AgentFinished(round=2, summary="s", changed_files=["a"], commit="c", cost_usd=0.5))
    await store.append("t-abc", TaskReady(commit="c", summary="s", diffstat=""))
    await store.append("t-abc", Merged(commit="m", target="main", approved_by="bo"))
    view = await store.get_task("t-abc")
    assert (view.state, view.cost_usd, view.model, view.merged_commit, view.approved_by) == (
        TaskState.merged,
        0.75,
        "m1",
        "m",
        "bo",
    )
    await store.append("t-abc", TaskFailed(reason="late"))
    assert (await store.get_task("t-abc")).state == TaskState.merged, "a terminal state is final"


async def test_same_task_id_is_created_once(store: Store):
    assert (await store.create_task(_req(), "honk/t-abc"))[1] is True
    again, created = await store.create_task(_req(), "honk/t-abc")
    assert created is False and again.id == "t-abc"
    assert len(await store.list_tasks()) == 1


async def test_events_after_an_id_in_order(store: Store):
    await store.create_task(_req(), "b")
    await store.append("t-abc", WorkspacePreparing(), TaskReady(commit="c", summary="", diffstat=""))
    evs = await store.events("t-abc")
    assert [e.event.kind for e in evs] == ["workspace_preparing", "task_ready"]
    assert [e.event.kind for e in await store.events("t-abc", after_id=evs[0].id)] == ["task_ready"]


async def test_repos_are_unique_by_name(store: Store):
    assert await store.add_repo(RepoRef(name="r", url="/a"))
    assert not await store.add_repo(RepoRef(name="r", url="/b"))
    assert [r.url for r in await store.list_repos()] == ["/a"]


async def test_a_repos_config_problem_is_its_latest_tasks_config_failure(store: Store):
    await store.create_task(_req("t-old"), "b")
    await store.append("t-old", TaskFailed(reason=".honk.toml line 4: verify[0].timeout must be a positive number"))
    assert (await store.config_problem("r")).startswith(".honk.toml line 4")
    await store.create_task(_req("t-new"), "b")  # a newer task that did not fail on its config
    assert await store.config_problem("r") is None


async def test_a_burst_of_writers_from_two_processes_all_land(store: Store, store_url: str):
    """A hundred submissions while a worker writes events: on SQLite, writers whose busy handler lost
    every poll for 10 s failed with "database is locked" (a 500 on `POST /api/tasks`). Two stores on one
    database stand for the server and a worker, with a short busy timeout standing for the long wait a
    loaded machine makes; every write lands and every timeline is whole."""
    import asyncio

    from honk.store.audit import AuditEntry, AuditLog

    server, worker = Store(store_url, busy_timeout_ms=1000), Store(store_url, busy_timeout_ms=1000)
    store = server
    try:
        await asyncio.gather(*(store.create_task(_req(f"t-{i}"), f"b{i}") for i in range(40)))

        async def work(i: int) -> None:  # the worker: a stream of events per task
            for _ in range(5):
                await worker.append(f"t-{i}", WorkspacePreparing())

        async def submit(i: int) -> None:  # the server: a new task, its first event, an audit line
            await store.create_task(_req(f"t-new-{i}"), f"n{i}")
            await store.append(f"t-new-{i}", TaskAccepted(repo="r", text="do it", requested_by="ana", agent="s"))
            await AuditLog(store).add(
                AuditEntry(actor="ana", front_door="api", action="request", outcome="ok", detail="")
            )

        await asyncio.gather(*(work(i) for i in range(40)), *(submit(i) for i in range(100)))
        for i in range(40):
            timeline = await store.timeline(f"t-{i}")
            assert timeline is not None and timeline.events == 5
        assert len(await store.list_tasks(limit=1000)) == 140
    finally:
        await worker.close()
        await server.close()


async def test_appends_made_together_are_written_together_each_timeline_folded_in_order(store: Store):
    """Appends arriving while one is written go in the next transaction (a worker's hundred tasks each
    recording a step): far fewer transactions than appends, and every task's events and timeline exactly
    as if each append had been written on its own."""
    import asyncio

    from sqlalchemy import event as sa_event

    from honk.events import AgentSaid
    from honk.timeline import Timeline

    ids = [f"t-{i}" for i in range(10)]
    for task_id in ids:
        await store.create_task(_req(task_id), f"b-{task_id}")
    commits: list[int] = []
    sa_event.listen(store.engine.sync_engine, "commit", lambda _conn: commits.append(1))

    async def steps(task_id: str) -> None:  # a step's events, one append each, as a worker emits them
        await store.append(task_id, WorkspacePreparing())
        for n in range(3):
            await store.append(task_id, AgentSaid(text=f"{task_id} said {n}"))

    await asyncio.gather(*(steps(t) for t in ids))
    assert len(commits) < 40 / 4, f"{len(commits)} transactions for 40 appends"
    for task_id in ids:
        history = await store.events(task_id)
        assert [e.event.line() for e in history] == ["preparing the workspace"] + [
            f"agent: {task_id} said {n}" for n in range(3)
        ]
        assert await store.timeline(task_id) == Timeline.of(history)
        assert (await store.get_task(task_id)).state == TaskState.provisioning


async def test_an_append_to_a_missing_task_fails_alone_in_its_batch(store: Store):
    import asyncio

    await store.create_task(_req("t-here"), "b")
    here = asyncio.ensure_future(store.append("t-here", WorkspacePreparing()))
    gone = asyncio.ensure_future(store.append("t-gone", WorkspacePreparing()))
    also = asyncio.ensure_future(store.append("t-here", TaskReady(commit="c", summary="", diffstat="")))
    await here
    with pytest.raises(LookupError, match="t-gone"):
        await gone
    await also
    assert [e.event.kind for e in await store.events("t-here")] == ["workspace_preparing", "task_ready"]
    assert await store.get_task("t-gone") is None


async def test_a_tasks_other_repos_and_their_pull_requests_are_found_by_one_lookup(store: Store):
    """A task over several repos: its acceptance names the others, each one's publication numbers its pull
    request; a forge event on that repo's pull request or branch finds the task (honk.service.forge_task)."""
    await store.create_task(_req("t-many"), "honk/t-many")
    await store.create_task(_req("t-one"), "honk/t-one")
    await store.append(
        "t-many", TaskAccepted(repo="r", text="do it", requested_by="ana", agent="s", also=["web", "ui"])
    )
    await store.append("t-one", TaskAccepted(repo="r", text="do it", requested_by="ana", agent="s"))
    assert await store.has_other_repo("t-many", "web") and await store.has_other_repo("t-many", "ui")
    assert not await store.has_other_repo("t-many", "r"), "the task's own repo is not one of its others"
    assert not await store.has_other_repo("t-one", "web")
    assert await store.task_of_pull_request("web", 7) is None, "no pull request recorded yet"
    await store.append(
        "t-many",
        RepoPublished(repo="web", changed=True, number=7, url="u"),
        RepoPublished(repo="ui", changed=False),  # not changed: no pull request, nothing to find
    )
    assert await store.task_of_pull_request("web", 7) == "t-many"
    assert await store.task_of_pull_request("ui", 0) is None, "a repo without a pull request is not found by 0"
    assert await store.task_of_pull_request("web", 8) is None
    assert await store.task_of_pull_request("r", 7) is None, "another repo's number 7 is another pull request"
