"""Slack's limits on a message or a view, so a long plan or log never makes `chat.postMessage` (or
`views.publish`) fail.

The numbers are slack_sdk's (its Block Kit models check them) and Slack's documented message limits;
what does not fit is cut where it is, and the message says where the whole is (the task page).
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import Option, SectionBlock, StaticSelectElement
from slack_sdk.models.views import View

MAX_BLOCKS = 50  # per message (chat.postMessage, chat.update)
MAX_TEXT = 40_000  # a message's top-level text; Slack answers msg_too_long beyond it
FALLBACK_TEXT = 3_000  # what Honk puts in `text` (notifications, screen readers): short is kinder
SECTION_TEXT = SectionBlock.text_max_length  # 3000
MAX_VIEW_BLOCKS = View.blocks_max_length  # 100, in a modal or the Home tab
PRIVATE_METADATA = View.private_metadata_max_length  # 3000: what a modal carries back on submission
SELECT_OPTIONS = StaticSelectElement.options_max_length  # 100
OPTION_TEXT = Option.label_max_length  # 75
INPUT_TEXT = 3_000  # a plain_text_input's largest max_length (Slack's documented limit)
# A streamed message (chat.startStream / appendStream / stopStream). slack_sdk's chunk models check
# no numbers; these are Slack's reference's: a task or plan update's title, a plan's task cards,
# a method's markdown_text.
STREAM_TITLE = 256
PLAN_TASKS = 50
STREAM_TEXT = 12_000


def cut(text: str, limit: int, more_url: str | None = None) -> str:
    """`text` within `limit` characters, saying it was cut and, with `more_url`, where the rest is."""
    if len(text) <= limit:
        return text
    tail = f"… (cut: <{more_url}|the whole on the task page>)" if more_url else "… (cut)"
    return text[: max(0, limit - len(tail))].rstrip() + tail


def fit(text: str, blocks: list[dict[str, Any]], more_url: str | None = None) -> tuple[str, list[dict[str, Any]]]:
    """The message within Slack's limits: each section's text cut to its limit, the blocks to the
    count allowed (the last one kept says where the rest is), the fallback text short."""
    fitted = [_fit_block(b, more_url) for b in blocks]
    if len(fitted) > MAX_BLOCKS:
        actions = [b for b in fitted if b.get("type") == "actions"][-1:]
        keep = fitted[: MAX_BLOCKS - 1 - len(actions)]
        more = f"<{more_url}|More on the task page>" if more_url else "More was cut."
        fitted = [*keep, {"type": "context", "elements": [{"type": "mrkdwn", "text": more}]}, *actions]
    return cut(text, FALLBACK_TEXT, more_url), fitted


def _fit_block(block: dict[str, Any], more_url: str | None) -> dict[str, Any]:
    text = block.get("text")
    if block.get("type") == "section" and isinstance(text, dict) and isinstance(text.get("text"), str):
        return {**block, "text": {**text, "text": cut(text["text"], SECTION_TEXT, more_url)}}
    return block
