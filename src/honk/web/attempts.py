"""Best of N over HTTP (honk.attempts): `POST /api/attempts` starts N attempts at one request, `GET
/api/attempts/estimate` says what they may cost before (the CLI prints it and asks; the new-task form shows
it beside its Attempts field), `GET /api/attempts/{group}` ranks them, `POST /api/attempts/{group}/pick` keeps
one and cancels the others; the page `/attempts/{group}` shows the ranking with each attempt's preview,
checks, judge and diff size, and a Pick button per ready attempt. Each route is one TaskService.attempts call.

Mounted by the composition root (`routers=[..., attempts.router()]`).
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from honk.accounts import User
from honk.domain import MAX_ATTEMPTS, AttemptScore, AttemptsView, TaskState
from honk.web.api import svc
from honk.web.auth import actor, user_of
from honk.web.schemas import Body
from honk.web.ui import badge, layout, signed_in

GROUP = Path(max_length=40)  # `best-` and 12 hex digits; the service says what a group id looks like


class AttemptsIn(Body):
    repo: str = Field(max_length=100)
    text: str  # its length is checked by the service, so the error can say what to do
    attempts: int = Field(
        ge=0, le=10_000, description="How many attempts (the server allows 2 to HONK_ATTEMPTS_MAX_N)."
    )
    agents: list[str] | str | None = Field(
        default=None, description='Agents used in turn ("claude,codex" or a list); none: the repo\'s default.'
    )
    agent: str | None = Field(default=None, max_length=50, description="One agent for every attempt.")
    model: str | None = Field(default=None, max_length=100)
    request_id: str | None = Field(default=None, max_length=150, description="Idempotency key, as for a task.")
    requested_by: str | None = Field(default=None, max_length=200)
    plan: bool = False

    def agent_list(self) -> list[str]:
        listed = self.agents.split(",") if isinstance(self.agents, str) else list(self.agents or [])
        listed = [a.strip()[:50] for a in listed[: MAX_ATTEMPTS + 1] if a.strip()]
        return listed or ([self.agent] if self.agent else [])


class PickIn(Body):
    task_id: str = Field(max_length=60)
    by: str | None = Field(default=None, max_length=200)


class EstimateOut(BaseModel):
    n: int
    per_attempt_usd: float | None
    total_usd: float | None
    line: str


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/api/attempts/estimate")
    async def estimate(
        request: Request, repo: str = Query(max_length=100), n: int = Query(ge=0, le=10_000)
    ) -> EstimateOut:
        """What N attempts may cost at most (N × one task's cost limit), before anything starts."""
        await user_of(request)
        e = await svc(request).attempts.estimate(repo, n)
        return EstimateOut(n=e.n, per_attempt_usd=e.per_attempt_usd, total_usd=e.total_usd, line=e.line())

    @r.post("/api/attempts", status_code=201)
    async def start(
        body: AttemptsIn, request: Request, response: Response, x_honk_user: str | None = Header(default=None)
    ) -> AttemptsView:
        """Starts N independent attempts at one request (200: started before with this request_id)."""
        user = await user_of(request)
        who = actor(request, user, body.requested_by, x_honk_user)
        view, created = await svc(request).attempts.start(
            who, body.repo, body.text, body.attempts, body.agent_list(), body.model, body.request_id, plan=body.plan
        )
        if not created:
            response.status_code = 200
        return view

    @r.get("/api/attempts/{group}")
    async def view(request: Request, group: str = GROUP) -> AttemptsView:
        """The group's attempts, ranked best first, and the one picked."""
        await user_of(request)
        return await svc(request).attempts.view(group)

    @r.post("/api/attempts/{group}/pick", status_code=202)
    async def pick(
        body: PickIn, request: Request, group: str = GROUP, x_honk_user: str | None = Header(default=None)
    ) -> AttemptsView:
        """Keeps attempt `task_id` (merged the usual way) and cancels the group's other attempts."""
        user = await user_of(request)
        return await svc(request).attempts.pick(group, body.task_id, actor(request, user, body.by, x_honk_user))

    @r.get("/attempts/{group}", response_class=HTMLResponse, include_in_schema=False)
    async def page(request: Request, group: str = GROUP) -> Response:
        user = await signed_in(request, user_of)
        if isinstance(user, Response):
            return user
        return HTMLResponse(attempts_page(user, await svc(request).attempts.view(group)))

    return r


def attempts_page(user: User, view: AttemptsView) -> str:
    rows = "".join(_row(view, a) for a in view.attempts)
    if view.picked is not None:
        chosen = next(a for a in view.attempts if a.task_id == view.picked)
        said = f"Attempt {chosen.attempt} was picked by {escape(view.picked_by or '')}; the others are cancelled."
    elif view.settled:
        said = "Every attempt settled: pick one (the others are cancelled), then merge it as any task."
    else:
        said = "Attempts are still running; the ranking changes as they finish."
    body = f"""<h1>Best of {view.n}</h1><div id="flash" class="flash" role="status" aria-live="polite"></div>
<div class="card"><p><b>{escape(view.repo)}</b>, asked by {escape(view.requested_by)}:</p>
<blockquote>{escape(view.text)}</blockquote><p class="muted small" id="attempts-said">{said}</p></div>
<table class="card" id="ranking"><thead><tr><th>#</th><th>Attempt</th><th>State</th><th>Checks</th><th>Judge</th>
<th>Diff</th><th>Preview</th><th>Why</th><th></th></tr></thead><tbody>{rows}</tbody></table>"""
    return layout(user, f"Best of {view.n}", body, "tasks")


def _row(view: AttemptsView, a: AttemptScore) -> str:
    checks = {True: "pass", False: "FAIL", None: "—"}[a.checks_passed]
    judge = {True: "ok", False: "veto", None: "—"}[a.judge_ok]
    diff = f"+{a.added} \u2212{a.removed}" if a.lines_changed is not None else "—"
    preview = f'<a href="/tasks/{escape(a.task_id)}/preview">preview</a>' if a.preview_url else "—"
    if a.shot:  # what the attempt looks like, beside the others: its preview's screenshot
        preview += (
            f'<br><a href="/tasks/{escape(a.task_id)}#live-preview"><img class="thumb" src="/shots/{escape(a.task_id)}/'
            f'{escape(a.shot)}" alt="attempt {a.attempt}" loading="lazy"></a>'
        )
    pick = ""
    if view.picked is None and a.state == TaskState.ready:
        pick = f"""<form data-api="/api/attempts/{escape(view.group)}/pick" data-then="reload">
<input type="hidden" name="task_id" value="{escape(a.task_id)}">
<button class="btn primary" type="submit" id="pick-{a.attempt}"
 data-confirm="Pick attempt {a.attempt}? The other attempts are cancelled.">Pick</button></form>"""
    elif a.task_id == view.picked:
        pick = "<b>picked</b>"
    return (
        f'<tr id="attempt-{a.attempt}"><td>{a.rank}</td>'
        f'<td><a href="/tasks/{escape(a.task_id)}">attempt {a.attempt}</a></td><td>{badge(a.state)}</td>'
        f"<td>{checks}</td><td>{judge}</td><td>{diff}</td><td>{preview}</td><td>{escape(a.why)}</td><td>{pick}</td></tr>"
    )
