"""Slack messages for a task, built from Honk's own records (Block Kit)."""

from __future__ import annotations

from typing import Any

from honk.domain import TaskState, TaskView
from honk.slack import limits
from honk.timeline import Timeline

Blocks = list[dict[str, Any]]
MAX_SUMMARY_LINES = 6

STATE_LINE = {
    TaskState.queued: "⏳ Queued",
    TaskState.provisioning: "📦 Preparing the workspace",
    TaskState.planning: "🧭 The agent is planning",
    TaskState.plan_ready: "📝 A plan waits for approval",
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


def streaming(task: TaskView, base_url: str) -> tuple[str, Blocks]:
    """The status message while the task's progress streams below it, step by step."""
    text = f"`{task.id}` on *{task.repo}*: progress below, step by step"
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


def plan(task: TaskView, timeline: Timeline, base_url: str) -> tuple[str, Blocks]:
    """The proposed plan, with Approve and Request changes for its version (a click on a replaced plan
    is refused); within Slack's limits, the whole plan on the task page."""
    proposed, version, url = timeline.plan, timeline.plan_version, task_url(base_url, task.id)
    assert proposed is not None
    body: Blocks = [_section(f"*Plan v{version} to approve* — `{task.id}` on *{task.repo}*\n{proposed.summary}", url)]
    for title, items, numbered in (
        ("Steps", proposed.steps, True),
        ("Files it expects to touch", proposed.files, False),
        ("Risks", proposed.risks, False),
        ("Open questions", proposed.questions, False),
    ):
        if items:
            lines = [f"{f'{i}.' if numbered else '•'} {item}" for i, item in enumerate(items, 1)]
            body.append(_section(f"*{title}*\n" + "\n".join(lines), url))
    body.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Nothing has changed yet. Approve, and the agent carries the plan out; or ask for "
                    "changes (a reply in this thread works too).",
                }
            ],
        }
    )
    value = f"{task.id}:{version}"
    body.append(
        {
            "type": "actions",
            "block_id": f"plan:{task.id}:{version}",
            "elements": [
                _button("Approve", "approve_plan", value, style="primary"),
                _button("Request changes", "revise_plan", value),
                {"type": "button", "action_id": "open", "text": _plain("Open"), "url": url},
            ],
        }
    )
    return limits.fit(f"Plan v{version} to approve: {task.id} on {task.repo} — {proposed.summary}", body, url)


def plan_changes_modal(task_id: str, version: int) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "revise_plan",
        "private_metadata": f"{task_id}:{version}",
        "title": _plain("Change the plan"),
        "submit": _plain("Send"),
        "close": _plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": "changes",
                "label": _plain(f"What should plan v{version} do differently?"),
                "element": {"type": "plain_text_input", "action_id": "text", "multiline": True},
            }
        ],
    }


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


def _section(text: str, more_url: str | None = None) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": limits.cut(text, limits.SECTION_TEXT, more_url)}}


def _plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def _button(
    label: str, action: str, value: str, style: str | None = None, confirm: tuple[str, str, str] | None = None
) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "action_id": action, "text": _plain(label), "value": value}
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
