"""Schedules over HTTP: `/api/schedules…` (listing for anyone signed in; sync, pause, resume, run now and
delete for the repo's admins) and the `/schedules` page. Each route is one call of TaskService.schedules."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import HTMLResponse

from honk.accounts import User
from honk.domain import SCHEDULE_NAME, ScheduleView
from honk.gate import Actor
from honk.scheduling import ScheduleSynced
from honk.web.api import svc
from honk.web.auth import actor, user_of
from honk.web.ui import layout, signed_in

NAME = Path(pattern=SCHEDULE_NAME)  # a [[schedule]] name (at most 63 characters)
REPO = Path(max_length=100)
NONE_YET = '<li class="card">No schedules. Add a [[schedule]] to a repo\'s .honk.toml.</li>'


async def _who(request: Request, header: str | None) -> Actor:
    return actor(request, await user_of(request), None, header)


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/api/schedules")
    async def list_schedules(
        request: Request, repo: str | None = Query(default=None, max_length=100)
    ) -> list[ScheduleView]:
        """The schedules Temporal runs for the repos' `[[schedule]]` entries (one repo's: `?repo=`)."""
        await user_of(request)
        if repo is not None:
            await svc(request).repo(repo)
        return await svc(request).schedules.list(repo)

    @r.post("/api/schedules/{repo}/sync")
    async def sync(
        request: Request, repo: str = REPO, x_honk_user: str | None = Header(default=None)
    ) -> ScheduleSynced:
        """Reads the repo's `.honk.toml` at its branch's head and makes its schedules match."""
        service = svc(request)
        return await service.managed(
            "schedule_sync", await _who(request, x_honk_user), repo, "synced", service.schedules.sync
        )

    @r.post("/api/schedules/{repo}/{name}/pause")
    async def pause(
        request: Request, repo: str = REPO, name: str = NAME, x_honk_user: str | None = Header(default=None)
    ) -> ScheduleView:
        service, who = svc(request), await _who(request, x_honk_user)
        return await service.managed(
            "schedule_pause", who, repo, f"paused {name}", lambda r: service.schedules.pause(r, name, who.identity)
        )

    @r.post("/api/schedules/{repo}/{name}/resume")
    async def resume(
        request: Request, repo: str = REPO, name: str = NAME, x_honk_user: str | None = Header(default=None)
    ) -> ScheduleView:
        service, who = svc(request), await _who(request, x_honk_user)
        return await service.managed(
            "schedule_resume", who, repo, f"resumed {name}", lambda r: service.schedules.resume(r, name, who.identity)
        )

    @r.post("/api/schedules/{repo}/{name}/run", status_code=202)
    async def run(
        request: Request, repo: str = REPO, name: str = NAME, x_honk_user: str | None = Header(default=None)
    ) -> dict[str, str]:
        """Fires the schedule now (its task starts as its schedule's would)."""
        service, who = svc(request), await _who(request, x_honk_user)
        await service.managed(
            "schedule_run", who, repo, f"ran {name} now", lambda r: service.schedules.trigger(r, name)
        )
        return {"detail": f"schedule {name} of {repo} fired; its task shows in the task list once a worker takes it"}

    @r.delete("/api/schedules/{repo}/{name}", status_code=204)
    async def delete(
        request: Request, repo: str = REPO, name: str = NAME, x_honk_user: str | None = Header(default=None)
    ) -> Response:
        """Deletes the schedule from Temporal (a sync makes it again while `.honk.toml` has it)."""
        service, who = svc(request), await _who(request, x_honk_user)
        await service.managed(
            "schedule_delete", who, repo, f"deleted {name}", lambda r: service.schedules.delete(r, name)
        )
        return Response(status_code=204)

    @r.get("/schedules", response_class=HTMLResponse, include_in_schema=False)
    async def page(request: Request) -> Response:
        user = await signed_in(request, user_of)
        if isinstance(user, Response):
            return user
        service = svc(request)
        views = await service.schedules.list()
        who = actor(request, user, None, None)
        managed = {v.repo for v in views if service.may_manage(who, v.repo)}
        return HTMLResponse(schedules_page(user, views, managed))

    return r


def schedules_page(user: User, views: list[ScheduleView], managed: set[str]) -> str:
    items = "".join(_card(v, v.repo in managed) for v in views)
    body = f"""<h1>Schedules</h1><div id="flash" class="flash" role="status" aria-live="polite"></div>
<p class="muted small">Tasks Honk starts on a timer, from the <code>[[schedule]]</code> entries of each repo's
<code>.honk.toml</code> (times are UTC). A schedule asks as <code>schedule:REPO/NAME</code>: the access policy must
let it request.</p>
<ul class="tasks" id="schedules">{items or NONE_YET}</ul>"""
    return layout(user, "Schedules", body, "schedules")


def _card(v: ScheduleView, manage: bool) -> str:
    state = f"paused ({escape(v.note)})" if v.paused else "active"
    nxt = f"next {v.next_runs[0]:%Y-%m-%d %H:%M} UTC" if v.next_runs and not v.paused else ""
    last = ""
    if v.last_task:
        last = f'latest run: <a href="/tasks/{escape(v.last_task)}">{escape(v.last_task)}</a>'
    elif v.last_refusal:
        last = f"latest run started nothing: {escape(v.last_refusal)}"
    buttons = ""
    if manage:
        base = f"/api/schedules/{escape(v.repo)}/{escape(v.name)}"
        toggle = "resume" if v.paused else "pause"
        buttons = "".join(
            f'<form data-api="{base}/{what}" data-then="reload"><button class="btn" type="submit">{label}</button></form>'
            for what, label in ((toggle, toggle.capitalize()), ("run", "Run now"))
        )
    return f"""<li class="card"><div class="row"><strong>{escape(v.repo)} / {escape(v.name)}</strong>
<span class="badge">{state}</span><span class="spacer"></span><code>{escape(v.cron)}</code></div>
<div class="text small">{escape(v.prompt[:300])}</div>
<div class="muted small">{nxt} {last}</div><div class="row">{buttons}</div></li>"""
