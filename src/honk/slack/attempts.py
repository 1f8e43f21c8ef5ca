"""Best of N in Slack (honk.attempts): once every attempt settled, one message in the thread the group was
asked in — the ranking, each attempt's why and preview, and a Pick button per ready attempt (or what Honk
picked by itself). The button's value is `<group> <task id>`; the front door's `pick_attempt` handler picks
through TaskService.attempts, so the gate decides who may."""

from __future__ import annotations

from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from honk.domain import AttemptsView, SlackThread, TaskState
from honk.slack import blocks

PICK_ACTION = "pick_attempt"


def ranking_blocks(view: AttemptsView, base_url: str, auto_picked: bool) -> tuple[str, blocks.Blocks]:
    """The message's text and blocks (pure: tested without Slack)."""
    page = f"{base_url.rstrip('/')}/attempts/{view.group}"
    if view.picked is not None:
        chosen = next(a for a in view.attempts if a.task_id == view.picked)
        head = (
            f"{view.n} attempts done: Honk picked attempt {chosen.attempt} (ranked {chosen.rank}); the others are cancelled."
            if auto_picked
            else f"{view.n} attempts done: attempt {chosen.attempt} was picked by {view.picked_by}."
        )
    else:
        head = f"{view.n} attempts done: pick one (the others are cancelled), or leave them."
    lines = []
    for a in view.attempts:
        preview = f" · <{a.preview_url}|preview>" if a.preview_url else ""
        lines.append(f"{a.rank}. attempt {a.attempt} `{a.task_id}`: {blocks.escaped(a.why)}{preview}")
    body: blocks.Blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{blocks.escaped(head)}*\n" + "\n".join(lines)}},
    ]
    buttons: list[dict[str, Any]] = []
    if view.picked is None:
        for a in view.attempts:
            if a.state == TaskState.ready:
                buttons.append(
                    {
                        "type": "button",
                        "action_id": f"{PICK_ACTION}_{a.attempt}",
                        "text": blocks.plain(f"Pick attempt {a.attempt}"),
                        "value": f"{view.group} {a.task_id}",
                    }
                )
    buttons.append({"type": "button", "action_id": "open", "text": blocks.plain("Ranking"), "url": page})
    body.append({"type": "actions", "elements": buttons[:25]})
    return f"{head} {page}", body


class SlackAttempts:
    """AttemptsNotifier for Slack: one message in the group's thread once it settled."""

    def __init__(self, client: AsyncWebClient, base_url: str) -> None:
        self.client, self.base_url = client, base_url

    async def settled(self, view: AttemptsView, slack: SlackThread, auto_picked: bool) -> None:
        text, body = ranking_blocks(view, self.base_url, auto_picked)
        await self.client.chat_postMessage(
            channel=slack.channel, thread_ts=slack.thread_ts or None, text=text, blocks=body
        )
