"""The notifier's milestones about the new app and production, against the loopback fake Slack on a real
store: the ready message carries the Install button and the QR picture; when Slack cannot fetch the
picture, the message is posted without it rather than lost; a slow service's answer is a message of its
own (the ready message is not repeated); a failed deploy's message offers Revert; the status message says
"deploying" while production moves."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from honk.domain import DeliveryOutcome, DeployOutcome, RepoRef, SlackThread, TaskRequest
from honk.events import (
    AnyEvent,
    AppDelivered,
    DeliveryStarted,
    DeliveryWaiting,
    DeployFinished,
    DeployStarted,
    Merged,
    TaskAccepted,
    TaskReady,
)
from honk.slack.notifier import SlackNotifier
from honk.store import Store
from honk.store.slack import SlackStore
from honk.testing.fake_slack import FakeSlack

BASE = "https://honk.example.com"
THREAD = "1700000000.000100"
INSTALL = f"{BASE}/install/tok.sig"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


class World:
    def __init__(self, store: Store, slack: FakeSlack) -> None:
        self.store, self.slack = store, slack
        self.client = AsyncWebClient(token="xoxb-test-token", base_url=slack.api_url)
        self.notifier = SlackNotifier(self.client, store, BASE, "/nowhere", status_interval_s=0, streaming=False)
        self.req = TaskRequest(
            task_id="t-1",
            request_id="t-1",
            repo=RepoRef(name="calc", url="/nowhere"),
            text="make the total green",
            requested_by="ana@example.com",
            slack=SlackThread(channel="C1", thread_ts=THREAD, user_id="U1"),
        )

    async def asked(self) -> str:
        await self.store.create_task(self.req, "honk/t-1")
        on_it = await self.client.chat_postMessage(channel="C1", thread_ts=THREAD, text="On it: `t-1`")
        await SlackStore(self.store).link("t-1", SlackThread(channel="C1", thread_ts=THREAD, status_ts=on_it["ts"]))
        await self.store.append("t-1", TaskAccepted(repo="calc", text="x", requested_by="ana@example.com", agent="a"))
        return str(on_it["ts"])

    async def milestone(self, *events: AnyEvent, detail: str = "") -> dict:
        await self.store.append("t-1", *events)
        before = len(self.slack.calls_to("chat.postMessage"))
        await self.notifier.milestone(self.req, detail)
        posted = self.slack.calls_to("chat.postMessage")[before:]
        assert posted, "a milestone was posted"
        return posted[-1].args


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'honk.db'}")
    await store.create_schema()
    slack = FakeSlack().start()
    try:
        yield World(store, slack)
    finally:
        slack.stop()
        await store.close()


def delivered(**more: object) -> DeliveryOutcome:
    fields: dict[str, object] = dict(state="delivered", kind="android-apk", url=INSTALL, title="Calc", version="2.3.0")
    fields |= dict(build="317", expires_at=datetime(2026, 12, 4, 12, 0, tzinfo=UTC))
    return DeliveryOutcome.model_validate(fields | more)


READY = TaskReady(commit="c1c1c1c1c1c1", summary="The total is green.", diffstat="1 file changed")


def blocks_of(args: dict) -> list[dict]:
    raw = args["blocks"]
    return json.loads(raw) if isinstance(raw, str) else raw


async def test_the_ready_message_has_install_and_the_qr_picture(world: World):
    await world.asked()
    posted = await world.milestone(DeliveryStarted(deliver="android-apk"), AppDelivered(outcome=delivered()), READY)
    body = blocks_of(posted)
    assert [b["image_url"] for b in body if b["type"] == "image"] == [f"{INSTALL}/qr.png"]
    assert "Calc 2.3.0 (build 317)" in json.dumps(body)


async def test_a_picture_slack_cannot_fetch_does_not_lose_the_message(world: World):
    await world.asked()
    world.slack.fail("chat.postMessage", error="invalid_blocks", status=200)
    posted = await world.milestone(DeliveryStarted(deliver="android-apk"), AppDelivered(outcome=delivered()), READY)
    body = blocks_of(posted)
    assert not [b for b in body if b["type"] == "image"] and "Install" in json.dumps(body)


async def test_another_refusal_is_not_hidden(world: World):
    await world.asked()
    world.slack.fail("chat.postMessage", error="channel_not_found", status=200)
    await world.store.append("t-1", AppDelivered(outcome=delivered()), READY)
    with pytest.raises(Exception, match="channel_not_found"):
        await world.notifier.milestone(world.req)


async def test_a_slow_services_answer_is_its_own_message(world: World):
    await world.asked()
    waiting = DeliveryOutcome(state="processing", kind="testflight")
    ready = await world.milestone(DeliveryStarted(deliver="testflight"), DeliveryWaiting(outcome=waiting), READY)
    assert "TestFlight is processing the build (0 min so far)" in json.dumps(blocks_of(ready))
    done = delivered(kind="testflight", url="https://testflight.apple.com/join/AbCd", expires_at=None)
    came = await world.milestone(DeliveryWaiting(outcome=waiting, waited_s=300), AppDelivered(outcome=done))
    assert came["text"].startswith("Delivered: Calc 2.3.0 (build 317) (t-1)")
    body = json.dumps(blocks_of(came))
    assert "Open in TestFlight" in body and "Ready for review" not in body and '"merge"' not in body


async def test_production_in_the_thread_and_the_status_line(world: World):
    status_ts = await world.asked()
    merged = Merged(commit=COMMIT, target="main", approved_by="bo@example.com")
    first = await world.milestone(READY, merged)
    assert "*Merged*" in first["text"]
    await world.store.append("t-1", DeployStarted(commit=COMMIT, target="main", by="bo@example.com"))
    await world.notifier.status("t-1", force=True)
    updates = [c.args["text"] for c in world.slack.calls_to("chat.update") if c.args["ts"] == status_ts]
    assert updates and updates[-1].endswith("🚀 deploying `0123456789`…")
    failed = DeployOutcome(state="health_failed", commit=COMMIT, detail="## health\nHTTP 502")
    said = await world.milestone(DeployFinished(outcome=failed))
    body = blocks_of(said)
    assert said["text"].startswith("Health check failed: t-1")
    assert [e["action_id"] for b in body if b["type"] == "actions" for e in b["elements"]] == ["revert", "open"]
