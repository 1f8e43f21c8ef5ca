"""Slack messages for a task, built from Honk's own records (Block Kit)."""

from __future__ import annotations

from typing import Any

from honk.domain import TaskState, TaskView
from honk.timeline import Timeline

Blocks = list[dict[str, Any]]
MAX_SUMMARY_LINES = 6

STATE_LINE = {
    TaskState.queued: "⏳ Queued",
    TaskState.provisioning: "📦 Preparing the workspace",
    TaskState.working: "🤖 The agent is working",
    TaskState.verifying: "🧪 Running the checks",
    TaskState.building: "🏗️ Building the new version",
    TaskState.ready: "✅ Ready for review",
    TaskState.merging: "🔀 Merging",
    TaskState.merged: "🎉 Merged",
    TaskState.failed: "❌ Failed",
    TaskState.cancelled: "🛑 Cancelled",
}


def task_url(base_url: str, task_id: str) -> str:
    return f"{base_url}/tasks/{task_id}"


def on_it(task: TaskView, base_url: str) -> tuple[str, Blocks]:
    text = f"On it: `{task.id}` on *{task.repo}* — {STATE_LINE[task.state]}"
    return text, [_section(f"{text}\n<{task_url(base_url, task.id)}|Open the task>")]


def status(task: TaskView, base_url: str, detail: str = "") -> tuple[str, Blocks]:
    line = STATE_LINE[task.state] + (f" — {detail}" if detail else "")
    text = f"`{task.id}` on *{task.repo}*: {line}"
    return text, [_section(f"{text}\n<{task_url(base_url, task.id)}|Open the task>")]


def ready(task: TaskView, timeline: Timeline, base_url: str) -> tuple[str, Blocks]:
    done = timeline.ready
    summary = "\n".join((done.summary if done else "").splitlines()[:MAX_SUMMARY_LINES]) or "No summary."
    checks = {c.name: c.passed for c in timeline.checks.values()}
    lines = [f"*Ready for review* — `{task.id}` on *{task.repo}*", summary]
    if checks:
        lines.append("Checks: " + " · ".join(f"{'✅' if ok else '❌'} {name}" for name, ok in checks.items()))
    if done and done.warnings:
        lines.append("⚠️ *Warnings:*\n" + "\n".join(f"• {w}" for w in done.warnings))
    if task.cost_usd is not None:
        lines.append(f"Cost: ${task.cost_usd:.2f}")
    if task.preview_url:
        lines.append(f"Preview: <{task.preview_url}|open the new version>")
    blocks = [
        _section("\n".join(lines)),
        {
            "type": "actions",
            "block_id": f"task:{task.id}",
            "elements": [
                _button(
                    "Merge",
                    "merge",
                    task.id,
                    style="primary",
                    confirm=(
                        "Merge this change?",
                        f"Honk merges `{task.branch}` into the target branch, re-verifying first if it moved.",
                        "Merge",
                    ),
                ),
                _button("Request changes", "request_changes", task.id),
                _button(
                    "Cancel",
                    "cancel",
                    task.id,
                    style="danger",
                    confirm=("Cancel this task?", "The agent stops; the branch is kept.", "Cancel task"),
                ),
                {"type": "button", "action_id": "open", "text": _plain("Open"), "url": task_url(base_url, task.id)},
            ],
        },
    ]
    return f"Ready for review: {task.id} on {task.repo}", blocks


def failed(task: TaskView) -> tuple[str, Blocks]:
    text = f"❌ *Failed* — `{task.id}` on *{task.repo}*\n{task.reason or 'no reason recorded'}"
    return text, [_section(text)]


def merged(task: TaskView) -> tuple[str, Blocks]:
    text = (
        f"🎉 *Merged* — `{task.id}` on *{task.repo}* as `{(task.merged_commit or '')[:10]}`, "
        f"approved by {task.approved_by}"
    )
    return text, [_section(text)]


def cancelled(task: TaskView) -> tuple[str, Blocks]:
    text = f"🛑 *Cancelled* — `{task.id}` on *{task.repo}*; the branch `{task.branch}` is kept."
    return text, [_section(text)]


def follow_up_modal(task_id: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "request_changes",
        "private_metadata": task_id,
        "title": _plain("Request changes"),
        "submit": _plain("Send"),
        "close": _plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": "changes",
                "label": _plain("What should change?"),
                "element": {"type": "plain_text_input", "action_id": "text", "multiline": True},
            }
        ],
    }


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}


def _plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def _button(
    label: str, action: str, task_id: str, style: str | None = None, confirm: tuple[str, str, str] | None = None
) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "action_id": action, "text": _plain(label), "value": task_id}
    if style:
        button["style"] = style
    if confirm:
        title, body, yes = confirm
        button["confirm"] = {
            "title": _plain(title),
            "text": {"type": "mrkdwn", "text": body},
            "confirm": _plain(yes),
            "deny": _plain("Not now"),
        }
    return button
