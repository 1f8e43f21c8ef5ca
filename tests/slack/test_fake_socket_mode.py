"""The fake Socket Mode server drives the real slack_sdk Socket Mode client and bolt's handler."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from honk.testing.fake_slack import FakeSlack, block_action, mention_event, view_submission
from honk.testing.fake_socket_mode import FakeSocketMode

BOT_TOKEN = "xoxb-x"
APP_TOKEN = "xapp-test"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.stop()


@pytest.fixture
def socket_mode(slack: FakeSlack) -> Iterator[FakeSocketMode]:
    server = FakeSocketMode(slack).start()
    yield server
    server.stop()


@pytest.fixture
def app(slack: FakeSlack) -> AsyncApp:
    return AsyncApp(
        client=AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url),
        signing_secret="unused",
        request_verification_enabled=False,
    )


@pytest.fixture
async def handler(
    app: AsyncApp, slack: FakeSlack, socket_mode: FakeSocketMode
) -> AsyncIterator[AsyncSocketModeHandler]:
    h = AsyncSocketModeHandler(app, APP_TOKEN, web_client=AsyncWebClient(base_url=slack.api_url))
    await h.connect_async()
    await socket_mode.wait_connected_async()
    yield h
    await h.close_async()


async def test_apps_connections_open_hands_out_the_websocket(
    slack: FakeSlack, socket_mode: FakeSocketMode, handler: AsyncSocketModeHandler
) -> None:
    opened = slack.calls_to("apps.connections.open")
    assert len(opened) == 1 and opened[0].token == APP_TOKEN  # the app token, as a bearer header
    assert handler.client.wss_uri == socket_mode.ws_url
    assert (socket_mode.connected, socket_mode.connections) == (1, 1)


async def test_a_mention_is_acked_and_the_listener_replies(
    app: AsyncApp, slack: FakeSlack, socket_mode: FakeSocketMode, handler: AsyncSocketModeHandler
) -> None:
    @app.event("app_mention")
    async def reply(event: dict, client: AsyncWebClient) -> None:
        await client.chat_postMessage(channel=event["channel"], thread_ts=event["ts"], text="on it")

    envelope = mention_event("<@UHONK> fix the build", channel="C7")
    started = time.monotonic()
    envelope_id = socket_mode.push_event(envelope)
    ack = await socket_mode.wait_ack_async(envelope_id, timeout=1)
    assert time.monotonic() - started < 1
    assert ack == {"envelope_id": envelope_id}

    post = (await slack.wait_for_async("chat.postMessage", timeout=5))[0]
    assert (post.args["channel"], post.args["thread_ts"], post.args["text"]) == ("C7", envelope["event"]["ts"], "on it")
    assert post.token == BOT_TOKEN
    sent = socket_mode.envelopes[envelope_id]
    assert (sent["type"], sent["retry_attempt"], sent["retry_reason"]) == ("events_api", 0, "")


async def test_a_block_action_is_acked(
    app: AsyncApp, socket_mode: FakeSocketMode, handler: AsyncSocketModeHandler
) -> None:
    clicked: list[str] = []

    @app.action("approve")
    async def approve(ack, body: dict) -> None:  # noqa: ANN001 - bolt's ack
        await ack()
        clicked.append(body["actions"][0]["value"])

    envelope_id = socket_mode.push_interaction(block_action("approve", "task-1"))
    assert await socket_mode.wait_ack_async(envelope_id, timeout=1) == {"envelope_id": envelope_id}
    assert socket_mode.envelopes[envelope_id]["accepts_response_payload"] is False
    for _ in range(100):
        if clicked:
            break
        await asyncio.sleep(0.01)
    assert clicked == ["task-1"]


async def test_a_view_submission_ack_carries_the_response_action(
    app: AsyncApp, socket_mode: FakeSocketMode, handler: AsyncSocketModeHandler
) -> None:
    @app.view("feedback")
    async def submitted(ack) -> None:  # noqa: ANN001 - bolt's ack
        await ack(response_action="errors", errors={"b": "too short"})

    envelope_id = socket_mode.push_interaction(view_submission("feedback", "meta", {"b": {"a": "x"}}))
    assert socket_mode.envelopes[envelope_id]["accepts_response_payload"] is True
    ack = await socket_mode.wait_ack_async(envelope_id, timeout=1)
    assert ack["payload"] == {"response_action": "errors", "errors": {"b": "too short"}}


async def test_a_slash_command_ack_carries_the_text(
    app: AsyncApp, socket_mode: FakeSocketMode, handler: AsyncSocketModeHandler
) -> None:
    @app.command("/honk")
    async def command(ack, command: dict) -> None:  # noqa: ANN001 - bolt's ack
        await ack(f"heard {command['text']}")

    envelope_id = socket_mode.push_command("/honk", "status")
    ack = await socket_mode.wait_ack_async(envelope_id, timeout=1)
    assert ack["payload"]["text"] == "heard status"


async def test_an_unhandled_envelope_is_not_acked(socket_mode: FakeSocketMode, handler: AsyncSocketModeHandler) -> None:
    # bolt answers an unmatched request 404 and then sends no ack at all, as Slack's retries expect
    envelope_id = socket_mode.push_interaction(block_action("nobody-listens", "x"))
    with pytest.raises(TimeoutError, match="no ack for interactive envelope"):
        await socket_mode.wait_ack_async(envelope_id, timeout=0.5)


async def test_disconnect_makes_the_client_reconnect(
    app: AsyncApp, slack: FakeSlack, socket_mode: FakeSocketMode, handler: AsyncSocketModeHandler
) -> None:
    @app.event("app_mention")
    async def noop() -> None:
        pass

    socket_mode.disconnect("refresh_requested")
    deadline = time.monotonic() + 10
    while socket_mode.connections < 2 or socket_mode.connected != 1:
        assert time.monotonic() < deadline, (socket_mode.connections, socket_mode.connected)
        await asyncio.sleep(0.01)
    assert len(slack.calls_to("apps.connections.open")) == 2
    envelope_id = socket_mode.push_event(mention_event("<@UHONK> still there?"))
    assert (await socket_mode.wait_ack_async(envelope_id, timeout=1))["envelope_id"] == envelope_id


async def test_the_raw_protocol(socket_mode: FakeSocketMode) -> None:
    """Hello first; acks recorded; pings, junk and binary frames answered or ignored, not fatal."""
    async with aiohttp.ClientSession() as session, session.ws_connect(socket_mode.ws_url, autoping=False) as ws:
        hello = await ws.receive_json(timeout=5)
        assert hello["type"] == "hello" and hello["connection_info"] == {"app_id": "AHONK"}
        assert hello["num_connections"] == 1 and "host" in hello["debug_info"]
        await socket_mode.wait_connected_async()

        await ws.ping(b"sdk-ping-pong:1")
        pong = await ws.receive(timeout=5)
        assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, b"sdk-ping-pong:1")
        await ws.send_str("not json")
        await ws.send_str(json.dumps({"type": "something_new"}))
        await ws.send_bytes(b"\x00\x01")

        payload = {"type": "block_actions", "actions": []}
        envelope_id = await asyncio.to_thread(socket_mode.push, "interactive", payload)
        envelope = await ws.receive_json(timeout=5)
        assert envelope == {
            "envelope_id": envelope_id,
            "type": "interactive",
            "payload": payload,
            "accepts_response_payload": False,
        }
        await ws.send_json({"envelope_id": envelope_id, "payload": {"ok": 1}})
        assert await socket_mode.wait_ack_async(envelope_id) == {"envelope_id": envelope_id, "payload": {"ok": 1}}
        assert "not json" in socket_mode.frames and {"type": "something_new"} in socket_mode.frames
    deadline = time.monotonic() + 5
    while socket_mode.connected:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)


def test_push_needs_a_connection_and_a_known_type(socket_mode: FakeSocketMode) -> None:
    with pytest.raises(RuntimeError, match="no Socket Mode client"):
        socket_mode.push_event(mention_event("<@UHONK> hi"))
    with pytest.raises(ValueError, match="payload_type"):
        socket_mode.push("hello", {})
    with pytest.raises(TimeoutError):
        socket_mode.wait_connected(timeout=0.05)


def test_blocking_waits_from_a_plain_thread(slack: FakeSlack, socket_mode: FakeSocketMode) -> None:
    async def client() -> None:
        h = AsyncSocketModeHandler(
            AsyncApp(
                client=AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url),
                signing_secret="unused",
                request_verification_enabled=False,
            ),
            APP_TOKEN,
            web_client=AsyncWebClient(base_url=slack.api_url),
        )
        h.app.action("go")(_ack_only)
        await h.connect_async()
        await socket_mode.wait_connected_async()  # the client's handshake can finish before the server's
        try:
            envelope_id = await asyncio.to_thread(lambda: socket_mode.push_interaction(block_action("go", "1")))
            assert await asyncio.to_thread(socket_mode.wait_ack, envelope_id, 2) == {"envelope_id": envelope_id}
        finally:
            await h.close_async()

    asyncio.run(client())
    assert socket_mode.connections == 1


async def _ack_only(ack) -> None:  # noqa: ANN001 - bolt's ack
    await ack()


async def test_the_sdk_keepalive_pings_are_answered(slack: FakeSlack, socket_mode: FakeSocketMode) -> None:
    """The sdk pings `sdk-ping-pong:<time>` every ping_interval and reconnects when pongs stop."""
    h = AsyncSocketModeHandler(
        AsyncApp(
            client=AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url),
            signing_secret="unused",
            request_verification_enabled=False,
        ),
        APP_TOKEN,
        web_client=AsyncWebClient(base_url=slack.api_url),
        ping_interval=0.1,
    )
    await h.connect_async()
    try:
        await asyncio.sleep(1)
        assert h.client.last_ping_pong_time is not None and time.time() - h.client.last_ping_pong_time < 0.5
        assert await h.client.is_connected()
        assert (socket_mode.connections, socket_mode.connected) == (1, 1)
    finally:
        await h.close_async()
