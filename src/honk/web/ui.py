"""The mobile-first web app: server-rendered pages over the same store and API the other front doors use.

Pages only read; every change goes through the JSON API (`/api/...`) by `fetch` with the session's CSRF
token (static/app.js), so the web app has no write path of its own. Every asset is served from here.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Awaitable, Callable
from functools import lru_cache
from html import escape
from pathlib import Path
from typing import get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import DiffLexer

from honk.accounts import ANONYMOUS, Role, User
from honk.agents import AGENT_NAMES
from honk.domain import MAX_ATTEMPTS, HandOff, PreviewInfo, RepoRef, TaskState, TaskView
from honk.errors import NotFound, Unauthorized, UserFacingError
from honk.events import (
    AnyEvent,
    StoredEvent,
)
from honk.service import TaskService
from honk.timeline import Timeline
from honk.web.auth import actor
from honk.web.preview_card import live_preview_card
from honk.web.production_card import delivery_card, deploy_card
from honk.web.triggers import checkout_snippet
from honk.workspace.git import redact_url

STATIC = Path(__file__).parent / "static"
ASSET_VERSION = "7"
THEME_LIGHT, THEME_DARK = "#c2410c", "#0f1115"
TRANSCRIPT_KINDS = frozenset(
    {"agent_said", "agent_ran_command", "agent_tool_called", "agent_tool_result", "agent_tool_denied", "agent_usage"}
)
EVENT_KINDS = [t.model_fields["kind"].default for t in get_args(get_args(AnyEvent)[0])]
STATE_WORDS = {
    TaskState.queued: "Queued",
    TaskState.provisioning: "Preparing",
    TaskState.planning: "Planning",
    TaskState.plan_ready: "Plan to approve",
    TaskState.working: "Agent working",
    TaskState.verifying: "Checking",
    TaskState.building: "Building",
    TaskState.ready: "Ready for review",
    TaskState.merging: "Merging",
    TaskState.merged: "Merged",
    TaskState.failed: "Failed",
    TaskState.cancelled: "Cancelled",
}

UserOf = Callable[[Request], Awaitable[User]]
MAX_ALLOW_OFFERED = 5  # Allow host buttons under what the egress proxy refused
# "Open preview": the link made for a signed-in person works for minutes (it shows in the address bar and
# history); the preview's origin then keeps that browser in for a working day, until its links are revoked.
OPEN_LINK_S = 600
OPEN_STAY_S = 12 * 3600
PHONE_LINK_S = 86_400  # the task page's QR code: a day (Revoke preview links stops it sooner)


async def signed_in(request: Request, user_of: UserOf) -> User | Response:
    """The signed-in user, or the friendly sign-in page (HTML routes never show a JSON 401)."""
    try:
        return await user_of(request)
    except Unauthorized:
        return HTMLResponse(signin_page(), status_code=401)


def router(user_of: UserOf) -> APIRouter:
    r = APIRouter(include_in_schema=False)

    async def person(request: Request) -> User | Response:
        return await signed_in(request, user_of)

    @r.get("/", response_class=HTMLResponse)
    async def home(request: Request, scope: str = "all", repo: str = "", state: str = "") -> Response:
        user = await person(request)
        if isinstance(user, Response):
            return user
        service = request.app.state.service
        wanted = TaskState(state) if state in TaskState.__members__ else None
        mine = scope == "mine" and user is not ANONYMOUS
        tasks = await service.tasks(
            repo=repo or None, state=wanted, limit=100, requested_by=user.email if mine else None
        )
        return HTMLResponse(list_page(user, tasks, await service.repos(), "mine" if mine else "all", repo, wanted))

    @r.get("/new", response_class=HTMLResponse)
    async def new(request: Request, repo: str = "") -> Response:
        user = await person(request)
        if isinstance(user, Response):
            return user
        return HTMLResponse(new_page(user, await request.app.state.service.repos(), repo))

    @r.get("/repos", response_class=HTMLResponse)
    async def repos(request: Request) -> Response:
        user = await person(request)
        if isinstance(user, Response):
            return user
        service = request.app.state.service
        repos = await service.repos()
        problems = {r.name: p for r in repos if (p := await service.config_problem(r.name))}
        return HTMLResponse(repos_page(user, repos, problems))

    @r.get("/tasks/{task_id}", response_class=HTMLResponse)
    async def task(task_id: str, request: Request) -> Response:
        user = await person(request)
        if isinstance(user, Response):
            return user
        service = request.app.state.service
        try:
            view = await service.task(task_id)
        except NotFound as e:
            return HTMLResponse(
                layout(
                    user,
                    "Not found",
                    f"<h1>Not found</h1><p>{escape(e.message)}</p><p><a class='btn' href='/'>All tasks</a></p>",
                    "",
                ),
                status_code=404,
            )
        history = await service.events(task_id, limit=100_000)
        reading = await _reading(service, task_id)
        live = await service.preview(task_id)
        page = task_page(
            user, view, history, *reading, may_allow=_may_allow(request, user, view), live=live,
            phone_link=await _phone_link(service, task_id, live), hand_off=await _hand_off(service, view, reading[0]),
        )  # fmt: skip
        return HTMLResponse(page)

    @r.get("/tasks/{task_id}/preview")
    async def open_preview(task_id: str, request: Request) -> Response:
        """Into the task's running preview, on its own origin, with a short-lived link made for this person."""
        user = await person(request)
        if isinstance(user, Response):
            return user
        try:
            link = await request.app.state.service.preview_link(task_id, ttl_s=OPEN_LINK_S, stay_s=OPEN_STAY_S)
        except NotFound as e:
            return HTMLResponse(layout(user, "Not found", f"<h1>Not found</h1><p>{escape(e.message)}</p>", ""), 404)
        return RedirectResponse(
            link, status_code=303, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
        )

    @r.get("/tasks/{task_id}/panel", response_class=HTMLResponse)
    async def task_panel(task_id: str, request: Request) -> Response:
        """The task page's live part, re-rendered when the timeline says something changed."""
        user = await person(request)
        if isinstance(user, Response):
            return user
        service = request.app.state.service
        view = await service.task(task_id)
        reading = await _reading(service, task_id)
        live = await service.preview(task_id)
        link = await _phone_link(service, task_id, live)
        return HTMLResponse(
            panel(
                user,
                view,
                *reading,
                may_allow=_may_allow(request, user, view),
                live=live,
                phone_link=link,
                hand_off=await _hand_off(service, view, reading[0]),
            )
        )

    @r.get("/manifest.webmanifest")
    async def manifest() -> Response:
        body = {
            "name": "Honk",
            "short_name": "Honk",
            "description": "Request, watch, preview and merge code changes.",
            "start_url": "/",
            "scope": "/",
            "display": "standalone",
            "background_color": THEME_DARK,
            "theme_color": THEME_LIGHT,
            "icons": [
                {"src": f"/static/icon-{n}.png", "sizes": f"{n}x{n}", "type": "image/png", "purpose": "any maskable"}
                for n in (192, 512)
            ],
        }
        return JSONResponse(body, media_type="application/manifest+json")

    @r.get("/static/icon-{size}.png")
    async def icon_png(size: int) -> Response:
        if size not in (32, 180, 192, 512):
            raise NotFound("No such icon.")
        return Response(icon(size), media_type="image/png", headers={"Cache-Control": "public, max-age=86400"})

    @r.get("/static/{name}")
    async def static(name: str) -> Response:
        if name not in ("app.css", "app.js"):
            raise NotFound(f"No such file: {name}")
        return FileResponse(STATIC / name, headers={"Cache-Control": "public, max-age=300"})

    return r


# ---------------------------------------------------------------------------------------------- layout
def layout(user: User | None, title: str, body: str, current: str, main_attrs: str = "") -> str:
    def nav(href: str, label: str, key: str) -> str:
        here = ' aria-current="page"' if key == current else ""
        return f'<a href="{href}"{here}>{label}</a>'

    # Four links fit a phone's width; Schedules is reached from Repos.
    links = (nav("/", "Tasks", "tasks") + nav("/new", "New", "new") + nav("/repos", "Repos", "repos")) if user else ""
    if user and user.role.allows(Role.admin):
        links += nav("/audit", "Audit", "audit")
    who = (
        f'<p class="muted small" id="who">Signed in as {escape(user.email)} ({user.role.value})</p>'
        if user and user is not ANONYMOUS
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<title>{escape(title)} · Honk</title>
<meta name="theme-color" content="{THEME_LIGHT}" media="(prefers-color-scheme: light)">
<meta name="theme-color" content="{THEME_DARK}" media="(prefers-color-scheme: dark)">
<meta name="color-scheme" content="light dark">
<link rel="manifest" href="/manifest.webmanifest">
<link rel="icon" type="image/png" href="/static/icon-32.png">
<link rel="apple-touch-icon" href="/static/icon-180.png">
<link rel="stylesheet" href="/static/app.css?v={ASSET_VERSION}">
<script src="/static/app.js?v={ASSET_VERSION}" defer></script>
</head><body>
<header class="bar"><div class="bar-in"><a class="brand" href="/"><img src="/static/icon-192.png" alt="">Honk</a>
<nav class="nav">{links}</nav></div></header>
<main{main_attrs}>{body}{who}</main>
</body></html>"""


def signin_page() -> str:
    body = """<h1>Sign in to Honk</h1>
<div class="card signin"><p>Honk signs people in with a <strong>one-time link</strong>; there is no password.</p>
<ol><li>Ask a Honk admin for a link. They run <code>honk user link YOUR-EMAIL</code>
(or <code>honk user add YOUR-EMAIL</code> for a new account).</li>
<li>If your team uses Honk in Slack, the link can arrive as a direct message.</li>
<li>Open the link on this device within 15 minutes. It works once, and keeps you signed in for two weeks.</li></ol>
<p class="muted small">Scripts use an API token instead: <code>Authorization: Bearer honk_…</code></p></div>"""
    return layout(None, "Sign in", body, "")


def badge(state: TaskState) -> str:
    return f'<span class="badge s-{state.value}" data-state="{state.value}">{STATE_WORDS[state]}</span>'


def _ago(task: TaskView) -> str:
    return f'<time class="muted small" datetime="{task.updated_at.isoformat()}">{task.updated_at:%b %d %H:%M}</time>'


# ---------------------------------------------------------------------------------------------- list
def list_page(
    user: User, tasks: list[TaskView], repos: list[RepoRef], scope: str, repo: str, state: TaskState | None
) -> str:
    def link(**changes: str) -> str:
        q = {"scope": scope, "repo": repo, "state": state.value if state else "", **changes}
        return "/?" + urlencode({k: v for k, v in q.items() if v and not (k == "scope" and v == "all")})

    seg = "".join(
        f'<a href="{escape(link(scope=s))}" aria-current="{str(s == scope).lower()}">{label}</a>'
        for s, label in (("mine", "Mine"), ("all", "All"))
    )
    repo_opts = "".join(
        f'<option value="{escape(r.name)}"{" selected" if r.name == repo else ""}>{escape(r.name)}</option>'
        for r in repos
    )
    state_opts = "".join(
        f'<option value="{s.value}"{" selected" if s == state else ""}>{STATE_WORDS[s]}</option>' for s in TaskState
    )
    cards = "".join(
        f"""<li class="card"><a class="task-link" href="/tasks/{t.id}">
<div class="row">{badge(t.state)}<span class="spacer"></span>{_ago(t)}</div>
<div class="text">{escape(t.text[:160])}</div>
<div class="row muted small"><span>{escape(t.repo)}</span><span>{escape(t.requested_by)}</span>
{f"<span>${t.cost_usd:.2f}</span>" if t.cost_usd is not None else ""}</div></a></li>"""
        for t in tasks
    )
    empty = (
        '<div class="card"><p>No tasks here yet.</p><a class="btn primary" href="/new">Ask for a change</a></div>'
        if not tasks
        else ""
    )
    body = f"""<div class="row"><h1>Tasks</h1><span class="spacer"></span><a class="btn primary" href="/new">New request</a></div>
<div class="row"><nav class="seg" aria-label="Whose tasks">{seg}</nav></div>
<form class="filters" method="get" action="/" data-autosubmit>
<input type="hidden" name="scope" value="{scope}">
<select name="repo" aria-label="Repo"><option value="">All repos</option>{repo_opts}</select>
<select name="state" aria-label="State"><option value="">Any state</option>{state_opts}</select>
<noscript><button class="btn" type="submit">Filter</button></noscript></form>
<ul class="tasks" id="tasks">{cards}</ul>{empty}"""
    return layout(user, "Tasks", body, "tasks")


# ---------------------------------------------------------------------------------------------- new
def new_page(user: User, repos: list[RepoRef], chosen: str) -> str:
    if not repos:
        body = (
            "<h1>New request</h1><div class='card'><p>No repos yet: an admin adds one first.</p>"
            "<a class='btn primary' href='/repos'>Repos</a></div>"
        )
        return layout(user, "New request", body, "new")
    opts = "".join(
        f'<option value="{escape(r.name)}"{" selected" if r.name == chosen else ""}>{escape(r.name)}'
        f" ({escape(r.branch)})</option>"
        for r in repos
    )
    agents = "".join(f'<option value="{a}">{a}</option>' for a in AGENT_NAMES)
    body = f"""<h1>New request</h1>
<div id="flash" class="flash" role="status" aria-live="polite"></div>
<form class="card" id="new-task" data-api="/api/tasks" data-attempts-api="/api/attempts" data-then="task">
<label for="repo">Repo</label><select id="repo" name="repo" required>{opts}</select>
<label for="text">What should change?</label>
<textarea id="text" name="text" required maxlength="20000"
 placeholder="e.g. The app crashes when a playlist is empty; fix it and add a test."></textarea>
<label for="also">Also in repos (optional)</label>
<input type="text" id="also" name="also" maxlength="2000" data-comma-list
 placeholder="e.g. web, docs: one change across them, a pull request each, merged in this order after the repo">
<label for="files">Screenshots or logs (optional)</label>
<input type="file" id="files" name="files" multiple accept="image/*,text/*,.log,.txt,.json,.csv">
<label class="check"><input type="checkbox" id="plan" name="plan" value="true">
Plan first: see the agent's plan and approve it before anything changes</label>
<label for="attempts">Attempts</label>
<input type="number" id="attempts" name="attempts" min="1" max="{MAX_ATTEMPTS}" value="1" data-estimate>
<p class="muted small" id="attempts-cost">One attempt. More run independently (best of N): you pick one, each costs
what a task may.</p>
<details><summary>Agent and model (optional)</summary>
<label for="agent">Agent</label><select id="agent" name="agent"><option value="">Repo default</option>{agents}</select>
<label for="model">Model</label><input type="text" id="model" name="model" placeholder="Repo default" maxlength="100">
</details>
<p><button class="btn primary block" type="submit">Send to Honk</button></p></form>"""
    return layout(user, "New request", body, "new")


# ---------------------------------------------------------------------------------------------- repos
def repos_page(user: User, repos: list[RepoRef], problems: dict[str, str] | None = None) -> str:
    items = "".join(
        f"""<li class="card"><div class="row"><strong>{escape(r.name)}</strong><span class="spacer"></span>
<span class="muted small">default branch <code>{escape(r.branch)}</code></span>{_problem((problems or {}).get(r.name))}</div>
<div class="muted small"><code>{escape(redact_url(r.url))}</code></div>
<div class="row"><a class="btn" href="/new?repo={escape(r.name)}">Ask</a>
<a class="btn" href="/?repo={escape(r.name)}">Tasks</a></div></li>"""
        for r in repos
    )
    add = ""
    if user.role.allows(Role.admin):
        add = """<h2>Add a repo</h2>
<form class="card" id="add-repo" data-api="/api/repos" data-then="reload">
<label for="name">Name</label><input type="text" id="name" name="name" required maxlength="100" placeholder="sample">
<label for="url">Git URL</label><input type="text" id="url" name="url" required placeholder="https://… or git@… or /path">
<label for="branch">Default branch</label><input type="text" id="branch" name="branch" placeholder="main">
<p class="muted small">Honk checks that it can reach the branch. Its <code>.honk.toml</code> (checks, build, agent) is
read for each task; problems in it are reported on the task.</p>
<p><button class="btn primary block" type="submit">Add repo</button></p></form>"""
    body = f"""<h1>Repos</h1><div id="flash" class="flash" role="status" aria-live="polite"></div>
<p class="small"><a href="/schedules">Schedules</a>: the repos' <code>[[schedule]]</code> tasks.
<a href="/campaigns">Campaigns</a>: one request across many repos.</p>
<ul class="tasks" id="repos">{items or '<li class="card">No repos yet.</li>'}</ul>{add}"""
    return layout(user, "Repos", body, "repos")


# ---------------------------------------------------------------------------------------------- task
def _time(e: StoredEvent) -> str:
    return f'<time datetime="{e.at.isoformat()}">{e.at:%H:%M:%S}</time>'


def _li(e: StoredEvent) -> str:
    return f'<li class="k-{e.event.kind}" data-id="{e.id}">{_time(e)}<span>{escape(e.event.line())}</span></li>'


async def _reading(service: TaskService, task_id: str) -> tuple[Timeline, str]:
    """The task's timeline, and the diff of its latest delivery (kept in that event, not the timeline)."""
    timeline = await service.timeline(task_id)
    return timeline, await service.delivered_diff(timeline)


async def _phone_link(service: TaskService, task_id: str, live: PreviewInfo | None) -> str | None:
    """A day's signed link to the task's running preview, for the QR code a phone scans (it has no session)."""
    if live is None or live.state == "failed":
        return None
    return await service.preview_link(task_id, ttl_s=PHONE_LINK_S)


async def _hand_off(service: TaskService, task: TaskView, timeline: Timeline) -> HandOff | None:
    """How to go on with the task on a laptop, once it has a commit to go on from."""
    if timeline.ready is None and not task.merged_commit:
        return None
    try:
        return await service.hand_off(task, timeline)
    except UserFacingError:
        return None


def _may_allow(request: Request, user: User, task: TaskView) -> bool:
    """Whether the page offers Allow host: to the repo's admins (the API asks again, and records it)."""
    return request.app.state.service.may_manage(actor(request, user, None, None), task.repo)


def task_page(
    user: User,
    task: TaskView,
    history: list[StoredEvent],
    timeline: Timeline,
    diff: str,
    may_allow: bool = False,
    live: PreviewInfo | None = None,
    phone_link: str | None = None,
    hand_off: HandOff | None = None,
) -> str:
    steps = [e for e in history if e.event.kind not in TRANSCRIPT_KINDS]
    said = [e for e in history if e.event.kind in TRANSCRIPT_KINDS]
    last = history[-1].id if history else 0
    attrs = (
        f' data-task="{task.id}" data-last="{last}" data-terminal="{int(task.state.terminal)}"'
        f" data-kinds='{escape(json.dumps(EVENT_KINDS))}'"
    )
    body = f"""<h1 id="title">{escape(task.text[:200])}</h1>
<div id="flash" class="flash" role="status" aria-live="polite"></div>
<div id="panel">{panel(user, task, timeline, diff, may_allow, live, phone_link, hand_off)}</div>
<section class="card"><h2>Timeline</h2><ol class="timeline" id="timeline">{"".join(map(_li, steps))}</ol></section>
<section class="card"><details id="transcript-box"><summary><span>Agent transcript (<span id="transcript-count">{len(said)}</span>)</span></summary>
<ol class="timeline" id="transcript">{"".join(map(_li, said))}</ol></details></section>"""
    return layout(user, task.id, body, "", attrs)


def pull_requests_card(task: TaskView, timeline: Timeline) -> str:
    """A task over several repos: each repo's pull request, in the order they merge (none yet: said)."""
    prs = timeline.pull_requests(task.repo)
    rows = []
    for n, repo in enumerate([task.repo, *timeline.also], start=1):
        pr = prs.get(repo)
        link = (
            f'<a href="{escape(pr.url)}" target="_blank" rel="noopener">#{pr.number}</a>'
            if pr is not None
            else '<span class="muted">no pull request yet</span>'
        )
        merged = timeline.repos_merged.get(repo)
        done = f' <span class="ok">merged as {escape(merged[:10])}</span>' if merged is not None else ""
        rows.append(f"<li>{n}. <strong>{escape(repo)}</strong> {link}{done}</li>")
    return f"""<section class="card" id="pull-requests"><h2>Pull requests</h2>
<p class="muted small">One change across {len(rows)} repos, merged in this order; each waits on the one before.</p>
<ul class="checks">{"".join(rows)}</ul></section>"""


def panel(
    user: User,
    task: TaskView,
    timeline: Timeline,
    diff: str = "",
    may_allow: bool = False,
    live: PreviewInfo | None = None,
    phone_link: str | None = None,
    hand_off: HandOff | None = None,
) -> str:
    """Where the task stands and what can be done: re-rendered whole on each step of the timeline.
    `may_allow`: the person may allow the repo hosts (Allow host, under what the egress proxy refused);
    `live`: the task's running preview, if it has one; `phone_link`: a signed link to it, for a QR code."""
    ready, review, checks = timeline.ready, timeline.review, list(timeline.checks.values())

    facts = [
        ("Task", task.id),
        ("Repo", task.repo),
        ("Branch", task.branch),
        ("Asked by", task.requested_by),
        ("Started by", timeline.origin),
        ("Agent", " · ".join(x for x in (task.agent, task.model) if x)),
        ("Cost", f"${task.cost_usd:.2f}" if task.cost_usd is not None else ""),
        ("Approved by", task.approved_by or ""),
        ("Merged as", (task.merged_commit or "")[:12]),
    ]
    dl = "".join(f"<dt>{k}</dt><dd>{escape(v)}</dd>" for k, v in facts if v)
    parts = [
        f"""<section class="card" id="status"><div class="row">{badge(task.state)}<span class="spacer"></span>
{_ago(task)}</div>{f'<p id="reason"><strong>{escape(task.reason)}</strong></p>' if task.reason else ""}
<dl class="facts">{dl}</dl></section>"""
    ]

    parts.append(actions(user, task, timeline))
    if timeline.also:
        parts.append(pull_requests_card(task, timeline))
    parts.append(deploy_card(user, task, timeline))  # production, then the new app on the phone
    parts.append(delivery_card(timeline))
    if timeline.plan is not None:
        parts.append(plan_card(timeline))

    if ready:
        warn = ""
        if ready.warnings:
            warn = (
                '<div class="warnings"><strong>⚠ Warnings</strong><ul>'
                + "".join(f"<li>{escape(w)}</li>" for w in ready.warnings)
                + "</ul></div>"
            )
        parts.append(f"""<section class="card" id="summary"><h2>What changed</h2>{warn}
<p class="prose">{escape(ready.summary)}</p>{_diffstat(ready.diffstat)}{_diff(diff, ready.diff_truncated)}
<p class="muted small">Commit <code>{ready.commit[:12]}</code></p></section>""")

    if checks:
        rows = "".join(
            f"""<li><details{" open" if not c.passed else ""}><summary><span class="{"pass" if c.passed else "fail"}">
{"✓" if c.passed else "✗"} {escape(c.name)}</span>&nbsp;<span class="muted small">{c.duration_s:.1f}s</span></summary>
<pre class="wrap">{escape(c.detail or ("passed" if c.passed else "failed"))}</pre></details></li>"""
            for c in checks
        )
        parts.append(f'<section class="card" id="checks"><h2>Checks</h2><ul class="checks">{rows}</ul></section>')

    if review:
        guard = "".join(f"<li>{escape(f)}</li>" for f in review.guard_findings)
        parts.append(f"""<section class="card" id="review"><h2>Review</h2>
<p><span class="{"pass" if review.judge_ok else "fail"}">Scope judge: {"ok" if review.judge_ok else "veto"}</span>
— {escape(review.judge_reason)}</p>
{f'<p><strong>Test guard</strong></p><ul class="warnings">{guard}</ul>' if guard else '<p class="muted small">Test guard: no findings.</p>'}</section>""")

    if timeline.blocked:
        parts.append(blocked_card(task, timeline, may_allow))

    preview = task.preview_url or timeline.preview_url
    if live is not None or timeline.preview_failed or timeline.shots:
        parts.append(live_preview_card(task, live, timeline, phone_link, qr_svg(phone_link) if phone_link else ""))
    elif preview:
        parts.append(f"""<section class="card preview" id="preview"><h2>Preview</h2>
<iframe src="{escape(preview)}" sandbox="allow-scripts" title="Preview of {task.id}"></iframe>
<div class="qr">{qr_svg(preview)}<div><p class="small">Scan to open the preview on another device.</p>
<a class="btn" href="{escape(preview)}" target="_blank" rel="noopener">Open preview</a></div></div></section>""")

    if task.artifacts:
        items = "".join(
            f'<li><a href="/artifacts/{task.id}/{escape(a.name)}" download>{escape(a.name)}</a> '
            f'<span class="muted small">{_size(a.size)}</span></li>'
            for a in task.artifacts
        )
        parts.append(
            f'<section class="card" id="artifacts"><h2>Artifacts</h2><ul class="artifacts">{items}</ul></section>'
        )
    if hand_off is not None:
        parts.append(checkout_snippet(hand_off))
    return "\n".join(parts)


def plan_card(timeline: Timeline) -> str:
    """The agent's latest plan: what it proposes, and who approved it."""
    plan = timeline.plan
    assert plan is not None
    lists = ""
    for title, items, tag in (
        ("Steps", plan.steps, "ol"),
        ("Files", plan.files, "ul"),
        ("Risks", plan.risks, "ul"),
        ("Open questions", plan.questions, "ul"),
    ):
        if items:
            lists += f"<h3>{title}</h3><{tag}>" + "".join(f"<li>{escape(i)}</li>" for i in items) + f"</{tag}>"
    approved = (
        f'<p class="pass">Approved by {escape(timeline.plan_approved_by)}</p>' if timeline.plan_approved_by else ""
    )
    return f"""<section class="card plan" id="plan" data-version="{timeline.plan_version}">
<h2>Plan v{timeline.plan_version}</h2>{approved}<p class="prose">{escape(plan.summary)}</p>{lists}</section>"""


def blocked_card(task: TaskView, timeline: Timeline, may_allow: bool) -> str:
    """What the egress proxy refused (phase, method, host, times, the command that asked) and, for the
    repo's admins, Allow host for each name it could allow. Nothing is re-run when one is allowed."""
    rows = "".join(
        f"""<li><span class="mono">{escape(b.method)} {escape(b.host if b.port in (80, 443) else f"{b.host}:{b.port}")}</span>
in <strong>{b.phase}</strong>{f" ×{b.times}" if b.times > 1 else ""} <code>{escape(b.command[:120])}</code>
<span class="muted small">{escape(b.detail[:160])}</span></li>"""
        for b in timeline.blocked
    )
    allowable = timeline.allowable()
    offer = ""
    if may_allow and allowable:
        offer = "".join(
            f"""<form data-api="/api/repos/{escape(task.repo)}/network/allow" data-then="panel" data-lists="phases"
 data-done="Allowed {escape(host)} for {phase} in {escape(task.repo)}. Nothing was re-run: ask again or follow up to use it.">
<input type="hidden" name="host" value="{escape(host)}"><input type="hidden" name="phases" value="{phase}">
<button class="btn block" type="submit" data-confirm="Allow {escape(host)} for {phase} in later tasks of {escape(task.repo)}?">
Allow {escape(host)} for {phase}</button></form>"""
            for host, phase in allowable[:MAX_ALLOW_OFFERED]
        )
    elif allowable:
        host, phase = allowable[0]
        offer = (
            f'<p class="muted small">An admin of {escape(task.repo)} can allow it: '
            f"<code>honk network allow {escape(task.repo)} {escape(host)} --phase {phase}</code>.</p>"
        )
    return f"""<section class="card" id="blocked"><h2>Network refused</h2>
<p class="muted small">Honk's egress proxy refused these; nothing retried them. To allow a host, list it under
<code>[network]</code> in <code>.honk.toml</code>, or allow it for this repo.</p>
<ul class="blocked">{rows}</ul>{offer}</section>"""


def actions(user: User, task: TaskView, timeline: Timeline | None = None) -> str:
    s = task.state
    if s.terminal or s == TaskState.merging:
        return ""
    out = []
    if s == TaskState.plan_ready and timeline is not None:
        version = timeline.plan_version
        out.append(f"""<form data-api="/api/tasks/{task.id}/plan/approve" data-then="panel"
 data-done="Plan approved: the agent is carrying it out.">
<input type="hidden" name="version" value="{version}">
<button class="btn primary block" id="approve-plan" type="submit">Approve plan v{version}</button></form>
<form data-api="/api/tasks/{task.id}/plan/revise" data-then="panel"
 data-done="Sent to the agent: it proposes a new plan.">
<input type="hidden" name="version" value="{version}">
<details><summary>Request changes to the plan</summary><label for="plan-changes">What should the plan do differently?</label>
<textarea id="plan-changes" name="text" required maxlength="20000"></textarea>
<p><button class="btn block" type="submit" id="revise-plan">Ask for a new plan</button></p></details></form>
<form data-api="/api/tasks/{task.id}/cancel" data-then="panel" data-done="Cancelled.">
<button class="btn danger block" id="cancel" type="submit" data-confirm="Cancel this task?">Cancel task</button></form>""")
        return f'<section class="card actions" id="actions"><h2>Actions</h2>{"".join(out)}</section>'
    if s == TaskState.ready:
        if user.role.allows(Role.merger):
            out.append(f"""<form data-api="/api/tasks/{task.id}/merge" data-then="panel"
 data-done="Merge requested: Honk re-checks the branch against its target, then merges.">
<button class="btn primary block" id="merge" type="submit" data-confirm="Merge this change?">Merge</button></form>""")
        else:
            out.append(f'<p class="muted small">A merger or admin merges; you are a {user.role.value}.</p>')
    out.append(f"""<form data-api="/api/tasks/{task.id}/followup" data-then="panel"
 data-done="Sent to the agent: it works on your changes, then everything is checked again.">
<details><summary>Request changes</summary><label for="followup">What should be different?</label>
<textarea id="followup" name="text" required maxlength="20000"></textarea>
<label for="followup-files">A new screenshot or log (optional)</label>
<input type="file" id="followup-files" name="files" multiple accept="image/*,text/*,.log,.txt,.json,.csv">
<p><button class="btn block" type="submit" id="request-changes">Send to the agent</button></p></details></form>""")
    out.append(f"""<form data-api="/api/tasks/{task.id}/cancel" data-then="panel" data-done="Cancelled.">
<button class="btn danger block" id="cancel" type="submit" data-confirm="Cancel this task?">Cancel task</button></form>""")
    return f'<section class="card actions" id="actions"><h2>Actions</h2>{"".join(out)}</section>'


def _problem(text: str | None) -> str:
    """The repo's configuration problem, as the latest task that read it found it."""
    return f'<p class="config-problem">⚠ {escape(text)}</p>' if text else ""


def _diff(text: str, truncated: bool) -> str:
    """The change itself, highlighted on the server (Pygments), folded away until asked for."""
    if not text.strip():
        return ""
    body = highlight(text, DiffLexer(), HtmlFormatter(nowrap=True))
    more = '<p class="muted small">Cut short: the branch has the whole change.</p>' if truncated else ""
    return f'<details class="diff" id="diff"><summary>Diff</summary><pre class="highlight">{body}</pre>{more}</details>'


def _diffstat(text: str) -> str:
    if not text.strip():
        return ""
    lines = []
    for ln in escape(text.rstrip()).splitlines():
        ln = re.sub(
            r"(\++)(-*)$", lambda m: f'<span class="add">{m.group(1)}</span><span class="del">{m.group(2)}</span>', ln
        )
        ln = re.sub(r"(?<!\+)(-+)$", r'<span class="del">\1</span>', ln)
        lines.append(ln)
    return f'<pre class="diffstat" id="diffstat">{chr(10).join(lines)}</pre>'


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n:.1f} GB"


@lru_cache(maxsize=256)
def qr_svg(url: str) -> str:
    """A QR code of `url` as inline SVG (black modules on a white tile, readable in dark mode too)."""
    import qrcode
    from qrcode.image.svg import SvgPathImage

    svg = qrcode.make(url, image_factory=SvgPathImage, border=2).to_string(encoding="unicode")
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", svg)
    svg = re.sub(r'\s(width|height)="[^"]*"', "", svg, count=2)
    return svg.replace("<svg ", f'<svg role="img" aria-label="QR code for {escape(url)}" ', 1)


# ---------------------------------------------------------------------------------------------- icons
@lru_cache(maxsize=8)
def icon(size: int) -> bytes:
    """Honk's app icon, drawn at runtime: a white "H" on the brand orange, inside the maskable safe zone."""
    import png

    bg, fg = bytes((0xC2, 0x41, 0x0C)), bytes((0xFF, 0xFF, 0xFF))
    bars = [(30, 28, 42, 72), (58, 28, 70, 72), (30, 45, 70, 55)]  # on a 100×100 grid
    rows = []
    for y in range(size):
        row = bytearray(bg * size)
        for x0, y0, x1, y1 in bars:
            if y0 * size // 100 <= y < y1 * size // 100:
                a, b = x0 * size // 100, x1 * size // 100
                row[a * 3 : b * 3] = fg * (b - a)
        rows.append(row)
    out = io.BytesIO()
    png.Writer(size, size, greyscale=False).write(out, rows)  # pyright: ignore[reportArgumentType] - pypng's stub
    return out.getvalue()
