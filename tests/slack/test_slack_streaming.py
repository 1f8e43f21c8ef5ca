"""A task's progress streams in its Slack thread as a plan of task cards where the workspace allows
it, and falls back to the one status message updated in place where it does not."""

from __future__ import annotations

from honk.domain import RepoRef, SlackStream, SlackThread, TaskRequest
from honk.store import Store
from honk.store.slack import SlackStore


def request(task_id: str = "t-1") -> TaskRequest:
    return TaskRequest(
        task_id=task_id,
        request_id=f"slack:C1:{task_id}",
        repo=RepoRef(name="calc", url="/x"),
        text="make add() add",
        requested_by="ana@example.com",
        front_door="slack",
        slack=SlackThread(channel="C1", thread_ts="1690000000.000100"),
    )


async def test_workers_claim_a_tasks_stream_one_change_at_a_time(store_url: str):
    store = Store(store_url)
    try:
        await store.create_schema()
        await store.create_task(request(), "honk/t-1")
        slack = SlackStore(store)
        thread = SlackThread(channel="C1", thread_ts="1690000000.000100", status_ts="1.2", user_id="U1", team_id="T1")
        await slack.link("t-1", thread)
        assert await slack.thread_of("t-1") == thread, "who asked is kept with the thread"
        assert await slack.stream_of("t-1") == (SlackStream(), 0)
        assert await slack.stream_of("t-nope") is None

        opened = SlackStream(mode="open", ts="9.9", shown=2)
        assert await slack.claim_stream("t-1", 0, opened)
        assert not await slack.claim_stream("t-1", 0, SlackStream(mode="starting")), "that change was made"
        assert await slack.stream_of("t-1") == (opened, 1)
        await slack.stop_streaming("t-1")
        assert await slack.stream_of("t-1") == (SlackStream(mode="fallback"), 2)
    finally:
        await store.close()
