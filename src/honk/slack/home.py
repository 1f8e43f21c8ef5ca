"""The Home tab: a person's own tasks, newest first, each with what they can do now.

Its buttons are the task thread's (honk.slack.blocks), so the same handlers answer them; after one
is pressed, Home is published again: the new state, or why nothing changed, said at the top.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from honk.domain import TaskState, TaskView
from honk.slack import blocks, limits
from honk.timeline import Timeline

TASKS = 20  # the newest; all of them are on the web's task list
REQUEST_CHARS = 280  # of a request, under its state line
HOW_TO = (
    "Nothing here yet. Mention *@honk* in a channel with what should change — "
    "`@honk fix the crash when a playlist is empty repo=player` — or choose *Fix with Honk* in a "
    "message's ⋯ menu to start from that message. Your tasks show up here, with what you can do."
)


def view(
    tasks: list[TaskView],
    plan_versions: Mapping[str, int],
    base_url: str,
    notice: str | None = None,
    settled: Mapping[str, str] | None = None,
    merged: Mapping[str, Timeline] | None = None,
) -> dict[str, Any]:
    """The Home view of `tasks` (one person's, newest first). `plan_versions`: the plan waiting on
    each plan_ready task; `notice`: said at the top (why a button changed nothing); `settled`: task id
    → who just did what, said instead of that task's buttons (the store may not show the new state yet);
    `merged`: merged tasks' timelines (Deploy under a held deploy, Revert under a failed one)."""
    top: blocks.Blocks = [blocks.section(notice)] if notice else []
    top.append({"type": "header", "text": blocks.plain("Your tasks")})
    if not tasks:
        return {"type": "home", "blocks": [*top, blocks.section(HOW_TO)]}
    listed: blocks.Blocks = []
    shown = 0
    for task in tasks:
        production = blocks.production_buttons(task, merged[task.id]) if merged and task.id in merged else []
        part = _task(task, plan_versions.get(task.id, 0), base_url, (settled or {}).get(task.id), production)
        if len(top) + len(listed) + len(part) + 1 > limits.MAX_VIEW_BLOCKS:  # + the closing line
            break
        listed += part
        shown += 1
    more = f"Newest first · <{base_url}/|All tasks on the web>"
    if shown < len(tasks):
        more += f" ({len(tasks) - shown} more of yours there)"
    return {"type": "home", "blocks": [*top, *listed, blocks.context(more)]}


def _task(
    task: TaskView, plan_version: int, base_url: str, settled: str | None, production: blocks.Blocks
) -> blocks.Blocks:
    url = blocks.task_url(base_url, task.id)
    request = limits.cut(" ".join(task.text.split()), REQUEST_CHARS)
    line = f"{blocks.STATE_LINE[task.state]} — `{task.id}` on *{task.repo}*\n{blocks.escaped(request)}\n<{url}|Open the task>"
    out = [blocks.section(line)]
    if settled is not None:
        out.append(blocks.context(settled))
    elif buttons := production or _buttons(task, plan_version, url):
        out.append({"type": "actions", "block_id": f"home:{task.id}", "elements": buttons})
    out.append({"type": "divider"})
    return out


def _buttons(task: TaskView, plan_version: int, url: str) -> blocks.Blocks:
    """What the task's requester can do in its state (a merge in progress cannot be cancelled)."""
    if task.state.terminal or task.state == TaskState.merging:
        return []
    if task.state == TaskState.ready:
        return [blocks.merge_button(task), blocks.cancel_button(task.id), blocks.open_button(url)]
    if task.state == TaskState.plan_ready and plan_version:
        return [*blocks.plan_buttons(task.id, plan_version, approve="Approve plan"), blocks.cancel_button(task.id)]
    return [blocks.cancel_button(task.id)]
