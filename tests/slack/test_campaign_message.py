"""A campaign's one Slack message (honk.slack.campaign_message) against the fake Slack Web API: posted once,
then updated in place however often the campaign moves — never a reply per repo — and kept one message when
Slack refuses an update for a while or the message was deleted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from honk.domain import (
    CampaignMember,
    CampaignSettings,
    CampaignState,
    CampaignView,
    RepoSelector,
    SlackThread,
    TaskState,
    TaskView,
)
from honk.slack.campaign_message import SlackCampaignMessage, campaign_blocks, tally
from honk.testing.fake_slack import FakeSlack, refused_payload

AT = datetime(2026, 12, 1, tzinfo=UTC)
BASE = "https://honk.example.com"
THREAD = SlackThread(channel="C1", thread_ts="1700000000.000100", user_id="U1")


def task(repo: str, state: TaskState, cost: float | None = None) -> TaskView:
    return TaskView(
        id=f"t-{repo}",
        repo=repo,
        text="bump requests",
        state=state,
        requested_by="ana@example.com",
        agent="scripted",
        model=None,
        branch=f"honk/t-{repo}",
        created_at=AT,
        updated_at=AT,
        cost_usd=cost,
    )


def view(step: int, repos: int = 40) -> CampaignView:
    """A 40-repo campaign after `step` moves: the first `step` repos ready, the next two running, repo 3 failed."""
    members = []
    for i in range(repos):
        name = f"svc-{i:02d}"
        if i == 3 and step > 3:
            members.append(CampaignMember(repo=name, status="started", task=task(name, TaskState.failed, 0.1)))
        elif i < step:
            members.append(CampaignMember(repo=name, status="started", task=task(name, TaskState.ready, 0.25)))
        elif i < step + 2:
            members.append(CampaignMember(repo=name, status="started", task=task(name, TaskState.working)))
        else:
            members.append(CampaignMember(repo=name))
    return CampaignView(
        id="c-abc123",
        text="bump requests to 2.32 <b>&",
        selector=RepoSelector(path="**/*.py"),
        settings=CampaignSettings(max_cost_usd=20),
        state=CampaignState.running if step < repos else CampaignState.done,
        requested_by="ana@example.com",
        front_door="slack",
        created_at=AT,
        updated_at=AT,
        members=members,
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    slack = FakeSlack().start()
    yield slack
    slack.stop()


def client(fake: FakeSlack) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test-token", base_url=fake.api_url)


async def test_twenty_moves_leave_one_message_in_the_thread(fake: FakeSlack):
    message = SlackCampaignMessage(client(fake), BASE)
    ts = None
    for step in range(20):
        ts = await message.show(view(step), THREAD, ts)
        assert ts is not None
    in_thread = [m for m in fake.messages["C1"] if m.get("thread_ts") == THREAD.thread_ts]
    assert len(in_thread) == 1 and in_thread[0]["ts"] == ts
    assert len(fake.calls_to("chat.postMessage")) == 1 and len(fake.calls_to("chat.update")) == 19
    shown = str(in_thread[0]["blocks"])
    assert "✅ 18 ready" in shown and "❌ 1 failed" in shown and "⏳ 2 running" in shown and "💤 19 waiting" in shown
    assert f"{BASE}/campaigns/c-abc123" in shown
    assert "&lt;b&gt;&amp;" in shown and "<b>" not in shown  # the request is text, not Slack markup
    assert not fake.refusals, fake.refusals  # within Slack's limits (blocks, text lengths)


async def test_the_message_the_front_door_posted_is_the_one_updated(fake: FakeSlack):
    posted = (await client(fake).chat_postMessage(channel="C1", thread_ts=THREAD.thread_ts, text="On it…"))["ts"]
    message = SlackCampaignMessage(client(fake), BASE)
    thread = THREAD.model_copy(update={"status_ts": posted})
    assert await message.show(view(1), thread, None) == posted
    assert await message.show(view(2), thread, posted) == posted
    assert len(fake.messages["C1"]) == 1 and "Campaign" in fake.messages["C1"][0]["text"]


async def test_a_refused_update_keeps_the_one_message_and_a_deleted_one_is_posted_again(fake: FakeSlack):
    message = SlackCampaignMessage(client(fake), BASE)
    ts = await message.show(view(1), THREAD, None)
    fake.fail("chat.update", error="internal_error", status=200)
    assert await message.show(view(2), THREAD, ts) == ts  # not a second message: the next move updates it
    assert len(fake.calls_to("chat.postMessage")) == 1
    fake.fail("chat.update", error="message_not_found", status=200)
    again = await message.show(view(3), THREAD, ts)
    assert again is not None and again != ts and len(fake.calls_to("chat.postMessage")) == 2


async def test_slack_unreachable_for_the_first_post_is_none(fake: FakeSlack):
    message = SlackCampaignMessage(AsyncWebClient(token="xoxb-test-token", base_url="http://127.0.0.1:9/api/"), BASE)
    assert await message.show(view(1), THREAD, None) is None


def test_the_counts_and_a_huge_campaign_stay_within_slacks_limits():
    big = view(500, repos=1000)
    assert tally(big) == {"ready": 499, "failed": 1, "running": 2, "waiting": 498, "refused": 0, "skipped": 0}
    text, body = campaign_blocks(big.model_copy(update={"text": "x" * 20_000, "reason": "y" * 5000}), BASE)
    assert refused_payload("chat.update", {"channel": "C1", "ts": "1", "text": text, "blocks": body}) is None
    assert len(body) == 3  # one message's worth, whatever the number of repos
