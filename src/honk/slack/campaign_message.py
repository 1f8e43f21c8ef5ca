"""A campaign's one Slack message (the `CampaignNotifier` seam, honk.protocols): posted once in the thread it
was asked in, then updated in place as members move — a board in a message, never a reply per repo, however
many repos the campaign reaches. What it shows: the request, how many members are ready, failed, running and
waiting, what they cost, and the link to the board page, where each repo is.

The Slack front door posts the message first ("On it…", so whoever asked sees at once that Honk heard) and
hands its ts to the campaign as `SlackThread.status_ts`; the campaign's first `show` then updates that one.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from honk.domain import CampaignState, CampaignView, SlackThread, TaskState
from honk.slack import limits
from honk.slack.blocks import Blocks, escaped, section

log = logging.getLogger("honk.slack")

STATE_LINE = {
    CampaignState.selecting: "🔎 choosing the repos",
    CampaignState.running: "⏳ running",
    CampaignState.halted: "🛑 halted: the rest never start",
    CampaignState.done: "🏁 done",
    CampaignState.cancelled: "✋ cancelled",
}
RUNNING = frozenset(s for s in TaskState if not s.terminal and s != TaskState.ready)
GONE = ("message_not_found", "cant_update_message")  # the message was deleted: post it again, once
UNREACHABLE = (OSError, aiohttp.ClientError)  # Slack's API not reached (refused, reset, timed out)


def board_url(base_url: str, campaign_id: str) -> str:
    return f"{base_url}/campaigns/{campaign_id}"


def tally(view: CampaignView) -> dict[str, int]:
    """Members as the message counts them: ready (merged too), failed (cancelled too), running (started, not
    yet ready or ended), waiting; refused and skipped apart."""
    out = {"ready": 0, "failed": 0, "running": 0, "waiting": 0, "refused": 0, "skipped": 0}
    for m in view.members:
        if m.task is None:
            out["running" if m.status == "started" else m.status] += 1
        elif m.task.state in (TaskState.ready, TaskState.merged):
            out["ready"] += 1
        elif m.task.state in (TaskState.failed, TaskState.cancelled):
            out["failed"] += 1
        else:
            out["running"] += 1
    return out


def campaign_blocks(view: CampaignView, base_url: str) -> tuple[str, Blocks]:
    """The message: what was asked of which repos, where it stands, the counts and cost, the board's link."""
    url = board_url(base_url, view.id)
    n = tally(view)
    counts = f"✅ {n['ready']} ready · ❌ {n['failed']} failed · ⏳ {n['running']} running · 💤 {n['waiting']} waiting"
    if n["refused"] or n["skipped"]:
        counts += f" · 🚫 {n['refused']} refused · ⏭️ {n['skipped']} skipped"
    limit = view.settings.max_cost_usd
    cost = f"${view.cost_usd:.2f}" + (f" of ${limit:.2f}" if limit is not None else "")
    state = STATE_LINE[view.state] + (f" — {escaped(view.reason)}" if view.reason else "")
    head = f"*Campaign* `{view.id}` in `{escaped(view.selector.describe())}` ({len(view.members)} repos): {state}"
    body: Blocks = [
        section(f"{head}\n>{escaped(' '.join(view.text.split())[:300])}", url),
        section(f"{counts}\nCost: {cost}", url),
        {
            "type": "actions",
            "block_id": "campaign",
            "elements": [{"type": "button", "action_id": "open", "text": _plain("Open the board"), "url": url}],
        },
    ]
    text = (
        f"Campaign {view.id}: {n['ready']} ready, {n['failed']} failed, {n['running']} running, {n['waiting']} waiting"
    )
    return limits.fit(text, body, url)


class SlackCampaignMessage:
    """`CampaignNotifier` for Slack. Holds nothing between calls: where the message is comes with each call (the
    campaign keeps its ts), so any worker can update it after a restart."""

    def __init__(self, client: AsyncWebClient, base_url: str) -> None:
        self.client, self.base_url = client, base_url

    async def show(self, view: CampaignView, slack: SlackThread, message_ts: str | None) -> str | None:
        """Updates the campaign's message (`message_ts`, else the one the front door posted, `slack.status_ts`)
        or, with neither, posts it in the thread. Answers the message's ts: the same one after an update, even one
        Slack refused for a while (the next change updates it again; posting a second would break "one
        message"); a new one only when the old was deleted; None when none could be posted."""
        text, body = campaign_blocks(view, self.base_url)
        ts = message_ts or slack.status_ts
        if ts is not None:
            try:
                await self.client.chat_update(channel=slack.channel, ts=ts, text=text, blocks=body)
                return ts
            except SlackApiError as e:
                if e.response.get("error") not in GONE:
                    log.warning("campaign %s: its Slack message was not updated (%s)", view.id, e.response.get("error"))
                    return ts
            except UNREACHABLE as e:  # Slack unreachable: the next change tries again, on the same message
                log.warning("campaign %s: Slack could not be reached (%s)", view.id, e)
                return ts
        try:
            posted = await self.client.chat_postMessage(
                channel=slack.channel, thread_ts=slack.thread_ts, text=text, blocks=body
            )
        except (SlackApiError, *UNREACHABLE) as e:
            log.warning("campaign %s: its Slack message was not posted (%s)", view.id, e)
            return None
        return str(posted["ts"])


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}
