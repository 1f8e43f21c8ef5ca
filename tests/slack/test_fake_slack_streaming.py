"""The fake Slack keeps a streamed message as Slack does, and refuses what Slack refuses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.models.messages.chunk import PlanUpdateChunk, TaskUpdateChunk
from slack_sdk.web.async_client import AsyncWebClient

from honk.testing.fake_slack import FakeSlack

THREAD = "1690000000.000100"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.stop()


def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test-token", base_url=fake.api_url)


async def error_of(call) -> str:  # noqa: ANN001 - an awaitable Web API call
    with pytest.raises(SlackApiError) as raised:
        await call
    return raised.value.response["error"]


async def start(slack: AsyncWebClient, **more) -> str:  # noqa: ANN003
    args = {"recipient_user_id": "U1", "recipient_team_id": "T1", "task_display_mode": "plan"} | more
    return (await slack.chat_startStream(channel="C1", thread_ts=THREAD, **args))["ts"]


async def test_a_plan_streams_its_cards_as_slack_shows_them(fake: FakeSlack):
    slack = client(fake)
    ts = await start(
        slack,
        chunks=[PlanUpdateChunk(title="Working"), TaskUpdateChunk(id="a", title="Step A", status="in_progress")],
    )
    await slack.chat_appendStream(
        channel="C1",
        ts=ts,
        chunks=[
            TaskUpdateChunk(id="a", title="Step A done", status="complete", details="first"),
            {"type": "task_update", "id": "b", "title": "Step B", "status": "pending"},
        ],
    )
    await slack.chat_appendStream(
        channel="C1",
        ts=ts,
        chunks=[{"type": "task_update", "id": "a", "title": "A", "status": "complete", "details": "+"}],
    )
    stopped = await slack.chat_stopStream(
        channel="C1", ts=ts, chunks=[PlanUpdateChunk(title="Done"), TaskUpdateChunk(id="b", title="B", status="error")]
    )
    assert stopped["ts"] == ts
    kept = fake.streams[ts]
    assert (kept.thread_ts, kept.task_display_mode, kept.recipient_user_id, kept.streaming) == (
        THREAD,
        "plan",
        "U1",
        False,
    )
    assert kept.title == "Done" and len(kept.chunks) == 7
    assert {k: (v["title"], v["status"], v["details"]) for k, v in kept.tasks.items()} == {
        "a": ("A", "complete", "first+"),  # the title replaced, the details appended
        "b": ("B", "error", ""),
    }
    assert any(m["ts"] == ts and m["thread_ts"] == THREAD for m in fake.messages["C1"]), "in its thread"

    late = {"type": "task_update", "id": "a", "title": "A", "status": "complete"}
    assert await error_of(slack.chat_appendStream(channel="C1", ts=ts, chunks=[late])) == (
        "message_not_in_streaming_state"
    )
    assert await error_of(slack.chat_stopStream(channel="C1", ts=ts)) == "message_not_in_streaming_state"
    assert await error_of(slack.chat_appendStream(channel="C1", ts="1.000001", chunks=[late])) == "message_not_found"
    assert not fake.refusals


async def test_slack_ends_streams_and_wants_the_recipient_in_a_channel(fake: FakeSlack):
    slack = client(fake)
    assert await error_of(slack.chat_startStream(channel="C1", thread_ts=THREAD)) == "missing_recipient_user_id"
    assert await error_of(slack.chat_startStream(channel="C1", thread_ts=THREAD, recipient_user_id="U1")) == (
        "missing_recipient_team_id"
    )
    dm = (await slack.chat_startStream(channel="D1", thread_ts=THREAD, markdown_text="hi"))["ts"]
    await slack.chat_appendStream(channel="D1", ts=dm, markdown_text=" there")
    assert fake.streams[dm].text == "hi there"
    chunk = {"type": "markdown_text", "text": "!"}
    assert await error_of(slack.chat_appendStream(channel="D1", ts=dm, chunks=[chunk])) == "streaming_mode_mismatch"
    fake.expire_streams()
    assert await error_of(slack.chat_appendStream(channel="D1", ts=dm, markdown_text="?")) == (
        "message_not_in_streaming_state"
    )


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({"chunks": [{"type": "task_update", "id": "a", "title": "A", "status": "done"}]}, "invalid_arguments"),
        ({"chunks": [{"type": "task_update", "id": "a", "title": "A"}]}, "invalid_arguments"),
        (
            {"chunks": [{"type": "task_update", "id": "a", "title": "A", "status": "complete", "x": 1}]},
            "invalid_arguments",
        ),
        (
            {"chunks": [{"type": "task_update", "id": "a", "title": "A" * 257, "status": "complete"}]},
            "invalid_arguments",
        ),
        ({"chunks": [{"type": "plan_update", "title": ""}]}, "invalid_arguments"),
        ({"chunks": [{"type": "sparkles"}]}, "invalid_arguments"),
        ({"chunks": []}, "invalid_arguments"),
        ({"markdown_text": "x" * 12_001}, "msg_too_long"),
        (
            {"markdown_text": "a", "chunks": [{"type": "markdown_text", "text": "b"}]},
            "cannot_provide_both_markdown_text_and_chunks",
        ),
        ({"task_display_mode": "gantt"}, "invalid_arguments"),
    ],
)
async def test_what_slack_refuses_to_stream(fake: FakeSlack, args: dict, error: str):
    assert await error_of(start(client(fake), **args)) == error
    assert fake.refusals == [("chat.startStream", error)] and not fake.streams


async def test_an_append_of_nothing_and_a_plan_past_fifty_cards_are_refused(fake: FakeSlack):
    slack = client(fake)
    ts = await start(slack)
    assert await error_of(slack.chat_appendStream(channel="C1", ts=ts)) == "no_text"
    cards = [{"type": "task_update", "id": str(i), "title": f"Step {i}", "status": "complete"} for i in range(51)]
    await slack.chat_appendStream(channel="C1", ts=ts, chunks=cards[:50])
    assert await error_of(slack.chat_appendStream(channel="C1", ts=ts, chunks=cards[50:])) == "msg_too_long"
    assert fake.refusals == [("chat.appendStream", "no_text"), ("chat.appendStream", "msg_too_long")]
    assert len(fake.streams[ts].tasks) == 50


async def test_a_workspace_without_streaming_answers_unknown_method():
    fake = FakeSlack(streaming=False).start()
    try:
        slack = client(fake)
        assert await error_of(start(slack)) == "unknown_method"
        assert await error_of(slack.chat_appendStream(channel="C1", ts="1.1", markdown_text="x")) == "unknown_method"
        assert await error_of(slack.chat_stopStream(channel="C1", ts="1.1")) == "unknown_method"
        assert not fake.streams and len(fake.calls_to("chat.startStream")) == 1
    finally:
        fake.stop()
