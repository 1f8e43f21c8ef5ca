"""The Slack thread a request was made in, as context for the agent: who said what and when, newest
kept within a bound, the cut stated, forwarded messages included. Pure: Slack's messages in, one text
out; the front door fetches them (`conversations.replies`, the requester's own conversation) and the
text reaches the agent like an attached file, quoted as reference, never as instructions."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_MESSAGES = 50
MAX_THREAD_IMAGES = 4  # screenshots shared earlier in the thread, newest first, beside the mention's own
MAX_LINKS = 5  # links to other Slack messages followed per request
# A message's permalink: https://<workspace>.slack.com/archives/<conversation>/p<ts without the dot>
PERMALINK = re.compile(
    r"https://[A-Za-z0-9-]+\.(?:enterprise\.)?slack\.com/archives/([CDG][A-Z0-9]{2,})/p(\d{10})(\d{6})"
    r"(?:\?[^\s>|]*?thread_ts=(\d{10}\.\d{6}))?"
)
MAX_CHARS = 16_000  # what an attached text reaches the agent whole (honk.attachments.extract)
NAME = "slack-thread.txt"


@dataclass(frozen=True)
class ThreadContext:
    text: str
    used: int  # messages quoted
    total: int  # messages the thread had before the request


def quote(
    messages: Sequence[Mapping[str, Any]],
    request_ts: str,
    names: Callable[[str], str],
    max_messages: int = MAX_MESSAGES,
    max_chars: int = MAX_CHARS,
    after_ts: str = "0",
    title: str = "The Slack thread the request was made in",
) -> ThreadContext | None:
    """The thread before the request (`request_ts`) and after `after_ts`, without bots (Honk included)
    or the request itself; None when nothing is left to quote."""
    before = [m for m in messages if _ts(after_ts) < _ts(m.get("ts")) < _ts(request_ts) and not _from_a_bot(m)]
    lines = [line for m in before if (line := _line(m, names))]
    kept: list[str] = []
    size = 0
    for line in reversed(lines[-max_messages:]):  # newest first, until the bound
        if size + len(line) + 1 > max_chars:
            if not kept:  # one huge message: its end, which is where it says what went wrong
                kept.append("…" + line[-(max_chars - 200) :])
            break
        kept.append(line)
        size += len(line) + 1
    if not kept:
        return None
    kept.reverse()
    head = (
        f"{title}: {'all' if len(kept) == len(lines) else 'the last'} "
        f"{len(kept)} of {len(lines)} messages, oldest first."
    )
    return ThreadContext("\n".join([head, *kept]) + "\n", len(kept), len(lines))


@dataclass(frozen=True)
class Link:
    """A link to another Slack message: its conversation, its ts, and its thread's (when a reply)."""

    channel: str
    ts: str
    thread_ts: str | None = None


def links(texts: Sequence[str], most: int = MAX_LINKS) -> list[Link]:
    """The Slack messages these texts link to (permalinks), each once, in order, at most `most`."""
    found: list[Link] = []
    for text in texts:
        for m in PERMALINK.finditer(text or ""):
            link = Link(m.group(1), f"{m.group(2)}.{m.group(3)}", m.group(4))
            if link not in found:
                found.append(link)
    return found[:most]


def shared_images(
    messages: Sequence[Mapping[str, Any]], request_ts: str, most: int = MAX_THREAD_IMAGES
) -> list[Mapping[str, Any]]:
    """The images people shared in the thread before the request (Slack file objects), newest first."""
    before = [m for m in messages if _ts(m.get("ts")) < _ts(request_ts) and not _from_a_bot(m)]
    images = [
        f
        for m in reversed(before)
        for f in m.get("files") or []
        if isinstance(f, Mapping) and str(f.get("mimetype") or "").startswith("image/")
    ]
    return images[:most]


def quote_linked(linked: Sequence[tuple[Mapping[str, Any], str]], names: Callable[[str], str]) -> str:
    """Linked messages (each with where it was said), quoted as the thread is."""
    lines = [f"{line} (linked, in {where})" for m, where in linked if (line := _line(m, names))]
    return "Messages the request or the thread links to:\n" + "\n".join(lines) + "\n" if lines else ""


def _line(m: Mapping[str, Any], names: Callable[[str], str]) -> str:
    who = names(str(m.get("user") or m.get("username") or "someone"))
    when = datetime.fromtimestamp(_ts(m.get("ts")), UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [str(m.get("text") or "").strip()]
    for a in m.get("attachments") or []:  # a forwarded (shared) message, or a link's unfurl
        if isinstance(a, Mapping) and (shared := str(a.get("text") or a.get("fallback") or "").strip()):
            author = str(a.get("author_name") or a.get("author_subname") or "someone")
            parts.append(f"(forwarded from {author}) {shared}")
    files = [str(f.get("name")) for f in m.get("files") or [] if isinstance(f, Mapping) and f.get("name")]
    if files:
        parts.append(f"[shared {', '.join(files)}]")
    body = " ".join(p for p in parts if p)
    return f"[{when}] {who}: {body}" if body else ""


def _from_a_bot(m: Mapping[str, Any]) -> bool:
    return bool(m.get("bot_id")) or m.get("subtype") in ("bot_message", "channel_join", "channel_leave")


def _ts(value: object) -> float:
    try:
        return float(str(value))
    except ValueError:
        return 0.0
