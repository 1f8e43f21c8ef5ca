"""Slack messages for a task, built from Honk's own records (Block Kit)."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ButtonElement, ConfirmObject

from honk.domain import TRUSTED_PHASES, TaskState, TaskView
from honk.slack import limits
from honk.timeline import Timeline

Blocks = list[dict[str, Any]]
MAX_SUMMARY_LINES = 6
MAX_ALLOW_BUTTONS = 3  # "Allow host for this repo", one per refused host, under a ready or failed message
BUTTON_TEXT = ButtonElement.text_max_length  # 75: a button's label
CONFIRM_TEXT = ConfirmObject.text_max_length  # 300: what a confirmation dialog says
FROM_HOME = "home"  # a modal's private_metadata ends with it when a button in the Home tab opened it

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
    return text, [section(f"{text}\n<{task_url(base_url, task.id)}|Open the task>")]


def status(task: TaskView, base_url: str, detail: str = "") -> tuple[str, Blocks]:
    line = STATE_LINE[task.state] + (f" — {detail}" if detail else "")
    text = f"`{task.id}` on *{task.repo}*: {line}"
    return text, [section(f"{text}\n<{task_url(base_url, task.id)}|Open the task>")]


def streaming(task: TaskView, base_url: str) -> tuple[str, Blocks]:
    """The status message while the task's progress streams below it, step by step."""
    text = f"`{task.id}` on *{task.repo}*: progress below, step by step"
    return text, [section(f"{text}\n<{task_url(base_url, task.id)}|Open the task>")]


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
        section("\n".join(lines)),
        {
            "type": "actions",
            "block_id": f"task:{task.id}",
            "elements": [
                merge_button(task),
                _button("Request changes", "request_changes", task.id),
                cancel_button(task.id),
                open_button(task_url(base_url, task.id)),
            ],
        },
        *allow_hosts(task, timeline),
    ]
    return f"Ready for review: {task.id} on {task.repo}", blocks


def allow_hosts(task: TaskView, timeline: Timeline) -> Blocks:
    """*Allow host for this repo*: a button per host the egress proxy refused the task (at most three),
    each naming the task, the phase and the host ("t-…:check:pypi.org"). Pressing one allows it for the
    repo's later sandboxes of that phase — for its admins only — and re-runs nothing."""
    refused = timeline.allowable()[:MAX_ALLOW_BUTTONS]
    if not refused:
        return []
    buttons = [
        _button(
            _label(f"Allow {host} for {phase}"),
            "allow_host",
            f"{task.id}:{phase}:{host}",
            confirm=(
                "Allow host for this repo?",
                limits.cut(
                    f"Later {phase} sandboxes of *{task.repo}* may reach `{host}` through Honk's egress proxy "
                    f"({'any method' if phase in TRUSTED_PHASES else 'reads only'}). Nothing is re-run.",
                    CONFIRM_TEXT,
                ),
                "Allow",
            ),
        )
        for host, phase in refused
    ]
    return [
        context(f"*Allow host for this repo* — for {task.repo}'s admins; nothing is re-run when one is allowed."),
        {"type": "actions", "block_id": f"allow:{task.id}", "elements": buttons},
    ]


def _label(text: str) -> str:
    return text if len(text) <= BUTTON_TEXT else text[: BUTTON_TEXT - 1] + "…"


# The buttons a task's thread and the Home tab share: the same action ids reach the same handlers.
def merge_button(task: TaskView) -> dict[str, Any]:
    return _button(
        "Merge",
        "merge",
        task.id,
        style="primary",
        confirm=(
            "Merge this change?",
            f"Honk merges `{task.branch}` into the target branch, re-verifying first if it moved.",
            "Merge",
        ),
    )


def cancel_button(task_id: str) -> dict[str, Any]:
    return _button(
        "Cancel",
        "cancel",
        task_id,
        style="danger",
        confirm=("Cancel this task?", "The agent stops; the branch is kept.", "Cancel task"),
    )


def plan_buttons(task_id: str, version: int, approve: str = "Approve") -> Blocks:
    """Approve and Request changes, each naming the plan version the person saw ("t-…:2")."""
    value = f"{task_id}:{version}"
    return [_button(approve, "approve_plan", value, style="primary"), _button("Request changes", "revise_plan", value)]


def open_button(url: str) -> dict[str, Any]:
    return {"type": "button", "action_id": "open", "text": plain("Open"), "url": url}


def plan(task: TaskView, timeline: Timeline, base_url: str) -> tuple[str, Blocks]:
    """The proposed plan, with Approve and Request changes for its version (a click on a replaced plan
    is refused); within Slack's limits, the whole plan on the task page."""
    proposed, version, url = timeline.plan, timeline.plan_version, task_url(base_url, task.id)
    assert proposed is not None
    body: Blocks = [section(f"*Plan v{version} to approve* — `{task.id}` on *{task.repo}*\n{proposed.summary}", url)]
    for title, items, numbered in (
        ("Steps", proposed.steps, True),
        ("Files it expects to touch", proposed.files, False),
        ("Risks", proposed.risks, False),
        ("Open questions", proposed.questions, False),
    ):
        if items:
            lines = [f"{f'{i}.' if numbered else '•'} {item}" for i, item in enumerate(items, 1)]
            body.append(section(f"*{title}*\n" + "\n".join(lines), url))
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
    body.append(
        {
            "type": "actions",
            "block_id": f"plan:{task.id}:{version}",
            "elements": [*plan_buttons(task.id, version), open_button(url)],
        }
    )
    return limits.fit(f"Plan v{version} to approve: {task.id} on {task.repo} — {proposed.summary}", body, url)


def plan_changes_modal(task_id: str, version: int, from_home: bool = False) -> dict[str, Any]:
    """`from_home`: asked from the Home tab, which is published again once the changes are sent."""
    return {
        "type": "modal",
        "callback_id": "revise_plan",
        "private_metadata": f"{task_id}:{version}" + (f":{FROM_HOME}" if from_home else ""),
        "title": plain("Change the plan"),
        "submit": plain("Send"),
        "close": plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": "changes",
                "label": plain(f"What should plan v{version} do differently?"),
                "element": {"type": "plain_text_input", "action_id": "text", "multiline": True},
            }
        ],
    }


def failed(task: TaskView, timeline: Timeline | None = None) -> tuple[str, Blocks]:
    """Why it failed; and what the egress proxy refused it, if anything (often why), with Allow host."""
    text = f"❌ *Failed* — `{task.id}` on *{task.repo}*\n{task.reason or 'no reason recorded'}"
    said = timeline.blocked_warning(task.repo) if timeline is not None else None
    if timeline is None or said is None:
        return text, [section(text)]
    return text, [section(text), section(f"⚠️ {said}"), *allow_hosts(task, timeline)]


def merged(task: TaskView) -> tuple[str, Blocks]:
    text = (
        f"🎉 *Merged* — `{task.id}` on *{task.repo}* as `{(task.merged_commit or '')[:10]}`, "
        f"approved by {task.approved_by}"
    )
    return text, [section(text)]


def cancelled(task: TaskView) -> tuple[str, Blocks]:
    text = f"🛑 *Cancelled* — `{task.id}` on *{task.repo}*; the branch `{task.branch}` is kept."
    return text, [section(text)]


def follow_up_modal(task_id: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "request_changes",
        "private_metadata": task_id,
        "title": plain("Request changes"),
        "submit": plain("Send"),
        "close": plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": "changes",
                "label": plain("What should change?"),
                "element": {"type": "plain_text_input", "action_id": "text", "multiline": True},
            }
        ],
    }


# Block Kit pieces, also for the Home tab (honk.slack.home) and the Fix with Honk form (honk.slack.shortcut).
def section(text: str, more_url: str | None = None) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": limits.cut(text, limits.SECTION_TEXT, more_url)}}


def context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": limits.cut(text, limits.SECTION_TEXT)}]}


def plain(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def escaped(text: str) -> str:
    """A person's words (a request, a file's name) in mrkdwn, where Slack reads &, < and > as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _button(
    label: str, action: str, value: str, style: str | None = None, confirm: tuple[str, str, str] | None = None
) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "action_id": action, "text": plain(label), "value": value}
    if style:
        button["style"] = style
    if confirm:
        title, body, yes = confirm
        button["confirm"] = {
            "title": plain(title),
            "text": {"type": "mrkdwn", "text": body},
            "confirm": plain(yes),
            "deny": plain("Not now"),
        }
    return button
