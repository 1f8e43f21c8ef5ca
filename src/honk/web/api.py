"""The HTTP API under /api: repos, their secrets and allowed hosts, tasks, their live events, the audit log. Each route
turns HTTP into one TaskService call and back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Header, Path, Query, Request, Response
from sse_starlette.sse import EventSourceResponse

from honk.accounts import Role
from honk.domain import (
    AuditAction,
    AuditOutcome,
    DeployRecord,
    ForgeRef,
    HostAllowed,
    RepoNetwork,
    RepoRef,
    SecretInfo,
    TaskState,
    TaskView,
)
from honk.service import TaskService
from honk.store import AuditEntry, AuditQuery
from honk.web.auth import actor, need, user_of
from honk.web.schemas import (
    ActorIn,
    PlanApprovalIn,
    PlanRevisionIn,
    PreviewLinkIn,
    PreviewLinkOut,
    PreviewRevoked,
    RepoIn,
)
from honk.web.uploads import (
    FOLLOW_UP_BODY,
    HOST_BODY,
    SECRET_BODY,
    TASK_BODY,
    follow_up_body,
    host_body,
    secret_body,
    task_body,
)
from honk.workspace.git import redact_url

POLL_S = 0.25
MAX_EVENT_ID = 2**63 - 1  # the store's ids are SQLite integers


def svc(request: Request) -> TaskService:
    return request.app.state.service


def router() -> APIRouter:
    r = APIRouter(prefix="/api")

    @r.get("/repos")
    async def list_repos(request: Request) -> list[RepoRef]:
        await user_of(request)
        return [_shown(repo) for repo in await svc(request).repos()]

    @r.post("/repos", status_code=201)
    async def add_repo(body: RepoIn, request: Request) -> RepoRef:
        await need(request, Role.admin)
        forge = ForgeRef(**body.forge.model_dump()) if body.forge else None
        return _shown(await svc(request).add_repo(body.name, body.url, body.branch, forge))

    @r.get("/repos/{repo}/secrets")
    async def list_secrets(
        request: Request, repo: str = Path(max_length=100), x_honk_user: str | None = Header(default=None)
    ) -> list[SecretInfo]:
        """The repo's secrets: names, and when and by whom each was set, never values (its admins only)."""
        user = await user_of(request)
        return await svc(request).secrets(actor(request, user, None, x_honk_user), repo)

    @r.put("/repos/{repo}/secrets/{name}", openapi_extra={"requestBody": SECRET_BODY})
    async def set_secret(
        request: Request,
        repo: str = Path(max_length=100),
        name: str = Path(max_length=100),
        x_honk_user: str | None = Header(default=None),
    ) -> SecretInfo:
        """Sets or replaces a secret from a JSON `{"value": …}` (the repo's admins only). The value is kept
        encrypted and never shown again."""
        user = await user_of(request)
        body = await secret_body(request)
        return await svc(request).set_secret(actor(request, user, None, x_honk_user), repo, name, body.value)

    @r.delete("/repos/{repo}/secrets/{name}", status_code=204)
    async def remove_secret(
        request: Request,
        repo: str = Path(max_length=100),
        name: str = Path(max_length=100),
        x_honk_user: str | None = Header(default=None),
    ) -> Response:
        """Removes a secret (the repo's admins only)."""
        user = await user_of(request)
        await svc(request).remove_secret(actor(request, user, None, x_honk_user), repo, name)
        return Response(status_code=204)

    @r.get("/repos/{repo}/network")
    async def network(
        request: Request, repo: str = Path(max_length=100), x_honk_user: str | None = Header(default=None)
    ) -> RepoNetwork:
        """The hosts admins allowed the repo (with who and when) and the operator's ceiling (its admins only).
        The repo's `.honk.toml` lists more, read per task."""
        user = await user_of(request)
        return await svc(request).network(actor(request, user, None, x_honk_user), repo)

    @r.post("/repos/{repo}/network/allow", openapi_extra={"requestBody": HOST_BODY})
    async def allow_host(
        request: Request, repo: str = Path(max_length=100), x_honk_user: str | None = Header(default=None)
    ) -> HostAllowed:
        """Allows the repo's later sandboxes of some phases to reach a host, from a JSON
        `{"host": …, "phases": […]}` (its admins only; within the operator's ceiling). Nothing is re-run."""
        user = await user_of(request)
        body = await host_body(request)
        return await svc(request).allow_host(actor(request, user, None, x_honk_user), repo, body.host, body.phases)

    @r.delete("/repos/{repo}/network/allow/{host}", status_code=204)
    async def disallow_host(
        request: Request,
        repo: str = Path(max_length=100),
        host: str = Path(max_length=300),
        x_honk_user: str | None = Header(default=None),
    ) -> Response:
        """Removes a host admins allowed the repo, for every phase (its admins only)."""
        user = await user_of(request)
        await svc(request).disallow_host(actor(request, user, None, x_honk_user), repo, host)
        return Response(status_code=204)

    @r.post(
        "/tasks",
        status_code=201,
        responses={
            200: {"model": TaskView, "description": "Submitted before with this request_id: that task, unchanged."}
        },
        openapi_extra={"requestBody": TASK_BODY},
    )
    async def submit(request: Request, response: Response, x_honk_user: str | None = Header(default=None)) -> TaskView:
        """A JSON `TaskIn`; or, with files (screenshots, logs), `multipart/form-data` with the JSON in a
        `request` part and each file in a `files` part (send an `X-Honk-Client` header with it)."""
        body, files = await task_body(request)
        user = await user_of(request)
        view, created = await svc(request).submit(
            body.repo,
            body.text,
            actor(request, user, body.requested_by, x_honk_user),
            body.agent,
            body.model,
            body.request_id,
            files=files,
            plan=body.plan,
            also=body.also,
        )
        if not created:
            response.status_code = 200
        return view

    @r.get("/tasks")
    async def list_tasks(
        request: Request, repo: str | None = None, state: TaskState | None = None, limit: int = 100
    ) -> list[TaskView]:
        await user_of(request)
        return await svc(request).tasks(repo=repo, state=state, limit=min(max(limit, 1), 500))

    @r.get("/tasks/{task_id}")
    async def get_task(task_id: str, request: Request) -> TaskView:
        await user_of(request)
        return await svc(request).task(task_id)

    @r.post("/tasks/{task_id}/followup", status_code=202, openapi_extra={"requestBody": FOLLOW_UP_BODY})
    async def follow_up(task_id: str, request: Request, x_honk_user: str | None = Header(default=None)) -> TaskView:
        """A JSON `FollowUpIn`; or, with files, multipart as for a new task (an `X-Honk-Client` header)."""
        body, files = await follow_up_body(request)
        user = await user_of(request)
        return await svc(request).follow_up(task_id, body.text, actor(request, user, body.by, x_honk_user), files)

    @r.post("/tasks/{task_id}/merge", status_code=202)
    async def merge(
        task_id: str, request: Request, body: ActorIn | None = None, x_honk_user: str | None = Header(default=None)
    ) -> TaskView:
        user = await user_of(request)
        return await svc(request).merge(task_id, actor(request, user, body.by if body else None, x_honk_user))

    @r.post("/tasks/{task_id}/plan/approve", status_code=202)
    async def approve_plan(
        task_id: str,
        request: Request,
        body: PlanApprovalIn | None = None,
        x_honk_user: str | None = Header(default=None),
    ) -> TaskView:
        """Approves the plan waiting on the task: the agent carries it out (the requester, or a merger)."""
        user = await user_of(request)
        who = actor(request, user, body.by if body else None, x_honk_user)
        return await svc(request).approve_plan(task_id, who, body.version if body else None)

    @r.post("/tasks/{task_id}/plan/revise", status_code=202)
    async def revise_plan(
        task_id: str, body: PlanRevisionIn, request: Request, x_honk_user: str | None = Header(default=None)
    ) -> TaskView:
        """Asks the agent for a new plan, with what should change."""
        user = await user_of(request)
        return await svc(request).revise_plan(
            task_id, body.text, actor(request, user, body.by, x_honk_user), body.version
        )

    @r.post("/tasks/{task_id}/cancel", status_code=202)
    async def cancel(
        task_id: str, request: Request, body: ActorIn | None = None, x_honk_user: str | None = Header(default=None)
    ) -> TaskView:
        user = await user_of(request)
        return await svc(request).cancel(task_id, actor(request, user, body.by if body else None, x_honk_user))

    @r.post("/tasks/{task_id}/deploy", status_code=202)
    async def deploy(
        task_id: str, request: Request, body: ActorIn | None = None, x_honk_user: str | None = Header(default=None)
    ) -> TaskView:
        """Starts a merged task's held deploy (held because its merger may not deploy, or for a freeze):
        someone the repo lets deploy."""
        user = await user_of(request)
        return await svc(request).deploy(task_id, actor(request, user, body.by if body else None, x_honk_user))

    @r.post("/tasks/{task_id}/revert", status_code=202)
    async def revert(
        task_id: str, request: Request, body: ActorIn | None = None, x_honk_user: str | None = Header(default=None)
    ) -> TaskView:
        """Starts a task that reverts a merged task's change (the same checks and merge policy, then the
        deploy); returns that task."""
        user = await user_of(request)
        return await svc(request).revert(task_id, actor(request, user, body.by if body else None, x_honk_user))

    @r.get("/repos/{repo}/deploys")
    async def deploys(
        request: Request, repo: str = Path(max_length=100), limit: int = Query(default=50, ge=1, le=500)
    ) -> list[DeployRecord]:
        """The repo's deploys, newest first: who, which commit, when, what came of it, the live link."""
        await user_of(request)
        return await svc(request).deploys(repo, limit)

    @r.post("/tasks/{task_id}/preview/link")
    async def preview_link(task_id: str, request: Request, body: PreviewLinkIn | None = None) -> PreviewLinkOut:
        """A signed link to the task's running preview, for someone without a Honk account (a phone, a
        colleague): it works for `days` (default HONK_PREVIEW_LINK_DAYS), until the task's links are revoked."""
        await user_of(request)
        service = svc(request)
        days = body.days if body and body.days else service.settings.previews.link_days
        url = await service.preview_link(task_id, ttl_s=days * 86_400)
        return PreviewLinkOut(url=url, expires_at=datetime.now(UTC) + timedelta(days=days))

    @r.post("/tasks/{task_id}/preview/revoke")
    async def revoke_preview_links(
        task_id: str, request: Request, body: ActorIn | None = None, x_honk_user: str | None = Header(default=None)
    ) -> PreviewRevoked:
        """Every link to the task's preview made so far stops working, and every browser they let in is out
        (the requester, or someone who may merge there)."""
        user = await user_of(request)
        who = actor(request, user, body.by if body else None, x_honk_user)
        return PreviewRevoked(generation=await svc(request).revoke_preview_links(who, task_id))

    @r.get("/audit")
    async def audit(
        request: Request,
        actor: str | None = None,
        action: AuditAction | None = None,
        outcome: AuditOutcome | None = None,
        repo: str | None = None,
        task: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 200,
    ) -> list[AuditEntry]:
        """The audit log, newest first (admins only)."""
        await need(request, Role.admin)
        query = AuditQuery(
            actor=actor,
            action=action,
            outcome=outcome,
            repo=repo,
            task_id=task,
            since=since,
            until=until,
            limit=min(max(limit, 1), 10_000),
        )
        return await svc(request).audit(query)

    @r.get(
        "/tasks/{task_id}/events",
        response_class=EventSourceResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def events(
        task_id: str,
        request: Request,
        after: int = Query(default=0, ge=0, le=MAX_EVENT_ID),
        follow: bool = True,
        last_event_id: str | None = Header(default=None),
    ) -> EventSourceResponse:
        """Server-sent events: every stored event of the task, then live ones until the task ends."""
        service = svc(request)
        await user_of(request)
        await service.task(task_id)
        resume = last_event_id or ""
        start = int(resume) if resume.isascii() and resume.isdigit() and int(resume) <= MAX_EVENT_ID else after
        return EventSourceResponse(_stream(service, request, task_id, start, follow), ping=15)

    return r


async def _stream(
    service: TaskService, request: Request, task_id: str, after: int, follow: bool
) -> AsyncIterator[dict[str, str]]:
    last = after
    while True:
        batch = await service.events(task_id, after_id=last)
        for ev in batch:
            last = ev.id
            data = ev.model_dump(mode="json") | {"line": ev.event.line()}
            yield {"id": str(ev.id), "event": ev.event.kind, "data": json.dumps(data)}
        if batch:
            continue
        task = await service.task(task_id)
        if not follow or task.state.terminal:
            # One more read: events written just before the state turned terminal.
            if not await service.events(task_id, after_id=last):
                return
            continue
        if await request.is_disconnected():
            return
        await asyncio.sleep(POLL_S)


def _shown(repo: RepoRef) -> RepoRef:
    return repo.model_copy(update={"url": redact_url(repo.url)})
