"""Honk's `Notifier` for Slack: a task's progress in its thread kept current, and milestones.

Progress streams as a plan of task cards where the workspace allows it (`honk.slack.stream`), and
is otherwise the one status message updated in place. Milestones (ready, failed, merged, cancelled,
merge held) are posted by workflow activities, so no outcome depends on anyone choosing to speak.
Progress updates are best-effort and throttled across workers, so Slack's rate limits are never
reached; one throttled away is made once the interval has passed, so the latest always arrives.
"""

from __future__ import annotations

import asyncio
import io
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import qrcode
import qrcode.image.pure
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from honk.build.screenshot import Screenshots
from honk.domain import SlackThread, TaskRequest, TaskState
from honk.slack import blocks
from honk.slack.stream import SlackStreams
from honk.store import Store
from honk.store.slack import SlackStore
from honk.timeline import Timeline

log = logging.getLogger("honk.slack")
MAX_UPLOAD_BYTES = 5 * 1024 * 1024


def qr_png(url: str) -> bytes:
    image = qrcode.make(url, image_factory=qrcode.image.pure.PyPNGImage, box_size=8, border=2)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


def _delivery_came(state: TaskState, timeline: Timeline, detail: str) -> bool:
    """Whether this milestone is a slow service's answer: the delivery ended after Honk waited for it (a
    new build's delivery starts its wait from 0), while the task is still open. The ready message said it
    was processing; this says how it ended, without repeating the ready message."""
    delivery = timeline.delivery
    ended = delivery is not None and delivery.state in ("delivered", "failed")
    return (
        ended and timeline.delivery_waited_s > 0 and not detail and not state.terminal and state != TaskState.plan_ready
    )


class SlackNotifier:
    def __init__(
        self,
        client: AsyncWebClient,
        store: Store,
        base_url: str,
        artifacts_dir: str,
        status_interval_s: float = 2.0,
        screenshots: Screenshots | None = None,
        streaming: bool = True,
        preview_link: Callable[[str], Awaitable[str]] | None = None,
        shots_dir: Path | None = None,
    ) -> None:
        self.client, self.store, self.slack = client, store, SlackStore(store)
        self.base_url, self.artifacts_dir, self.interval = base_url, artifacts_dir, status_interval_s
        self.screenshots = screenshots
        # A running preview's signed link (a phone has no Honk session), and where its screenshots are.
        self.preview_link, self.shots_dir = preview_link, shots_dir
        self.streams = SlackStreams(client, store, self.slack, base_url) if streaming else None
        self._again: dict[str, asyncio.Task[None]] = {}  # updates throttled away, made after the interval

    async def status(self, task_id: str, detail: str = "", force: bool = False) -> None:
        """Brings the task's progress in its thread up to date: its streamed message, or its status
        message updated in place. At most once an interval across workers (`force`: now)."""
        thread = await self.slack.thread_of(task_id)
        if thread is None:
            return
        if not await self.slack.claim_status_update(task_id, time.time(), 0 if force else self.interval):
            self._again_later(task_id)
            return
        task = await self.store.get_task(task_id)
        if task is None:
            return
        if self.streams is not None and self.streams.may(thread):
            shown = await self.streams.show(task, thread)
            if shown is None:  # being started by another worker this moment
                self._again_later(task_id)
            if shown is not False:
                return
        if thread.status_ts is None:
            return
        if not detail and task.state in (TaskState.ready, TaskState.merged):
            detail = blocks.production_line(task, await self.store.timeline(task_id) or Timeline())
        text, body = blocks.status(task, self.base_url, detail)
        try:
            await self.client.chat_update(channel=thread.channel, ts=thread.status_ts, text=text, blocks=body)
        except SlackApiError as e:
            log.warning("status update of %s failed: %s", task_id, e.response.get("error"))

    def _again_later(self, task_id: str) -> None:
        """The update skipped now is made once the interval has passed (one pending per task)."""
        if task_id not in self._again:
            self._again[task_id] = asyncio.get_running_loop().create_task(self._again_after(task_id))

    async def _again_after(self, task_id: str) -> None:
        await asyncio.sleep(self.interval)
        del self._again[task_id]
        try:
            await self.status(task_id)
        except Exception:  # best-effort like every progress update, and nobody awaits this one
            log.exception("progress update of %s", task_id)

    async def milestone(self, task: TaskRequest, detail: str = "") -> None:
        """Posts the task's current milestone as a new message in its thread, for a task asked in Slack
        (errors propagate: Temporal retries)."""
        task_id, thread = task.task_id, await self._thread(task)
        if thread is None:
            return
        view = await self.store.get_task(task_id)
        if view is None:
            return
        # The progress first: a streamed message stops, every step in it, before the milestone is said.
        await self.status(task_id, force=True)
        timeline = await self.store.timeline(task_id) or Timeline()
        if _delivery_came(view.state, timeline, detail):
            text, body = blocks.delivered(view, timeline, self.base_url)
            await self._post(thread, text, body)
            return
        if view.state == TaskState.ready:
            link = await self._link(view.id, timeline)
            text, body = blocks.ready(view.model_copy(update={"preview_url": link}), timeline, self.base_url)
        elif view.state == TaskState.plan_ready and timeline.plan is not None:
            text, body = blocks.plan(view, timeline, self.base_url)
        elif view.state == TaskState.failed:
            text, body = blocks.failed(view, timeline)
        elif view.state == TaskState.merged:
            text, body = blocks.merged(view, timeline, self.base_url)
        elif view.state == TaskState.cancelled:
            text, body = blocks.cancelled(view)
        else:
            text, body = (
                f"`{view.id}`: {detail}",
                [{"type": "section", "text": {"type": "mrkdwn", "text": f"`{view.id}`: {detail}"}}],
            )
        await self._post(thread, text, body)
        if view.state == TaskState.ready:
            artifacts = [a.name for a in view.artifacts if a.size <= MAX_UPLOAD_BYTES]
            await self._uploads(view.id, await self._link(view.id, timeline), artifacts, thread, timeline)

    async def note(self, task: TaskRequest, text: str, asked_too: bool = False) -> None:
        """One line in the task's thread (no buttons, no state): the forge's CI failed, a fix is under way.
        The thread is where the task was asked, so `asked_too` changes nothing here."""
        thread = await self._thread(task)
        if thread is None:
            return
        line = f"`{task.task_id}`: {text}"
        await self._post(thread, line, [{"type": "section", "text": {"type": "mrkdwn", "text": line}}])

    async def _thread(self, task: TaskRequest) -> SlackThread | None:
        """The task's thread. A task no person asked for in Slack (a schedule's, with `notify`) names only a
        channel: its first milestone opens a thread there, saying what started it, and later ones use it."""
        thread = task.slack
        if thread is None or thread.thread_ts:
            return thread
        linked = await self.slack.thread_of(task.task_id)
        if linked is not None:
            return linked
        started = task.origin.detail if task.origin is not None else "Honk"
        opening = f"{started} started `{task.task_id}` on {task.repo.name}: {task.text.splitlines()[0][:200]}"
        answer = await self.client.chat_postMessage(channel=thread.channel, text=opening)
        ts = str(answer["ts"])
        linked = SlackThread(channel=thread.channel, thread_ts=ts, status_ts=ts)
        await self.slack.link(task.task_id, linked)
        return linked

    async def _post(self, thread: SlackThread, text: str, body: blocks.Blocks) -> None:
        """Posts a milestone; when Slack refuses its blocks because it could not fetch a picture (the install
        page's QR code, from a Honk it cannot reach), the same message without pictures."""
        try:
            await self.client.chat_postMessage(
                channel=thread.channel, thread_ts=thread.thread_ts, text=text, blocks=body
            )
        except SlackApiError as e:
            plain = blocks.without_images(body)
            if e.response.get("error") != "invalid_blocks" or plain == body:
                raise
            log.warning("Slack refused a milestone's picture (%s); posted without it", e.response.get("errors"))
            await self.client.chat_postMessage(
                channel=thread.channel, thread_ts=thread.thread_ts, text=text, blocks=plain
            )

    async def _link(self, task_id: str, timeline: Timeline) -> str | None:
        """The preview people open from the thread: a running one's signed link, else the files' page."""
        url = timeline.preview_url
        if url is None or url.startswith(self.base_url) or self.preview_link is None:
            return url  # none, or files the build made, served by Honk
        return await self.preview_link(task_id)

    async def _uploads(
        self, task_id: str, preview_url: str | None, artifacts: list[str], thread: SlackThread, timeline: Timeline
    ) -> None:
        link = preview_url or (f"{self.base_url}/artifacts/{task_id}/{artifacts[0]}" if artifacts else None)
        if link:
            await self.client.files_upload_v2(
                channel=thread.channel,
                thread_ts=thread.thread_ts,
                content=qr_png(link),
                filename=f"{task_id}-qr.png",
                title="Open on your phone",
                initial_comment=f"Scan to open the new version on your phone: {link}",
            )
        if timeline.shots and self.shots_dir is not None:
            await self._before_after(task_id, timeline, thread)
        elif preview_url and not timeline.preview_failed:
            with tempfile.TemporaryDirectory(prefix="honk-shot-") as tmp:
                shot = Path(tmp) / f"{task_id}-screenshot.png"
                if self.screenshots is not None and await self.screenshots.take(task_id, shot):
                    await self.client.files_upload_v2(
                        channel=thread.channel,
                        thread_ts=thread.thread_ts,
                        content=shot.read_bytes(),
                        filename=shot.name,
                        title="The new version on a phone",
                    )
        for name in artifacts:
            path = f"{self.artifacts_dir}/{task_id}/{name}"
            with open(path, "rb") as f:
                await self.client.files_upload_v2(
                    channel=thread.channel, thread_ts=thread.thread_ts, content=f.read(), filename=name, title=name
                )

    async def _before_after(self, task_id: str, timeline: Timeline, thread: SlackThread) -> None:
        """The route that changed most, on a phone: before, after and the diff, as images in the thread."""
        assert self.shots_dir is not None
        route = max(timeline.shots, key=lambda r: r.changed)
        pair = next((p for p in route.shots if p.viewport == "phone"), None)
        if pair is None:
            return
        changed = f"{pair.changed:.1%} of the screen changed" if pair.changed else "no visible change"
        files = [(pair.before, "before"), (pair.after, "after"), (pair.diff if pair.changed else None, "what changed")]
        uploads = [
            {"file": str(self.shots_dir / task_id / name), "filename": name, "title": f"{route.route} {title}"}
            for name, title in files
            if name and (self.shots_dir / task_id / name).is_file()
        ]
        if uploads:
            await self.client.files_upload_v2(
                channel=thread.channel,
                thread_ts=thread.thread_ts,
                file_uploads=uploads,
                initial_comment=f"{route.route} on a phone, before and after: {changed}",
            )
