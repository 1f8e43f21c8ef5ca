"""Triggers and hand-offs over HTTP: `/api/triggers` (the repo's admins make and delete them; anyone signed in
lists them), `POST /hooks/trigger/<token>` (whoever holds a trigger's URL starts its task), and
`GET /api/tasks/{id}/checkout` (what `honk checkout` fetches, and the task page shows).

A trigger's caller is answered 202 with the task (200 for a retry with the same `Idempotency-Key`), 404 with
nothing else said for any token that opens no trigger (forged, or its trigger deleted), 413 past the body's
cap, 405 for any other method. The token is never logged: the server's access log is off, and the metrics
label the route by its template.

Mounted by the composition root (`routers=[..., triggers.router()]`); `checkout_snippet` is the task page's card.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field

from honk.domain import MAX_TRIGGER_PAYLOAD, HandOff, TaskState, TriggerInfo, TriggerMade
from honk.service import TaskService
from honk.triggering import TRIGGER_PATH, Triggering
from honk.web.auth import actor, user_of
from honk.web.hooks import read_capped
from honk.web.schemas import Body


class TriggerIn(Body):
    name: str = Field(max_length=64)
    repo: str = Field(max_length=100)
    prompt: str  # its length is checked by the service, so the error can say what to do
    agent: str | None = Field(default=None, max_length=50)
    by: str | None = Field(default=None, max_length=200, description="Who makes it (the anonymous demo only).")


def triggering(request: Request) -> Triggering:
    return request.app.state.triggering  # the composition root's (WebParts.triggers)


def router() -> APIRouter:
    r = APIRouter()

    @r.post("/api/triggers", status_code=201)
    async def create(body: TriggerIn, request: Request, x_honk_user: str | None = Header(default=None)) -> TriggerMade:
        """Makes a trigger (the repo's admins): its URL, shown this once, starts the preset task as you."""
        user = await user_of(request)
        who = actor(request, user, body.by, x_honk_user)
        return await triggering(request).create(who, body.name, body.repo, body.prompt, body.agent)

    @r.get("/api/triggers")
    async def listed(request: Request, repo: str | None = None) -> list[TriggerInfo]:
        """The triggers (of one repo, or all): what each starts, who made it, how often it fired. No URLs."""
        await user_of(request)
        return await triggering(request).listed(repo)

    @r.delete("/api/triggers/{name}", status_code=204)
    async def delete(name: str, request: Request, x_honk_user: str | None = Header(default=None)) -> Response:
        """Deletes a trigger (the repo's admins): its URL stops working at once."""
        user = await user_of(request)
        await triggering(request).delete(actor(request, user, None, x_honk_user), name)
        return Response(status_code=204)

    @r.post(TRIGGER_PATH + "{token}", include_in_schema=False)
    async def fire(token: str, request: Request) -> Response:
        """Starts the trigger's task with the body (JSON or text) as a file for the agent."""
        doors = triggering(request)
        trigger = await doors.find(token)  # 404 before a byte of the body is read
        body = await read_capped(request, MAX_TRIGGER_PAYLOAD)
        if body is None:
            return JSONResponse(
                {"detail": f"Refused: the body is larger than {MAX_TRIGGER_PAYLOAD:,} bytes."}, status_code=413
            )
        fired = await doors.fire(
            trigger,
            body,
            request.headers.get("content-type", ""),
            request.headers.get("idempotency-key"),
        )
        return JSONResponse(fired.model_dump(mode="json"), status_code=202 if fired.created else 200)

    @r.get("/api/tasks/{task_id}/checkout")
    async def checkout(task_id: str, request: Request) -> HandOff:
        """Where the task's branch can be fetched from, and the agent's summary: what `honk checkout` uses."""
        await user_of(request)
        service: TaskService = request.app.state.service
        return await service.checkout(task_id)

    return r


def checkout_snippet(hand_off: HandOff) -> str:
    """The task page's card: the commands that continue the task on a laptop (the same `honk checkout` runs)."""
    if hand_off.state == TaskState.merged and hand_off.merged_commit:
        body = (
            f"<p>Merged as <code>{escape(hand_off.merged_commit[:12])}</code>: it is on the target branch "
            "(<code>git pull</code>).</p>"
        )
    else:
        where = {
            "forge": "its pull request's branch",
            "remote": "the repo's remote (published for Honk's workers, not a branch clones list)",
            "worker": "the worker's mirror on the machine Honk runs on",
        }[hand_off.source]
        commands = "\n".join(hand_off.commands())
        body = f"""<p class="small">In a clone of {escape(hand_off.repo)}:</p>
<pre class="wrap">honk checkout {escape(hand_off.task_id)}</pre>
<p class="muted small">or with git alone, from {escape(where)}:</p><pre class="wrap">{escape(commands)}</pre>"""
    return f'<section class="card" id="checkout"><h2>Continue on your laptop</h2>{body}</section>'
