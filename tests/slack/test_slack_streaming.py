"""A task's progress streams in its Slack thread as a plan of task cards where the workspace allows
it, and falls back to the one status message updated in place where it does not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from test_slack_scenarios import post_event

from honk.domain import RepoRef, SlackStream, SlackThread, TaskRequest, TaskState
from honk.events import (
    AgentFinished,
    AgentStarted,
    AnyEvent,
    CheckFinished,
    ChecksStarted,
    MergeRequested,
    TaskAccepted,
    TaskReady,
    WorkspacePreparing,
    WorkspaceReady,
)
from honk.slack.notifier import SlackNotifier
from honk.store import Store
from honk.store.slack import SlackStore
from honk.testing.fake_slack import FakeSlack, mention_event
from honk.testing.processes import HonkStack, TemporalDevServer
from repos import DIRECT_FIX, calc_files, slow_fix

THREAD = "1690000000.000001"


def thread_of(task_id: str) -> str:
    """Each task its own thread: t-1 in 1690000000.000001, t-2 in …002."""
    return f"1690000000.{int(task_id.removeprefix('t-')):06d}"


def request(task_id: str = "t-1") -> TaskRequest:
    return TaskRequest(
        task_id=task_id,
        request_id=f"slack:C1:{task_id}",
        repo=RepoRef(name="calc", url="/x"),
        text="make add() add",
        requested_by="ana@example.com",
        front_door="slack",
        slack=SlackThread(channel="C1", thread_ts=thread_of(task_id)),
    )


async def test_workers_claim_a_tasks_stream_one_change_at_a_time(store_url: str):
    store = Store(store_url)
    try:
        await store.create_schema()
        await store.create_task(request(), "honk/t-1")
        slack = SlackStore(store)
        thread = SlackThread(channel="C1", thread_ts=THREAD, status_ts="1.2", user_id="U1", team_id="T1")
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


# -- the notifier against the fake Slack, on one store (each notifier is a worker) ------------------
STARTED = [
    TaskAccepted(repo="calc", text="make add() add", requested_by="ana@example.com", agent="scripted"),
    WorkspacePreparing(),
]
WORKED = [
    WorkspaceReady(branch="honk/t-1", base_commit="abc1234", seconds=0.5),
    AgentStarted(round=1, reason="request", invocation=0),
    AgentFinished(round=1, summary="Changed the minus to a plus.", changed_files=["calc.py"], commit="c1"),
    ChecksStarted(round=1, names=["test"]),
    CheckFinished(name="test", passed=True, duration_s=0.3, distilled="1 passed"),
]
READY = [TaskReady(commit="c1c1c1c1c1c1", summary="add() adds.", diffstat="1 file changed")]


class World:
    """Honk's store with tasks asked in a Slack thread, and the fake Slack they talk to."""

    def __init__(self, store: Store, slack: FakeSlack) -> None:
        self.store, self.slack = store, slack

    def notifier(self, streaming: bool = True) -> SlackNotifier:
        client = AsyncWebClient(token="xoxb-test-token", base_url=self.slack.api_url)
        return SlackNotifier(client, self.store, "http://honk", "/nowhere", status_interval_s=0, streaming=streaming)

    async def task(self, task_id: str = "t-1", team_id: str = "T1") -> str:
        await self.store.create_task(request(task_id), f"honk/{task_id}")
        client = AsyncWebClient(token="xoxb-test-token", base_url=self.slack.api_url)
        on_it = await client.chat_postMessage(channel="C1", thread_ts=thread_of(task_id), text=f"On it: `{task_id}`")
        thread = SlackThread(
            channel="C1", thread_ts=thread_of(task_id), status_ts=on_it["ts"], user_id="U1", team_id=team_id
        )
        await SlackStore(self.store).link(task_id, thread)
        return on_it["ts"]

    async def then(self, notifier: SlackNotifier, events: list[AnyEvent], task_id: str = "t-1") -> None:
        await self.store.append(task_id, *events)
        await notifier.status(task_id)

    def status_texts(self, status_ts: str) -> list[str]:
        return [c.args["text"] for c in self.slack.calls_to("chat.update") if c.args["ts"] == status_ts]


async def world_with(tmp_path: Path, slack: FakeSlack) -> AsyncIterator[World]:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'honk.db'}")
    await store.create_schema()
    try:
        yield World(store, slack.start())
    finally:
        slack.stop()
        await store.close()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for w in world_with(tmp_path, FakeSlack()):
        yield w


@pytest.fixture
async def no_streaming(tmp_path: Path) -> AsyncIterator[World]:
    async for w in world_with(tmp_path, FakeSlack(streaming=False)):
        yield w


async def test_the_route_streams_as_a_plan_stopped_where_the_task_waits(world: World):
    notifier, status_ts = world.notifier(), await world.task()
    await world.then(notifier, STARTED)
    [stream] = world.slack.streams.values()
    assert (stream.task_display_mode, stream.recipient_user_id, stream.recipient_team_id) == ("plan", "U1", "T1")
    assert stream.thread_ts == THREAD and stream.tasks["workspace"]["status"] == "in_progress"
    assert world.status_texts(status_ts) == ["`t-1` on *calc*: progress below, step by step"]
    for event in WORKED:  # each event told as it happens
        await world.then(notifier, [event])
    assert {k: v["status"] for k, v in stream.tasks.items()} == {
        "workspace": "complete",
        "agent-1": "complete",
        "check-1-test": "complete",
    }
    assert stream.tasks["agent-1"]["details"] == "Changed the minus to a plus.\n1 file changed"
    assert stream.title == "🧪 Running the checks — t-1 on calc" and stream.streaming

    await world.then(notifier, READY)
    assert not stream.streaming and stream.title == "✅ Ready for review — t-1 on calc"
    assert stream.tasks["ready-1"]["status"] == "complete"
    assert world.status_texts(status_ts)[-1].endswith("✅ Ready for review"), "the status message says where it ended"
    appends = world.slack.calls_to("chat.appendStream")
    assert len(appends) == len(WORKED) and all(len(a.args["chunks"]) <= 3 for a in appends), "only what changed"

    await world.then(notifier, [MergeRequested(by="bo@example.com")])
    assert len(world.slack.streams) == 2, "the next stretch of work streams in a new message"
    merge = list(world.slack.streams.values())[1]
    assert list(merge.tasks) == ["merge-1"] and merge.streaming
    assert not world.slack.refusals


async def test_a_stream_slack_ended_goes_on_in_a_new_message(world: World):
    notifier = world.notifier()
    await world.task()
    await world.then(notifier, STARTED + WORKED[:2])
    world.slack.expire_streams()  # a stream lives minutes; an agent may work for longer
    await world.then(notifier, WORKED[2:])
    first, second = world.slack.streams.values()
    assert first.tasks["agent-1"]["status"] == "in_progress", "the ended message keeps what it showed"
    assert list(second.tasks) == ["agent-1", "check-1-test"], "the new one goes on from the first unfinished step"
    assert second.tasks["agent-1"]["status"] == "complete" and second.streaming
    assert not world.slack.refusals


async def test_two_workers_take_turns_one_stream_every_change_once(world: World):
    first, second = world.notifier(), world.notifier()
    await world.task()
    await world.store.append("t-1", *STARTED)
    await asyncio.gather(first.status("t-1"), second.status("t-1"))
    await world.slack.wait_for_async("chat.startStream")
    for event in WORKED:
        await world.store.append("t-1", event)
        await asyncio.gather(first.status("t-1"), second.status("t-1"))
    await world.store.append("t-1", *READY)
    await asyncio.gather(first.status("t-1"), second.status("t-1"))
    assert len(world.slack.calls_to("chat.startStream")) == 1 and len(world.slack.calls_to("chat.stopStream")) == 1
    [stream] = world.slack.streams.values()
    assert {v["status"] for v in stream.tasks.values()} == {"complete"} and not stream.streaming
    sent = [c["id"] for call in world.slack.calls for c in call.args.get("chunks", []) if c.get("details")]
    assert len(sent) == len(set(sent)), "no card's details were sent twice"
    assert not world.slack.refusals


async def test_without_streaming_the_status_message_says_it_and_the_team_is_remembered(no_streaming: World):
    world = no_streaming
    notifier, status_ts = world.notifier(), await world.task()
    await world.then(notifier, STARTED)
    await world.then(notifier, WORKED)
    assert world.status_texts(status_ts) == [
        "`t-1` on *calc*: 📦 Preparing the workspace",
        "`t-1` on *calc*: 🧪 Running the checks",
    ], "the update that met the refusal is not lost"
    assert await SlackStore(world.store).stream_of("t-1") == (SlackStream(mode="fallback"), 2)

    other_ts = await world.task("t-2")
    await world.then(notifier, STARTED, "t-2")
    assert len(world.slack.calls_to("chat.startStream")) == 1, "the team's answer is remembered"
    assert world.status_texts(other_ts) == ["`t-2` on *calc*: 📦 Preparing the workspace"]
    restarted = world.notifier()  # a restart tries once more, then remembers again
    await world.then(restarted, [WorkspaceReady(branch="b", base_commit="c", seconds=1.0)], "t-2")
    await world.then(restarted, [AgentStarted(round=1, reason="request")], "t-2")
    assert len(world.slack.calls_to("chat.startStream")) == 2
    assert world.status_texts(other_ts)[-1] == "`t-2` on *calc*: 🤖 The agent is working"


async def test_a_refusal_in_one_channel_is_that_tasks_alone_and_off_means_off(world: World):
    notifier = world.notifier()
    await world.task()
    world.slack.fail("chat.startStream", "channel_not_found", status=200)
    await world.then(notifier, STARTED)
    await world.task("t-2")
    await world.then(notifier, STARTED, "t-2")
    assert len(world.slack.calls_to("chat.startStream")) == 2 and len(world.slack.streams) == 1
    assert (await SlackStore(world.store).stream_of("t-1"))[0].mode == "fallback"

    off, status_ts = world.notifier(streaming=False), await world.task("t-3")
    await world.then(off, STARTED, "t-3")
    assert len(world.slack.calls_to("chat.startStream")) == 2
    assert world.status_texts(status_ts) == ["`t-3` on *calc*: 📦 Preparing the workspace"]


# -- stories: a mention in Slack, real Temporal, workers and git ------------------------------------
def stack_on(tmp_path: Path, temporal: TemporalDevServer, slack: FakeSlack) -> HonkStack:
    slack.add_user("U1", "ana@example.com", "Ana")
    return HonkStack(
        tmp_path / "honk",
        temporal.address,
        **slack.settings(),
        slack_status_interval_s="0.5",
    )


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def slack_without_streaming() -> Iterator[FakeSlack]:
    fake = FakeSlack(streaming=False).start()
    yield fake
    fake.stop()


def ask(stack: HonkStack, slack: FakeSlack, make_remote, fix: str = DIRECT_FIX) -> tuple[str, str, str]:  # noqa: ANN001 - the fixture
    """Ana asks in a channel: returns the thread, the task's id and its status message (the first reply)."""
    stack.add_repo("calc", make_remote(calc_files(fix)).url)
    mention = mention_event("<@UHONK> make add() add repo=calc", user="U1")
    assert post_event(stack, mention).status_code == 200
    thread = mention["event"]["ts"]
    slack.wait_for("chat.postMessage", where=lambda c: c.args.get("thread_ts") == thread)
    [task] = stack.http.get("/api/tasks").json()
    [on_it] = [m for m in slack.messages["C1"] if m.get("thread_ts") == thread and m["text"].startswith("On it")]
    return thread, task["id"], on_it["ts"]


def test_a_mention_streams_the_tasks_steps_in_its_thread_and_stops_at_ready(tmp_path, temporal, slack, make_remote):
    stack = stack_on(tmp_path, temporal, slack)
    try:
        # The agent works for a second, longer than the status interval (0.5 s): the steps that came while it
        # worked are appended to the open stream. (A task quicker than the interval from its first step to
        # ready is shown whole when the stream stops; on a quiet machine this one's steps did just that.)
        thread, task_id, _ = ask(stack, slack, make_remote, slow_fix(1))
        assert stack.wait_for(task_id, TaskState.ready, TaskState.failed).state == TaskState.ready
        ready = slack.wait_for("chat.postMessage", where=lambda c: "Ready for review" in c.args.get("text", ""))[0]
        [start] = slack.calls_to("chat.startStream")
        assert (start.args["thread_ts"], start.args["task_display_mode"]) == (thread, "plan")
        assert (start.args["recipient_user_id"], start.args["recipient_team_id"]) == ("U1", "T1")
        [stop] = slack.calls_to("chat.stopStream")
        assert slack.calls.index(stop) < slack.calls.index(ready), "the stream stops, then the ready message"
        [stream] = slack.streams.values()
        assert not stream.streaming and stream.title == f"✅ Ready for review — {task_id} on calc"
        assert {k: v["status"] for k, v in stream.tasks.items()} == {
            "workspace": "complete",
            "agent-1": "complete",
            "check-1-test": "complete",
            "review-1": "complete",
            "ready-1": "complete",
        }
        assert "Fixed add() after a think." in stream.tasks["agent-1"]["details"]
        assert slack.calls_to("chat.appendStream"), "the steps came as the task moved"
        assert [b["type"] for b in ready.args["blocks"]] == ["section", "actions"], "the ready message as ever"
        assert not slack.refusals, "every message and chunk Honk sent was one Slack takes"
    finally:
        stack.stop()


def test_on_a_workspace_without_streaming_the_status_message_moves_in_place(
    tmp_path, temporal, slack_without_streaming, make_remote
):
    slack = slack_without_streaming
    stack = stack_on(tmp_path, temporal, slack)
    try:
        _, task_id, status_ts = ask(stack, slack, make_remote)
        assert stack.wait_for(task_id, TaskState.ready, TaskState.failed).state == TaskState.ready
        slack.wait_for("chat.postMessage", where=lambda c: "Ready for review" in c.args.get("text", ""))
        slack.wait_for("chat.update", where=lambda c: c.args["ts"] == status_ts and "✅ Ready" in c.args["text"])
        lines = [c.args["text"] for c in slack.calls_to("chat.update") if c.args["ts"] == status_ts]
        assert all(line.startswith(f"`{task_id}` on *calc*: ") for line in lines), "one message, in place"
        assert len(lines) >= 2 and "Ready" not in lines[0], "the steps before ready shown as the task moved"
        assert len(slack.calls_to("chat.startStream")) == 1 and not slack.streams, "asked once, then remembered"
        assert not slack.refusals
    finally:
        stack.stop()
