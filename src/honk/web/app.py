"""The ASGI app. Routes translate HTTP to TaskService calls and back; nothing else happens here."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

from fastapi import FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sse_starlette.sse import EventSourceResponse

from honk.access import Who
from honk.accounts import ANONYMOUS, SESSION_TTL_S, Accounts, Role, User
from honk.domain import AuditAction, AuditOutcome, ForgeRef, RepoRef, TaskState, TaskView
from honk.errors import Forbidden, NotFound, Unauthorized, UserFacingError
from honk.gate import Actor, FrontDoor
from honk.heap import settle_heap
from honk.metrics import ServerMetrics, StoreSnapshot
from honk.service import TaskService
from honk.settings import Settings
from honk.store import AuditEntry, AuditQuery
from honk.web import audit_page, pages, ui
from honk.web.schemas import ActorIn, FollowUpIn, Refusal, RepoIn, TaskIn
from honk.workflow.policy import TASK_ID_RE
from honk.workspace.git import redact_url

POLL_S = 0.25
SESSION_COOKIE = "honk_session"
CSRF_HEADER = "x-csrf-token"

PREVIEW_CSP = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"
MAX_EVENT_ID = 2**63 - 1  # the store's ids are SQLite integers


class SlackEvents(Protocol):
    """The Slack front door's HTTP side (bolt checks signatures and timestamps)."""

    async def handle(self, req: Request) -> Response: ...


@dataclass(frozen=True)
class WebParts:
    """What the web app is built on, made by the composition root for the server's life."""

    service: TaskService
    accounts: Accounts
    slack: SlackEvents | None = None


def create_app(settings: Settings, parts: Callable[[], AbstractAsyncContextManager[WebParts]]) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with parts() as made:
            app.state.service, app.state.accounts, app.state.slack = made.service, made.accounts, made.slack
            app.state.store_snapshot = StoreSnapshot()
            app.state.metrics.watch_store(app.state.store_snapshot)
            settle_heap()
            yield

    app = FastAPI(
        title="Honk",
        version="0.1.0",
        lifespan=lifespan,
        description="A self-hosted background coding agent: request, verify, preview, merge.",
        responses={"4XX": {"model": Refusal, "description": "Refused: `detail` says why."}},
    )
    app.state.metrics = ServerMetrics()

    @app.middleware("http")
    async def timed(request: Request, call_next):  # noqa: ANN001, ANN202 - starlette's types
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        if path not in ("/metrics", "/slack/events"):
            request.app.state.metrics.http.labels(path, request.method).observe(time.perf_counter() - started)
        return response

    def svc(request: Request) -> TaskService:
        return request.app.state.service

    async def user_of(request: Request) -> User:
        """Who is asking: an API token, else a session cookie (with CSRF on writes), else the demo's anonymous."""
        accounts: Accounts = request.app.state.accounts
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            user = await accounts.by_api_token(auth[7:].strip())
            if user is None:
                raise Unauthorized("That API token is not valid.")
            return user
        cookie = request.cookies.get(SESSION_COOKIE)
        user = await accounts.from_session(cookie)
        if user is not None:
            if request.method not in ("GET", "HEAD") and not accounts.csrf_ok(cookie, request.headers.get(CSRF_HEADER)):
                raise Forbidden("This request is missing its CSRF token; reload the page and try again.")
            return user
        if settings.anonymous:
            return ANONYMOUS
        raise Unauthorized(
            "Sign in first: ask an admin for a sign-in link (`honk user link EMAIL`), "
            "or send an API token (`Authorization: Bearer honk_…`)."
        )

    async def need(request: Request, role: Role) -> User:
        user = await user_of(request)
        if not user.role.allows(role):
            raise Forbidden(f"{user.email} is a {user.role.value}; this needs a {role.value}.")
        return user

    def actor(request: Request, user: User, by: str | None, header: str | None) -> Actor:
        """The demo's anonymous caller may name who it speaks for (the CLI does); people are themselves."""
        door: FrontDoor = "api"
        if request.headers.get("x-honk-client") == "cli":
            door = "cli"
        elif SESSION_COOKIE in request.cookies and not request.headers.get("authorization"):
            door = "web"
        if user is ANONYMOUS:
            name = by or header or settings.default_user
            return Actor(who=Who(identity=name, email=name if "@" in name else None), front_door=door, role=user.role)
        return Actor(who=Who(identity=user.email, email=user.email), front_door=door, role=user.role)

    @app.exception_handler(UserFacingError)
    async def user_facing(_: Request, e: UserFacingError) -> JSONResponse:
        return JSONResponse({"detail": e.message}, status_code=e.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'] if p != 'body') or 'body'}: {err['msg']}" for err in e.errors()
        )
        return JSONResponse({"detail": f"Invalid request: {problems}"}, status_code=422)

    @app.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        """Slack's Events API and interactivity (HTTP mode); bolt checks the signature and timestamp."""
        if request.app.state.slack is None:
            raise NotFound(
                "Slack HTTP events are not enabled on this server (set SLACK_BOT_TOKEN and "
                "SLACK_SIGNING_SECRET; Socket Mode needs no public endpoint)."
            )
        with request.app.state.metrics.slack_ack.time():
            return await request.app.state.slack.handle(request)

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus: tasks by state, queue depth, agent cost (from the store), Slack ack and HTTP latency."""
        await request.app.state.store_snapshot.refresh(*await svc(request).stats())
        return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/login/{token}", include_in_schema=False)
    async def login(token: str, request: Request) -> Response:
        """A one-time sign-in link: sets an HTTP-only session cookie, then goes home."""
        accounts: Accounts = request.app.state.accounts
        user = await accounts.redeem(token)
        if user is None:
            return HTMLResponse(
                pages.message(
                    "This sign-in link was already used or has expired.", "Ask for a new one: honk user link YOUR-EMAIL"
                ),
                status_code=400,
            )
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            accounts.session_cookie(user),
            max_age=SESSION_TTL_S,
            httponly=True,
            secure=settings.base_url.startswith("https://"),
            samesite="lax",
        )
        return response

    @app.get("/api/me")
    async def me(request: Request) -> dict[str, str]:
        """Who this request is, and (for a browser session) the CSRF token its writes must carry."""
        user = await user_of(request)
        cookie = request.cookies.get(SESSION_COOKIE)
        csrf = request.app.state.accounts.csrf_token(cookie) if cookie else ""
        return {"email": user.email, "name": user.name, "role": user.role.value, "csrf": csrf}

    app.include_router(ui.router(user_of))  # the web app's pages: /, /new, /repos, /tasks/{id}
    app.include_router(audit_page.router(user_of))  # /audit, for admins

    @app.get("/api/repos")
    async def list_repos(request: Request) -> list[RepoRef]:
        await user_of(request)
        return [_shown(r) for r in await svc(request).repos()]

    @app.post("/api/repos", status_code=201)
    async def add_repo(body: RepoIn, request: Request) -> RepoRef:
        await need(request, Role.admin)
        forge = ForgeRef(**body.forge.model_dump()) if body.forge else None
        return _shown(await svc(request).add_repo(body.name, body.url, body.branch, forge))

    @app.post(
        "/api/tasks",
        status_code=201,
        responses={
            200: {"model": TaskView, "description": "Submitted before with this request_id: that task, unchanged."}
        },
    )
    async def submit(
        body: TaskIn, request: Request, response: Response, x_honk_user: str | None = Header(default=None)
    ) -> TaskView:
        user = await user_of(request)
        view, created = await svc(request).submit(
            body.repo,
            body.text,
            actor(request, user, body.requested_by, x_honk_user),
            body.agent,
            body.model,
            body.request_id,
        )
        if not created:
            response.status_code = 200
        return view

    @app.get("/api/tasks")
    async def list_tasks(
        request: Request, repo: str | None = None, state: TaskState | None = None, limit: int = 100
    ) -> list[TaskView]:
        await user_of(request)
        return await svc(request).tasks(repo=repo, state=state, limit=min(max(limit, 1), 500))

    @app.get("/api/tasks/{task_id}")
    async def get_task(task_id: str, request: Request) -> TaskView:
        await user_of(request)
        return await svc(request).task(task_id)

    @app.post("/api/tasks/{task_id}/followup", status_code=202)
    async def follow_up(
        task_id: str, body: FollowUpIn, request: Request, x_honk_user: str | None = Header(default=None)
    ) -> TaskView:
        user = await user_of(request)
        return await svc(request).follow_up(task_id, body.text, actor(request, user, body.by, x_honk_user))

    @app.post("/api/tasks/{task_id}/merge", status_code=202)
    async def merge(
        task_id: str, request: Request, body: ActorIn | None = None, x_honk_user: str | None = Header(default=None)
    ) -> TaskView:
        user = await user_of(request)
        return await svc(request).merge(task_id, actor(request, user, body.by if body else None, x_honk_user))

    @app.post("/api/tasks/{task_id}/cancel", status_code=202)
    async def cancel(
        task_id: str, request: Request, body: ActorIn | None = None, x_honk_user: str | None = Header(default=None)
    ) -> TaskView:
        user = await user_of(request)
        return await svc(request).cancel(task_id, actor(request, user, body.by if body else None, x_honk_user))

    @app.get("/api/audit")
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

    @app.get(
        "/api/tasks/{task_id}/events",
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

        async def stream() -> AsyncIterator[dict[str, str]]:
            last = start
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

        return EventSourceResponse(stream(), ping=15)

    @app.get("/previews/{task_id}/{path:path}", include_in_schema=False)
    async def preview(task_id: str, path: str = "") -> FileResponse:
        file = _inside(settings.previews_dir, task_id, path or "index.html", index=True)
        # The preview is code the agent wrote: give it an opaque origin, never Honk's own.
        return FileResponse(file, headers={"Content-Security-Policy": PREVIEW_CSP})

    @app.get("/artifacts/{task_id}/{name}")
    async def artifact(task_id: str, name: str) -> FileResponse:
        file = _inside(settings.artifacts_dir, task_id, name)
        return FileResponse(file, filename=file.name, headers={"Content-Security-Policy": PREVIEW_CSP})

    @app.middleware("http")
    async def json_only_writes(request: Request, call_next):  # noqa: ANN001, ANN202 - starlette's types
        """State changes need a JSON body: a page (a preview, another site) cannot send one without a
        CORS preflight, which Honk never grants, so it cannot act for whoever is looking at it."""
        writes = request.method in ("POST", "PUT", "PATCH", "DELETE") and request.url.path.startswith("/api/")
        if writes and not request.headers.get("content-type", "").startswith("application/json"):
            return JSONResponse({"detail": "Send a JSON body (Content-Type: application/json)."}, status_code=415)
        return await call_next(request)

    return app


def _shown(repo: RepoRef) -> RepoRef:
    return repo.model_copy(update={"url": redact_url(repo.url)})


def _inside(area: Path, task_id: str, rel: str, index: bool = False) -> Path:
    """The file `rel` of a task's area, refusing anything (`..`, links) that resolves outside it."""
    if not TASK_ID_RE.fullmatch(task_id):
        raise NotFound(f"No such file: {rel}")
    base = (area / task_id).resolve()
    if not base.is_relative_to(area.resolve()):
        raise NotFound(f"No such file: {rel}")
    try:
        path = (base / rel).resolve()
        if index and path.is_dir():
            path = path / "index.html"
        found = path.is_relative_to(base) and path.is_file()
    except (OSError, ValueError):  # a name too long for the file system, or with a NUL in it
        found = False
    if not found:
        raise NotFound(f"No such file: {rel}")
    return path
