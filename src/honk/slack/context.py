"""What a Slack request comes with besides its own text: the thread it was made in, the messages it
links to, the screenshots shared before it, and for a follow-up what people said since the request.

Read with the bot token, and only what the requester can see: the conversation they asked in, and a
linked conversation only if they are a member of it (never what only Honk's bot can read). The text
is quoted by honk.slack.thread (pure) and reaches the agent as a file, fenced as reference.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from honk.attachments import Incoming
from honk.domain import SlackThread
from honk.slack import thread as slack_thread

THREAD_PAGES = 5  # of 200 messages: the thread's newest 50 are quoted
THREAD_PEOPLE = 50  # names looked up per thread (users.info); the rest are quoted by their ids
MEMBER_PAGES = 10  # of 1,000 members: a link into a bigger conversation is followed only if found there

NameOf = Callable[[str], Awaitable[str]]


@dataclass
class RequestContext:
    """The quoted text (None: nothing to quote), the thread's images to fetch, what was left out and why."""

    text: Incoming | None = None
    images: list[dict[str, Any]] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)


class SlackContext:
    def __init__(self, client: AsyncWebClient, name_of: NameOf) -> None:
        self.client, self.name_of = client, name_of

    async def of_request(
        self, channel: str, thread_ts: str | None, text: str, request_ts: str, requester: str
    ) -> RequestContext:
        """The thread before the request (when asked in one), the Slack messages the request or the
        thread links to, and the images shared earlier in the thread."""
        linked: list[tuple[dict[str, Any], str]] = []
        left_out: list[str] = []
        try:
            messages = await self._replies(channel, thread_ts) if thread_ts else []
            before = [m for m in messages if float(m.get("ts") or 0) < float(request_ts) and not m.get("bot_id")]
            for link in slack_thread.links([text, *(str(m.get("text") or "") for m in before)]):
                found, why = await self._linked(link, channel, requester)
                if found is not None:
                    linked.append((found, f"<#{link.channel}>"))
                else:
                    left_out.append(f"the message linked in <#{link.channel}>: {why}")
            name = await self._names([*messages, *(m for m, _ in linked)])
        except SlackApiError as e:
            problem = f"Honk could not read the thread ({e.response.get('error', 'error')})"
            return RequestContext(Incoming(slack_thread.NAME, b"", problem=problem), [], left_out)
        quoted = slack_thread.quote(messages, request_ts, name) if thread_ts else None
        parts = [quoted.text if quoted else "", slack_thread.quote_linked(linked, name)]
        parts += [f"Left out: {why}.\n" for why in left_out]
        body = "\n".join(p for p in parts if p)
        images = [dict(f) for f in slack_thread.shared_images(messages, request_ts)] if thread_ts else []
        return RequestContext(Incoming(slack_thread.NAME, body.encode()) if body else None, images, left_out)

    async def since_request(self, thread: SlackThread, follow_up_ts: str) -> Incoming | None:
        """What people said in a task's thread since Honk took the request (asides included), before the
        follow-up at `follow_up_ts`; None when nobody spoke, or the thread cannot be read (the follow-up
        goes on without it)."""
        try:
            messages = await self._replies(thread.channel, thread.thread_ts, oldest=thread.status_ts)
            name = await self._names(messages)
        except SlackApiError:
            return None
        quoted = slack_thread.quote(
            messages,
            follow_up_ts,
            name,
            after_ts=thread.status_ts or thread.thread_ts,
            title="What was said in the task's Slack thread since the request, before this follow-up",
        )
        if quoted is None:
            return None
        return Incoming(f"slack-thread-{follow_up_ts.replace('.', '-')}.txt", quoted.text.encode())

    async def _replies(self, channel: str, thread_ts: str, oldest: str | None = None) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(THREAD_PAGES):
            page = await self.client.conversations_replies(
                channel=channel, ts=thread_ts, oldest=oldest, limit=200, cursor=cursor
            )
            messages += page.get("messages") or []
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not page.get("has_more") or not cursor:
                break
        return messages

    async def _names(self, messages: list[dict[str, Any]]) -> Callable[[str], str]:
        people = {str(m["user"]) for m in messages if m.get("user") and not m.get("bot_id")}
        names = {uid: await self.name_of(uid) for uid in sorted(people)[:THREAD_PEOPLE]}
        return lambda uid: names.get(uid) or uid

    async def _linked(self, link: slack_thread.Link, channel: str, requester: str) -> tuple[dict[str, Any] | None, str]:
        """A linked message, if the requester may see it: it is in the conversation they asked in, or
        in one they are a member of."""
        try:
            if link.channel != channel and not await self._member(link.channel, requester):
                return None, "you are not a member of that conversation"
            if link.thread_ts and link.thread_ts != link.ts:
                page = await self.client.conversations_replies(
                    channel=link.channel, ts=link.thread_ts, oldest=link.ts, latest=link.ts, inclusive=True, limit=1
                )
            else:
                page = await self.client.conversations_history(
                    channel=link.channel, oldest=link.ts, latest=link.ts, inclusive=True, limit=1
                )
        except SlackApiError as e:
            return None, f"Honk cannot read it ({e.response.get('error', 'error')}: is @honk in that channel?)"
        found = [m for m in page.get("messages") or [] if m.get("ts") == link.ts]
        return (found[0], "") if found else (None, "it was not found (deleted?)")

    async def _member(self, channel: str, user: str) -> bool:
        cursor: str | None = None
        for _ in range(MEMBER_PAGES):
            page = await self.client.conversations_members(channel=channel, limit=1000, cursor=cursor)
            if user in (page.get("members") or []):
                return True
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return False
        return False
