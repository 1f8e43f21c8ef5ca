"""The fake Slack Web API answers the real slack_sdk clients (and slack_bolt) as Slack does."""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from honk.testing.fake_slack import (
    FakeSlack,
    app_home_opened,
    block_action,
    event_body,
    interaction_body,
    mention_event,
    message_action,
    message_event,
    sign,
    view_action,
    view_submission,
)

TOKEN = "xoxb-test-token"
SECRET = "shhh-signing-secret"


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack(bot_user_id="UHONK", team_id="T1").start()
    yield server
    server.stop()


def make_client(kind: str, fake: FakeSlack, **kwargs: Any) -> Any:
    if kind == "async":
        pytest.importorskip("aiohttp", reason="AsyncWebClient needs aiohttp")
        from slack_sdk.web.async_client import AsyncWebClient

        return AsyncWebClient(token=TOKEN, base_url=fake.api_url, **kwargs)
    return WebClient(token=TOKEN, base_url=fake.api_url, **kwargs)


@pytest.fixture(params=["async", "sync"])
def client(request: pytest.FixtureRequest, fake: FakeSlack) -> Any:
    return make_client(request.param, fake)


async def call(client: Any, method: str, **kwargs: Any) -> Any:
    """Calls a WebClient or AsyncWebClient method alike."""
    result = getattr(client, method)(**kwargs)
    return await result if inspect.isawaitable(result) else result


async def test_auth_test_answers_as_the_bot(client: Any, fake: FakeSlack) -> None:
    r = await call(client, "auth_test")
    assert (r["user_id"], r["bot_id"], r["team_id"], r["user"]) == ("UHONK", "BHONK", "T1", "honk")
    assert fake.calls_to("auth.test")[0].token == TOKEN


async def test_post_message_then_update(client: Any, fake: FakeSlack) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*working*"}}]
    first = await call(
        client, "chat_postMessage", channel="C1", text="working", thread_ts="1690000000.000100", blocks=blocks
    )
    second = await call(client, "chat_postMessage", channel="C1", text="again")
    assert first["ok"] and first["channel"] == "C1"
    assert first["message"]["thread_ts"] == "1690000000.000100" and first["message"]["blocks"] == blocks
    assert float(second["ts"]) > float(first["ts"]) and len(first["ts"].split(".")[1]) == 6

    updated = await call(client, "chat_update", channel="C1", ts=first["ts"], text="done", blocks=[])
    assert (updated["channel"], updated["ts"], updated["text"]) == ("C1", first["ts"], "done")

    post = fake.calls_to("chat.postMessage")[0]
    assert post.token == TOKEN and "token" not in post.args
    assert post.args["blocks"] == blocks and post.args["thread_ts"] == "1690000000.000100"
    assert fake.wait_for("chat.update", where=lambda c: c.args["ts"] == first["ts"])[0].args["text"] == "done"
    replies = await call(client, "conversations_replies", channel="C1", ts="1690000000.000100")
    assert [m["text"] for m in replies["messages"]] == ["done"]


async def test_form_encoded_and_query_calls_are_decoded(client: Any, fake: FakeSlack) -> None:
    blocks = [{"type": "divider"}]
    await call(
        client,
        "api_call",
        api_method="chat.postMessage",
        data={"channel": "C9", "text": "form", "blocks": json.dumps(blocks)},
    )
    await call(client, "api_call", api_method="conversations.info", http_verb="GET", params={"channel": "D1"})
    await call(client, "reactions_add", channel="C9", name="eyes", timestamp="1690000000.000100")
    form = fake.calls_to("chat.postMessage")[0]
    assert form.args == {"channel": "C9", "text": "form", "blocks": blocks} and form.token == TOKEN
    assert fake.calls_to("conversations.info")[0].args == {"channel": "D1"}
    assert fake.calls_to("reactions.add")[0].args == {"channel": "C9", "name": "eyes", "timestamp": "1690000000.000100"}


async def test_users_info_known_and_unknown(client: Any, fake: FakeSlack) -> None:
    fake.add_user("U7", "ada@example.com", "ada", real_name="Ada Lovelace")
    r = await call(client, "users_info", user="U7")
    assert r["user"]["profile"]["email"] == "ada@example.com" and r["user"]["real_name"] == "Ada Lovelace"
    assert r["user"]["is_bot"] is False
    with pytest.raises(SlackApiError) as err:
        await call(client, "users_info", user="U404")
    assert err.value.response["error"] == "user_not_found"


async def test_views_open_then_update_keeps_the_view_id(client: Any, fake: FakeSlack) -> None:
    view = {"type": "modal", "callback_id": "ask", "title": {"type": "plain_text", "text": "Ask"}, "blocks": []}
    opened = await call(client, "views_open", trigger_id="123.456.abc", view=view)
    assert opened["view"]["id"].startswith("V") and opened["view"]["callback_id"] == "ask"
    updated = await call(client, "views_update", view_id=opened["view"]["id"], view={**view, "callback_id": "b"})
    assert updated["view"]["id"] == opened["view"]["id"] and updated["view"]["callback_id"] == "b"
    assert fake.calls_to("views.open")[0].args["view"] == view


async def test_files_upload_v2_stores_the_bytes(client: Any, fake: FakeSlack) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    r = await call(
        client,
        "files_upload_v2",
        content=png,
        filename="qr.png",
        channel="C1",
        thread_ts="1690000000.000100",
        initial_comment="scan me",
    )
    file_id = r["file"]["id"]
    assert fake.uploads[file_id] == png
    assert fake.files[file_id].filename == "qr.png" and fake.files[file_id].length == len(png)
    assert fake.calls_to("files.getUploadURLExternal")[0].args["filename"] == "qr.png"
    done = fake.wait_for("files.completeUploadExternal")[0]
    assert done.args["files"][0]["id"] == file_id
    assert (done.args["channel_id"], done.args["thread_ts"], done.args["initial_comment"]) == (
        "C1",
        "1690000000.000100",
        "scan me",
    )
    f = fake.files[file_id]
    assert f.completed and (f.channel_id, f.thread_ts, f.initial_comment) == ("C1", "1690000000.000100", "scan me")


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_injected_ratelimit_surfaces_then_clears(kind: str, fake: FakeSlack) -> None:
    client = make_client(kind, fake, retry_handlers=[])
    fake.fail("chat.postMessage", error="ratelimited", status=429, times=1, retry_after=7)
    with pytest.raises(SlackApiError) as err:
        await call(client, "chat_postMessage", channel="C1", text="hi")
    assert err.value.response.status_code == 429 and err.value.response["error"] == "ratelimited"
    assert err.value.response.headers["Retry-After"] == "7"
    assert (await call(client, "chat_postMessage", channel="C1", text="hi"))["ok"]
    assert len(fake.calls_to("chat.postMessage")) == 2


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_rate_limit_handler_retries_after_the_injected_errors(kind: str, fake: FakeSlack) -> None:
    if kind == "async":
        pytest.importorskip("aiohttp")
        from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler as Handler
    else:
        from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler as Handler
    client = make_client(kind, fake, retry_handlers=[Handler(max_retry_count=2)])
    fake.fail("chat.postMessage", times=2, retry_after=0)
    r = await call(client, "chat_postMessage", channel="C1", text="hi")
    assert r["ok"] and len(fake.calls_to("chat.postMessage")) == 3


async def test_other_errors_and_unknown_methods(client: Any, fake: FakeSlack) -> None:
    assert (await call(client, "api_call", api_method="pins.add", json={"channel": "C1"}))["ok"]
    fake.fail("reactions.add", error="already_reacted", status=200)
    with pytest.raises(SlackApiError) as err:
        await call(client, "reactions_add", channel="C1", name="eyes", timestamp="1.2")
    assert err.value.response.status_code == 200 and err.value.response["error"] == "already_reacted"
    fake.override("conversations.info", {"channel": {"id": "C1", "name": "general"}})
    assert (await call(client, "conversations_info", channel="C1"))["channel"]["name"] == "general"


def test_a_call_without_a_token_is_not_authed(fake: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as err:
        WebClient(base_url=fake.api_url).chat_postMessage(channel="C1", text="x")
    assert err.value.response["error"] == "not_authed"
    assert fake.calls_to("chat.postMessage")[0].token is None


def test_wait_for_is_bounded_and_reset_forgets(fake: FakeSlack) -> None:
    WebClient(token=TOKEN, base_url=fake.api_url).chat_postMessage(channel="C1", text="x")
    with pytest.raises(TimeoutError, match="chat.postMessage"):
        fake.wait_for("chat.postMessage", count=2, timeout=0.2)
    with pytest.raises(TimeoutError):
        fake.wait_for("chat.postMessage", where=lambda c: c.args["channel"] == "C2", timeout=0.1)
    fake.reset()
    assert fake.calls == [] and fake.calls_to("chat.postMessage") == []


async def test_wait_for_async_lets_the_loop_make_the_call(fake: FakeSlack) -> None:
    pytest.importorskip("aiohttp")
    import asyncio

    from slack_sdk.web.async_client import AsyncWebClient

    client = AsyncWebClient(token=TOKEN, base_url=fake.api_url)
    task = asyncio.create_task(client.chat_postMessage(channel="C1", text="later"))
    calls = await fake.wait_for_async("chat.postMessage", timeout=5)
    await task
    assert calls[0].args["text"] == "later"


def test_sign_matches_slack_sdk_verifier() -> None:
    body = event_body(mention_event("<@UHONK> fix it"))
    headers = sign(SECRET, body)
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)
    assert SignatureVerifier(SECRET).is_valid_request(body.decode(), headers)
    assert not SignatureVerifier("other-secret").is_valid_request(body, headers)
    assert not SignatureVerifier(SECRET).is_valid_request(body + b" ", headers)
    stale = sign(SECRET, body, timestamp=int(time.time()) - 600)
    assert not SignatureVerifier(SECRET).is_valid_request(body, stale)
    fixed = sign(SECRET, b"x", timestamp=1531420618)
    assert fixed["X-Slack-Request-Timestamp"] == "1531420618"
    assert fixed["X-Slack-Signature"] == SignatureVerifier(SECRET).generate_signature(timestamp="1531420618", body="x")


def test_payload_helpers_have_slacks_shape() -> None:
    m = mention_event("<@UHONK> hi", user="U2", channel="C3", thread_ts="1690000000.000100", event_id="Ev1")
    assert (m["type"], m["team_id"], m["event_id"], m["event"]["type"]) == (
        "event_callback",
        "T1",
        "Ev1",
        "app_mention",
    )
    assert m["event"]["thread_ts"] == "1690000000.000100" and isinstance(m["event_time"], int)
    a, b = mention_event("x"), mention_event("y")
    assert a["event"]["ts"] < b["event"]["ts"] and a["event_id"] != b["event_id"]
    dm = message_event("hello", channel="D1", channel_type="im")
    assert dm["event"]["channel_type"] == "im" and "bot_id" not in dm["event"]
    assert message_event("me", bot_id="BHONK")["event"]["bot_id"] == "BHONK"
    act = block_action("cancel", "task-1", message_ts="1700000000.000100")
    assert act["actions"][0]["value"] == "task-1" and act["container"]["message_ts"] == "1700000000.000100"
    sub = view_submission("ask", '{"c": "C1"}', {"text": {"input": "fix"}})
    assert sub["view"]["state"]["values"]["text"]["input"] == {"type": "plain_text_input", "value": "fix"}
    assert interaction_body(act).startswith(b"payload=%7B")


def test_bolt_accepts_the_signed_payloads_and_answers_through_the_fake(fake: FakeSlack) -> None:
    from slack_bolt import App, BoltRequest

    app = App(client=WebClient(token=TOKEN, base_url=fake.api_url), signing_secret=SECRET)
    seen: dict[str, Any] = {}

    @app.event("app_mention")
    def on_mention(event: dict[str, Any], say: Any) -> None:
        say(text="on it", thread_ts=event["ts"])

    @app.action("cancel")
    def on_cancel(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.chat_update(channel=body["channel"]["id"], ts=body["container"]["message_ts"], text="cancelled")

    @app.view("ask")
    def on_submit(ack: Any, view: dict[str, Any]) -> None:
        ack()
        seen["values"], seen["meta"] = view["state"]["values"], view["private_metadata"]

    def dispatch(body: bytes, content_type: str) -> int:
        headers = {**sign(SECRET, body), "Content-Type": content_type}
        return app.dispatch(BoltRequest(body=body.decode(), headers=headers)).status

    mention = mention_event("<@UHONK> fix it", ts="1690000001.000100")
    assert dispatch(event_body(mention), "application/json") == 200
    said = fake.wait_for("chat.postMessage")[0]
    assert (said.args["channel"], said.args["thread_ts"], said.args["text"]) == ("C1", "1690000001.000100", "on it")

    own = message_event("echo", bot_id="BHONK", user="UHONK")
    assert dispatch(event_body(own), "application/json") == 200  # bolt drops the bot's own messages

    click = block_action("cancel", "task-1", message_ts=said.args.get("ts", "1700000000.000100"))
    assert dispatch(interaction_body(click), "application/x-www-form-urlencoded") == 200
    assert fake.wait_for("chat.update")[0].args["text"] == "cancelled"

    submit = view_submission("ask", "meta-1", {"b": {"a": "fix the crash"}})
    assert dispatch(interaction_body(submit), "application/x-www-form-urlencoded") == 200
    assert seen == {"values": {"b": {"a": {"type": "plain_text_input", "value": "fix the crash"}}}, "meta": "meta-1"}

    forged = event_body(mention_event("<@UHONK> x"))
    bad = app.dispatch(BoltRequest(body=forged.decode(), headers=sign("wrong", forged)))
    assert bad.status == 401
    assert len(fake.calls_to("auth.test")) >= 1


async def test_async_bolt_app_answers_through_the_fake(fake: FakeSlack) -> None:
    pytest.importorskip("aiohttp")
    from slack_bolt.async_app import AsyncApp
    from slack_bolt.request.async_request import AsyncBoltRequest
    from slack_sdk.web.async_client import AsyncWebClient

    app = AsyncApp(client=AsyncWebClient(token=TOKEN, base_url=fake.api_url), signing_secret=SECRET)

    @app.event("app_mention")
    async def on_mention(event: dict[str, Any], say: Any) -> None:
        await say(text="on it", thread_ts=event.get("thread_ts") or event["ts"])

    @app.event("message")
    async def on_message(event: dict[str, Any], say: Any) -> None:
        await say(text=f"dm: {event['text']}")

    async def dispatch(envelope: dict[str, Any]) -> int:
        body = event_body(envelope)
        headers = {**sign(SECRET, body), "Content-Type": "application/json"}
        return (await app.async_dispatch(AsyncBoltRequest(body=body.decode(), headers=headers))).status

    assert await dispatch(mention_event("<@UHONK> fix it", thread_ts="1690000000.000100")) == 200
    said = (await fake.wait_for_async("chat.postMessage"))[0]
    assert (said.args["thread_ts"], said.args["text"]) == ("1690000000.000100", "on it")
    assert await dispatch(message_event("hello", channel="D1", channel_type="im")) == 200
    dm = await fake.wait_for_async("chat.postMessage", where=lambda c: c.args["channel"] == "D1")
    assert dm[0].args["text"] == "dm: hello"


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


@pytest.mark.parametrize(
    ("text", "blocks", "error"),
    [
        ("x", [section("x" * 3001)], "invalid_blocks"),  # slack_sdk's SectionBlock.text_max_length
        ("x", [section("x")] * 51, "invalid_blocks"),
        ("x", [{"type": "no-such-block"}], "invalid_blocks"),
        ("x" * 40_001, None, "msg_too_long"),
    ],
)
def test_the_fake_refuses_what_slack_refuses(fake: FakeSlack, text: str, blocks: Any, error: str) -> None:
    web = WebClient(token=TOKEN, base_url=fake.api_url)
    with pytest.raises(SlackApiError) as err:
        web.chat_postMessage(channel="C1", text=text, blocks=blocks)
    assert err.value.response["error"] == error
    assert fake.refusals == [("chat.postMessage", error)] and not fake.messages
    web.chat_postMessage(channel="C1", text="x" * 40_000, blocks=[section("x" * 3000)] * 50)  # at the limits


def test_files_info_describes_shared_files_only(fake: FakeSlack) -> None:
    web = WebClient(token=TOKEN, base_url=fake.api_url)
    shared = fake.share_file("crash.log", b"Traceback", "text/plain")
    described = web.files_info(file=shared["id"])["file"]
    assert described == shared and described["url_private"].startswith(fake.url)
    with pytest.raises(SlackApiError) as err:
        web.files_info(file="F404")
    assert err.value.response["error"] == "file_not_found"


def test_a_users_home_keeps_its_view_id_and_a_bad_view_is_refused(fake: FakeSlack) -> None:
    web = WebClient(token=TOKEN, base_url=fake.api_url)
    home = {"type": "home", "blocks": [section("one")]}
    first = web.views_publish(user_id="U1", view=home)["view"]["id"]
    second = web.views_publish(user_id="U1", view={**home, "blocks": [section("two")]})["view"]["id"]
    assert first == second != web.views_publish(user_id="U2", view=home)["view"]["id"]
    assert (fake.home("U1") or {})["blocks"] == [section("two")] and fake.home("U3") is None
    for bad, error in (
        ({**home, "submit": {"type": "plain_text", "text": "Go"}}, "invalid_arguments"),  # a Home has no submit
        (
            {"type": "modal", "title": {"type": "plain_text", "text": "x" * 25}, "blocks": [section("x")]},
            "invalid_arguments",
        ),
        ({**home, "private_metadata": "x" * 3001}, "invalid_arguments"),
        ({**home, "blocks": [section("x")] * 101}, "invalid_blocks"),
        (
            {
                **home,
                "blocks": [
                    {
                        "type": "actions",
                        "elements": [
                            {
                                "type": "static_select",
                                "action_id": "s",
                                "options": [
                                    {"text": {"type": "plain_text", "text": str(i)}, "value": str(i)}
                                    for i in range(101)
                                ],
                            }
                        ],
                    }
                ],
            },
            "invalid_blocks",  # an element's own limit: 100 options
        ),
    ):
        with pytest.raises(SlackApiError) as err:
            web.views_publish(user_id="U1", view=bad)
        assert err.value.response["error"] == error, bad
    assert [e for _, e in fake.refusals] == ["invalid_arguments"] * 3 + ["invalid_blocks"] * 2


def test_bolt_accepts_a_message_shortcut_a_home_opened_and_a_button_in_home(fake: FakeSlack) -> None:
    from slack_bolt import App, BoltRequest

    app = App(client=WebClient(token=TOKEN, base_url=fake.api_url), signing_secret=SECRET)
    seen: dict[str, Any] = {}

    @app.message_shortcut("fix_with_honk")
    def on_shortcut(ack: Any, shortcut: dict[str, Any]) -> None:
        ack()
        seen["shortcut"] = (shortcut["channel"]["id"], shortcut["message"]["ts"], shortcut["message"]["files"][0]["id"])

    @app.event("app_home_opened")
    def on_home(event: dict[str, Any], client: WebClient) -> None:
        client.views_publish(user_id=event["user"], view={"type": "home", "blocks": [section(event["tab"])]})

    @app.action("merge")
    def on_merge(ack: Any, body: dict[str, Any]) -> None:
        ack()
        seen["merge"] = (body["container"]["type"], body["view"]["type"], body.get("channel"), body.get("message"))

    def dispatch(body: bytes, content_type: str) -> int:
        headers = {**sign(SECRET, body), "Content-Type": content_type}
        return app.dispatch(BoltRequest(body=body.decode(), headers=headers)).status

    shot = fake.share_file("shot.png", b"png", "image/png")
    used = message_action("fix_with_honk", "it &lt;crashes&gt;", message_ts="1690000002.000100", files=[shot])
    assert dispatch(interaction_body(used), "application/x-www-form-urlencoded") == 200
    assert seen["shortcut"] == ("C1", "1690000002.000100", shot["id"])

    assert dispatch(event_body(app_home_opened("U1")), "application/json") == 200
    home = fake.wait_for("views.publish")[0]
    assert home.args["user_id"] == "U1" and fake.home("U1") is not None

    click = view_action("merge", "t-1", fake.home("U1") or {}, user="U1")
    assert dispatch(interaction_body(click), "application/x-www-form-urlencoded") == 200
    assert seen["merge"] == ("view", "home", None, None)
