"""Each task's progress streamed in its Slack thread: a plan of task cards that fills in as the task
moves (`honk.slack.progress` says what to send; this sends it).

Workers take turns: each change is claimed in the store after the one it was computed from, so two
never send the same change, or an older one after a newer. Where a workspace cannot stream (Slack
answers an error to a start), the task's progress goes to its status message from then on; an
answer that says the workspace or the app cannot stream at all is remembered for the team until
the worker restarts, which tries once more.
"""

from __future__ import annotations

import logging
import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from honk.domain import SlackStream, SlackThread, TaskView
from honk.slack import blocks, progress
from honk.store import Store
from honk.store.slack import SlackStore
from honk.timeline import Timeline

log = logging.getLogger("honk.slack")
# Answers saying the workspace (or the app's token) cannot stream at all: the team falls back.
CANNOT_STREAM = frozenset(
    {
        "unknown_method",
        "not_allowed_token_type",
        "feature_not_enabled",
        "invalid_arguments",
        "missing_scope",
        "method_deprecated",
        "deprecated_endpoint",
    }
)
# Slack ended the stream under Honk (a stream lives minutes; a task may work for longer).
ENDED = frozenset({"message_not_in_streaming_state", "message_not_found"})
MAX_MOVES = 4  # per update: a stop, a start, and a read again when another worker went first


class SlackStreams:
    def __init__(self, client: AsyncWebClient, store: Store, slack: SlackStore, base_url: str) -> None:
        self.client, self.store, self.slack, self.base_url = client, store, slack, base_url
        self.cannot: set[str] = set()  # teams whose workspace answered that it cannot stream

    def may(self, thread: SlackThread) -> bool:
        """Whether to stream in this thread: not where the team cannot, and outside a DM only for a
        known requester (Slack wants the recipient named in a channel)."""
        named = thread.user_id is not None and thread.team_id is not None
        return (thread.team_id or "") not in self.cannot and (named or thread.channel.startswith("D"))

    async def show(self, task: TaskView, thread: SlackThread) -> bool | None:
        """Brings the task's streamed message up to date. True: the stream says where the task is;
        False: its status message should (the task has no stream, or it just stopped); None: another
        worker is starting the stream this moment, so try again shortly."""
        for _ in range(MAX_MOVES):
            claimed = await self.slack.stream_of(task.id)
            if claimed is None:
                return False
            stream, seq = claimed
            if stream.mode == "fallback":
                return False
            now = time.time()
            if progress.busy(stream, now):
                return None
            timeline = await self.store.timeline(task.id) or Timeline()
            move = progress.next_move(stream, timeline.route, task, now)
            if move is None:
                break
            if not await self.slack.claim_stream(task.id, seq, move.after):
                continue  # another worker sent a change first: read again, ours may be in it
            try:
                ts = await self._send(thread, stream, move)
            except SlackApiError as e:
                error = str(e.response.get("error"))
                if error not in ENDED:
                    await self._give_up(task.id, thread, error)
                    return False
                # Its message keeps what it showed; the next one goes on from there.
                await self.slack.claim_stream(task.id, seq + 1, progress.ended(stream, timeline.route))
                continue
            if ts is not None:
                if not await self.slack.claim_stream(task.id, seq + 1, _opened(move.after, ts)):
                    log.warning("stream %s of %s was taken over before it reported", ts, task.id)
                await self._point(task, thread)
            if move.stop is None or task.state in progress.STOPS:
                break
            # A full plan stopped: the work goes on in a new message.
        return task.state not in progress.STOPS

    async def _send(self, thread: SlackThread, stream: SlackStream, move: progress.Move) -> str | None:
        """Makes the move's calls; returns the ts of a new message left streaming."""
        ts = stream.ts or ""
        if move.start is not None:
            started = await self.client.chat_startStream(
                channel=thread.channel,
                thread_ts=thread.thread_ts,
                recipient_user_id=thread.user_id,
                recipient_team_id=thread.team_id,
                task_display_mode="plan",  # the route as one plan, its steps as task cards
                chunks=move.start,
            )
            ts = str(started["ts"])
            if move.stop is None:
                return ts
        if move.append is not None:
            await self.client.chat_appendStream(channel=thread.channel, ts=ts, chunks=move.append)
        if move.stop is not None:
            await self.client.chat_stopStream(channel=thread.channel, ts=ts, chunks=move.stop or None)
        return None

    async def _give_up(self, task_id: str, thread: SlackThread, error: str) -> None:
        await self.slack.stop_streaming(task_id)
        if error in CANNOT_STREAM:
            self.cannot.add(thread.team_id or "")
            log.warning(
                "Slack cannot stream here (%s): progress goes to status messages for team %s until a restart",
                error,
                thread.team_id,
            )
        else:
            log.warning("streaming %s failed (%s): its status message carries on", task_id, error)

    async def _point(self, task: TaskView, thread: SlackThread) -> None:
        """The status message says the progress is in the streamed message (it does not go stale)."""
        if thread.status_ts is None:
            return
        text, body = blocks.streaming(task, self.base_url)
        try:
            await self.client.chat_update(channel=thread.channel, ts=thread.status_ts, text=text, blocks=body)
        except SlackApiError as e:
            log.warning("status message of %s: %s", task.id, e.response.get("error"))


def _opened(stream: SlackStream, ts: str) -> SlackStream:
    return stream.model_copy(update={"mode": "open", "ts": ts})
