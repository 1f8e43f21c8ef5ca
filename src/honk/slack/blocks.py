"""Slack messages for a task, built from Honk's own records (Block Kit)."""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ButtonElement, ConfirmObject

from honk.domain import (
    DEPLOY_ENDED,
    INSTALL_WORDS,
    SERVICE_NAMES,
    TRUSTED_PHASES,
    DeliveryOutcome,
    TaskState,
    TaskView,
)
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
    if timeline.also:
        lines.append(pull_requests_line(task, timeline))
    if task.cost_usd is not None:
        lines.append(f"Cost: ${task.cost_usd:.2f}")
    if task.preview_url:
        lines.append(f"Preview: <{task.preview_url}|open the new version>")
    blocks = [
        section("\n".join(lines)),
        *delivery(timeline, base_url),
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


def pull_requests_line(task: TaskView, timeline: Timeline) -> str:
    """A task over several repos: each repo's pull request, in the order they merge."""
    prs = timeline.pull_requests(task.repo)
    each = [
        f"{n}. *{escaped(repo)}* "
        + (f"<{pr.url}|#{pr.number}>" if (pr := prs.get(repo)) else "no pull request")
        + (" (merged)" if repo in timeline.repos_merged else "")
        for n, repo in enumerate([task.repo, *timeline.also], start=1)
    ]
    return "Pull requests, merged in this order: " + " → ".join(each)


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


def merged(task: TaskView, timeline: Timeline | None = None, base_url: str = "") -> tuple[str, Blocks]:
    """Merged; and, with `[deploy]`, where production stands once the deploy moved (see `deploy`)."""
    if timeline is not None and (timeline.deploy_held is not None or timeline.deploy_state is not None):
        return deploy(task, timeline, base_url)
    text = (
        f"🎉 *Merged* — `{task.id}` on *{task.repo}* as `{(task.merged_commit or '')[:10]}`, "
        f"approved by {task.approved_by}"
    )
    return text, [section(text)]


# -- the new app on the phone ------------------------------------------------------------------------
MAX_DETAIL_CHARS = 1_500  # of a distilled log in the thread; the whole is on the task page
FENCE = "`" * 3


def delivery(timeline: Timeline, base_url: str) -> Blocks:
    """The new version of the app, under the ready message (or on its own once a slow service is done):
    delivered — the app's name, version and build, when the link expires, an Install button and, for
    Honk's own install page, its QR code; processing — how long the service has had it; failed — why
    (the task stays reviewable)."""
    o = timeline.delivery
    if o is None:
        return []
    if o.state == "processing":
        said = f": {escaped(o.message)}" if o.message else ""
        minutes = timeline.delivery_waited_s / 60
        return [context(f"⏳ {SERVICE_NAMES[o.kind]} is processing the build ({minutes:.0f} min so far){said}")]
    if o.state == "failed":
        body = f"⚠️ *Delivery failed:* {escaped(o.why or 'no reason was given')}\nThe change can still be reviewed."
        parts = [section(body)]
        if o.detail.strip():
            parts.append(section(_code(o.detail)))
        return parts
    if o.state != "delivered" or o.url is None or not _web_link(o.url):
        return [context("📦 Delivering the new version to phones…")] if o.state == "delivering" else []
    lines = [f"📱 *{escaped(app_words(o))}* is ready to install"]
    if o.message:
        lines.append(escaped(o.message))
    if o.expires_at is not None:
        lines.append(f"The link expires {o.expires_at:%Y-%m-%d %H:%M} UTC.")
    if o.signature is not None and not o.signature.verified:
        lines.append(f"⚠️ Signature not verified: {escaped(o.signature.why or 'apksigner gave no verdict')}")
    install = {
        "type": "button",
        "action_id": "open",
        "text": plain(_label(o.label or INSTALL_WORDS[o.kind])),
        "url": o.url,
        "style": "primary",
    }
    parts: Blocks = [section("\n".join(lines)), {"type": "actions", "block_id": "install", "elements": [install]}]
    if own_install_page(o.url, base_url):
        parts.append(
            {"type": "image", "image_url": f"{o.url}/qr.png", "alt_text": "QR code of the install link for a phone"}
        )
    return parts


def app_words(o: DeliveryOutcome) -> str:
    """ "Calc 2.3.0 (build 317)": what is known of the delivered app."""
    build = f"(build {o.build})" if o.build else ""
    return " ".join(p for p in (o.title or "The new version", o.version, build) if p)


def own_install_page(url: str, base_url: str) -> bool:
    """Whether `url` is Honk's own install page, which answers `/qr.png` beside it, at an HTTPS address:
    Slack fetches an image block's picture itself, from the internet, which an http:// (LAN, laptop) Honk
    is not on — there the thread has the Install button, and the page its own QR code."""
    prefix = f"{base_url.rstrip('/')}/install/"
    token = url.removeprefix(prefix)
    public = base_url.startswith("https://")
    return public and url.startswith(prefix) and bool(token) and not any(c in token for c in "/?#")


def without_images(body: Blocks) -> Blocks:
    """The message without its image blocks: what is posted when Slack could not fetch a picture."""
    return [b for b in body if b.get("type") != "image"]


def delivered(task: TaskView, timeline: Timeline, base_url: str) -> tuple[str, Blocks]:
    """A slow service's answer, said once it came (the ready message said it was processing)."""
    o = timeline.delivery
    assert o is not None
    done = o.state == "delivered"
    text = f"Delivered: {app_words(o)} ({task.id})" if done else f"Delivery failed: {o.why} ({task.id})"
    head = context(f"`{task.id}` on *{task.repo}*: the new version for phones")
    return limits.fit(text, [head, *delivery(timeline, base_url)], task_url(base_url, task.id))


# -- production -------------------------------------------------------------------------------------
def deploy(task: TaskView, timeline: Timeline, base_url: str) -> tuple[str, Blocks]:
    """Where a merged change stands in production: held (with Deploy, for someone who may), deploying,
    live (with its link), or failed (the distilled log, with Revert)."""
    commit = f"`{(timeline.deploy.commit if timeline.deploy else task.merged_commit or '')[:10]}`"
    url = task_url(base_url, task.id)
    head = f"`{task.id}` on *{task.repo}*"
    state, outcome = timeline.deploy_state, timeline.deploy
    if timeline.deploy_held is not None and state is None:
        text = f"⏸️ *Deploy held* — {head}: {escaped(timeline.deploy_held)}"
        button = deploy_button(task, commit)
        return limits.fit(
            f"Deploy held: {task.id} on {task.repo}", [section(text), _actions(task.id, button, url)], url
        )
    if state in DEPLOY_ENDED and state != "live":
        failed = "Health check failed" if state == "health_failed" else "Deploy failed"
        body: Blocks = [section(f"🔥 *{failed}* — {head} at {commit}.")]
        if outcome is not None and outcome.detail.strip():
            body.append(section(_code(outcome.detail), url))
        if timeline.revert_task is not None:
            body.append(context(f"↩️ Being reverted by `{timeline.revert_task}`."))
        else:
            body.append(_actions(task.id, revert_button(task, commit), url))
        return limits.fit(f"{failed}: {task.id} on {task.repo}", body, url)
    if state == "live":
        body = [section(f"🟢 *Live in production* — {head} at {commit}")]
        link = outcome.url if outcome is not None else None
        if link is not None and _web_link(link):
            opened = {"type": "button", "action_id": "open", "text": plain("Open production"), "url": link}
            body.append({"type": "actions", "block_id": f"live:{task.id}", "elements": [opened]})
        return limits.fit(f"Live in production: {task.id} on {task.repo}", body, url)
    return limits.fit(f"Deploying {task.id} on {task.repo}", [section(f"🚀 *Deploying* {commit}… — {head}")], url)


# The production buttons the thread and the Home tab share (the same action ids reach the same handlers).
def deploy_button(task: TaskView, commit: str) -> dict[str, Any]:
    confirm = ("Deploy to production?", f"Honk deploys {commit} to {task.repo}'s production, then checks it.", "Deploy")
    return _button("Deploy", "deploy", task.id, style="primary", confirm=confirm)


def revert_button(task: TaskView, commit: str) -> dict[str, Any]:
    confirm = (
        "Revert this change?",
        f"Honk makes a task that reverts {commit} on {task.repo}: the same checks and merge policy, then the "
        "deploy puts back what was live.",
        "Revert",
    )
    return _button("Revert", "revert", task.id, style="danger", confirm=confirm)


def production_buttons(task: TaskView, timeline: Timeline) -> Blocks:
    """Deploy under a held deploy, Revert under a failed one (until a revert is under way); else none."""
    if task.state != TaskState.merged:
        return []
    commit = f"`{(timeline.deploy.commit if timeline.deploy else task.merged_commit or '')[:10]}`"
    if timeline.deploy_held is not None and timeline.deploy_state is None:
        return [deploy_button(task, commit)]
    failed = timeline.deploy_state in DEPLOY_ENDED and timeline.deploy_state != "live"
    return [revert_button(task, commit)] if failed and timeline.revert_task is None else []


def production_line(task: TaskView, timeline: Timeline) -> str:
    """What the status message adds while a delivery or a deploy is under way (the milestones say the rest)."""
    o = timeline.delivery
    if timeline.deploy_state in ("deploying", "deployed"):
        commit = (timeline.deploy.commit if timeline.deploy else task.merged_commit or "")[:10]
        return f"🚀 deploying `{commit}`…" if commit else "🚀 deploying…"
    if o is not None and o.state == "processing":
        return f"{SERVICE_NAMES[o.kind]} is processing the build ({timeline.delivery_waited_s / 60:.0f} min so far)"
    return ""


def _actions(task_id: str, button: dict[str, Any], url: str) -> dict[str, Any]:
    return {"type": "actions", "block_id": f"deploy:{task_id}", "elements": [button, open_button(url)]}


def _web_link(url: str) -> bool:
    """A link a Slack button may carry: http(s), within Slack's 3000 characters."""
    return url.startswith(("https://", "http://")) and len(url) <= 3000


def _code(text: str) -> str:
    """A distilled log in a code block, its end kept (where it says what went wrong), no fence or markup inside."""
    text = escaped(text.strip().replace(FENCE, "'''"))  # a log's <!channel> is shown, not sent
    if len(text) > MAX_DETAIL_CHARS:
        text = "…" + text[-MAX_DETAIL_CHARS:]
    return f"{FENCE}{text}{FENCE}"


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
