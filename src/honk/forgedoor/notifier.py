"""Honk's answers on the forge, where it was asked: the issue or pull request a task came from hears its
milestones (ready with the summary, checks, preview and pull request; failed with why; merged; cancelled),
as a Slack thread does; a task's pull request hears its passing notes (CI failed and a fix is under way,
or why Honk leaves it; its branch brought up to date) whoever asked. When a delivery addressed review comments, each gets its reply
("Done in abc1234.") and its thread is resolved where the forge allows.

Best effort per call, like every notifier: an error propagates and Temporal retries the notify activity.
"""

from __future__ import annotations

import logging

from honk.domain import TaskRequest, TaskState, TaskView
from honk.protocols import ForgeConversation, TaskReads
from honk.timeline import Timeline

log = logging.getLogger("honk.forgedoor")
MAX_SUMMARY = 3_000


def task_link(base_url: str, task_id: str) -> str:
    return f"{base_url.rstrip('/')}/tasks/{task_id}"


class ForgeNotifier:
    def __init__(self, conversation: ForgeConversation, reads: TaskReads, base_url: str) -> None:
        self.conversation, self.reads, self.base_url = conversation, reads, base_url

    async def status(self, task_id: str) -> None:
        """Progress stays on Honk's page (linked from the first answer): a forge comment per step is noise."""

    async def milestone(self, task: TaskRequest, detail: str = "") -> None:
        thread = task.forge_thread
        if thread is None:
            return
        view = await self.reads.get_task(task.task_id)
        if view is None:
            return
        timeline = await self.reads.timeline(task.task_id) or Timeline()
        text = said(view, timeline, detail, self.base_url)
        if text:
            await self.conversation.comment(task.repo, thread.number, text, thread.pull_request)
        if view.state == TaskState.ready:
            await self._answer_review(task, timeline)

    async def note(self, task: TaskRequest, text: str, asked_too: bool = False) -> None:
        """On the task's pull request (what the note is about: its CI, its branch), else on the forge
        thread it was asked on; `asked_too`: on both (once when they are the same)."""
        timeline = await self.reads.timeline(task.task_id) or Timeline()
        said = f"{text}\n\n{task_link(self.base_url, task.task_id)}"
        pull, asked = timeline.pull_request, task.forge_thread
        if pull is not None:
            await self.conversation.comment(task.repo, pull.number, said, True)
        if asked is not None and (
            pull is None or (asked_too and (asked.number, asked.pull_request) != (pull.number, True))
        ):
            await self.conversation.comment(task.repo, asked.number, said, asked.pull_request)

    async def _answer_review(self, task: TaskRequest, timeline: Timeline) -> None:
        """Replies to each review comment the latest delivery addressed, once: a thread already resolved
        (by an earlier call for the same delivery: a later milestone while ready, a retried activity) is
        not answered again."""
        if not timeline.answered or timeline.ready is None or timeline.pull_request is None:
            return
        number, commit = timeline.pull_request.number, timeline.ready.commit[:7]
        still_open = {c.id for c in await self.conversation.review_comments(task.repo, number)}
        for comment_id in timeline.answered:
            if comment_id in still_open:
                await self.conversation.reply(task.repo, number, comment_id, f"Done in {commit}.", resolve=True)


def said(view: TaskView, timeline: Timeline, detail: str, base_url: str) -> str:
    """The milestone as a markdown comment ("" when there is nothing to say at this state)."""
    link = task_link(base_url, view.id)
    pr = timeline.pull_request.url if timeline.pull_request is not None else ""
    if view.state == TaskState.ready and timeline.ready is not None:
        summary = timeline.ready.summary.strip()
        if len(summary) > MAX_SUMMARY:
            summary = summary[: MAX_SUMMARY - 1] + "…"
        lines = [f"**Ready for review** — {summary}" if summary else "**Ready for review.**"]
        if timeline.checks:
            marks = ", ".join(f"{'✅' if c.passed else '❌'} {name}" for name, c in timeline.checks.items())
            lines.append(f"Checks: {marks}")
        if timeline.ready.warnings:
            lines.append("⚠️ " + "; ".join(timeline.ready.warnings))
        if view.preview_url or timeline.preview_url:
            lines.append(f"Preview: {view.preview_url or timeline.preview_url}")
        if timeline.delivery is not None and timeline.delivery.url:
            lines.append(f"Install: {timeline.delivery.url}")
        if pr:
            lines.append(f"Pull request: {pr}")
        lines.append(f"Task: {link}")
        return "\n\n".join(lines)
    if view.state == TaskState.plan_ready and timeline.plan is not None:
        return f"**Plan ready for approval** — {timeline.plan.summary[:MAX_SUMMARY]}\n\nApprove or revise it: {link}"
    if view.state == TaskState.failed:
        return f"**Honk could not finish:** {(view.reason or 'no reason recorded')[:MAX_SUMMARY]}\n\nTask: {link}"
    if view.state == TaskState.merged:
        by = f" (approved by {view.approved_by})" if view.approved_by else ""
        commit = f" as {view.merged_commit[:10]}" if view.merged_commit else ""
        return f"**Merged**{by}{commit}.\n\nTask: {link}"
    if view.state == TaskState.cancelled:
        return f"**Stopped.** Nothing more will happen on this task.\n\nTask: {link}"
    return f"{detail}\n\nTask: {link}" if detail else ""
