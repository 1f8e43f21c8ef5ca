"""The ASGI app: what every request goes through (timing, JSON-only writes, errors as `detail`), and
the routers that turn HTTP into TaskService calls and back (`api`, `auth`, `files`, `ui`, `audit_page`)."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from honk.accounts import Accounts
from honk.errors import NotFound, UserFacingError
from honk.heap import settle_heap
from honk.hooks.intake import HookIntake
from honk.metrics import ServerMetrics, StoreSnapshot
from honk.service import TaskService
from honk.settings import Settings
from honk.triggering import Triggering
from honk.web import api, audit_page, auth, files, ui
from honk.web.preview_origin import PreviewOrigin
from honk.web.preview_proxy import PreviewProxy
from honk.web.schemas import Refusal


class SlackEvents(Protocol):
    """The Slack front door's HTTP side (bolt checks signatures and timestamps)."""

    async def handle(self, req: Request) -> Response: ...


@dataclass(frozen=True)
class WebParts:
    """What the web app is built on, made by the composition root for the server's life."""

    service: TaskService
    accounts: Accounts
    hooks: HookIntake  # forge webhooks in (honk.web.hooks)
    triggers: Triggering  # trigger URLs (honk.web.triggers)
    slack: SlackEvents | None = None


def create_app(
    settings: Settings,
    parts: Callable[[], AbstractAsyncContextManager[WebParts]],
    routers: Sequence[APIRouter] = (),
) -> PreviewOrigin:
    """Honk's app, behind the dispatch that sends each preview origin's requests to that task's preview
    (honk.web.preview_origin): nothing of Honk's is reachable from a preview's host. `routers`: more the
    composition root mounts (a delivered app's install pages, honk.web.install)."""
    proxy = PreviewProxy()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with parts() as made:
            app.state.service, app.state.accounts, app.state.slack = made.service, made.accounts, made.slack
            app.state.hooks, app.state.triggering = made.hooks, made.triggers
            app.state.store_snapshot = StoreSnapshot()
            app.state.metrics.watch_store(app.state.store_snapshot)
            settle_heap()
            try:
                yield
            finally:
                await proxy.aclose()

    app = FastAPI(
        title="Honk",
        version="0.1.0",
        lifespan=lifespan,
        description="A self-hosted background coding agent: request, verify, preview, merge.",
        responses={"4XX": {"model": Refusal, "description": "Refused: `detail` says why."}},
    )
    app.state.settings, app.state.metrics = settings, ServerMetrics()
    app.add_middleware(Guarded)
    app.add_exception_handler(UserFacingError, _user_facing)  # pyright: ignore[reportArgumentType]
    app.add_exception_handler(RequestValidationError, _invalid)  # pyright: ignore[reportArgumentType]
    app.include_router(_operations())
    app.include_router(auth.router())  # /login/{token}, /api/me
    app.include_router(ui.router(auth.user_of))  # the web app's pages: /, /new, /repos, /tasks/{id}
    app.include_router(audit_page.router(auth.user_of))  # /audit, for admins
    app.include_router(api.router())  # /api/repos, /api/tasks…, /api/audit
    app.include_router(files.router())  # /previews, /artifacts
    for more in routers:
        app.include_router(more)
    return PreviewOrigin(app, settings, proxy)


def _operations() -> APIRouter:
    r = APIRouter()

    @r.get("/healthz")
    async def healthz() -> dict[str, bool]:
        return {"ok": True}

    @r.post("/slack/events", include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        """Slack's Events API and interactivity (HTTP mode); bolt checks the signature and timestamp."""
        if request.app.state.slack is None:
            raise NotFound(
                "Slack HTTP events are not enabled on this server (set SLACK_BOT_TOKEN and "
                "SLACK_SIGNING_SECRET; Socket Mode needs no public endpoint)."
            )
        with request.app.state.metrics.slack_ack.time():
            return await request.app.state.slack.handle(request)

    @r.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus: tasks by state, queue depth, agent cost (from the store), Slack ack and HTTP latency."""
        await request.app.state.store_snapshot.refresh(*await api.svc(request).stats())
        return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return r


class Guarded:
    """What every request goes through before Honk's routes: a write from another origin is refused, then a
    write that is not JSON, then the rest is timed (Prometheus, by route). One plain ASGI layer: Starlette's
    `@app.middleware("http")` runs each such function as a task with streams between it and the app, which
    cost a webhook's answer more than its own work (docs/benchmarks.md, "The pull request as a front door")."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if refused := _cross_origin_write(request) or _not_json_write(request):
            await refused(scope, receive, send)
            return
        started, metrics = time.perf_counter(), request.app.state.metrics

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":  # the route is known once the router has run
                path = getattr(scope.get("route"), "path", "unmatched")
                if path not in UNTIMED:
                    metrics.http.labels(path, request.method).observe(time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, timed)


UNTIMED = frozenset({"/metrics", "/slack/events"})  # each has its own measure, or would time itself
_FOLLOW_UP = re.compile(r"/api/tasks/[^/]+/followup")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _not_json_write(request: Request) -> Response | None:
    """State changes need a JSON body: a page (a preview, another site) cannot send one without a
    CORS preflight, which Honk never grants, so it cannot act for whoever is looking at it."""
    path = request.url.path
    if request.method not in WRITES or not path.startswith("/api/"):
        return None
    kind = request.headers.get("content-type", "")
    # Files come as multipart, which a form can send too: it must then carry a header no form can add.
    upload = kind.startswith("multipart/form-data") and (path == "/api/tasks" or _FOLLOW_UP.fullmatch(path) is not None)
    if upload and request.headers.get("x-honk-client"):
        return None
    if upload:
        return JSONResponse(
            {"detail": "Send files with an X-Honk-Client header (any value), as Honk's CLI and web app do."},
            status_code=415,
        )
    if not kind.startswith("application/json"):
        return JSONResponse({"detail": "Send a JSON body (Content-Type: application/json)."}, status_code=415)
    return None


def _cross_origin_write(request: Request) -> Response | None:
    """Honk changes state only for its own pages, its CLI and servers (Slack, forges): never for a page of
    another origin — a preview (an app an agent wrote), a static preview's sandbox, any other site. Browsers
    say where a request comes from (Origin, Sec-Fetch-Site); other clients send neither. This holds in the
    anonymous embedded mode too, where no session or CSRF token would stop such a page."""
    if request.method not in WRITES:
        return None
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if site in ("cross-site", "same-site") or (origin is not None and origin.lower() not in _own_origins(request)):
        return JSONResponse(
            {"detail": f"Refused: a page of another origin ({origin or site}) cannot change anything in Honk."},
            status_code=403,
        )
    return None


def _own_origins(request: Request) -> set[str]:
    """Honk's origin as its public URL says, and as this request reached it."""
    public = urlsplit(request.app.state.settings.base_url)
    own = {f"{public.scheme}://{public.netloc}".lower()}
    if host := request.headers.get("host"):
        own.add(f"{request.url.scheme}://{host}".lower())
    return own


async def _user_facing(_: Request, e: UserFacingError) -> JSONResponse:
    return JSONResponse({"detail": e.message}, status_code=e.status_code)


async def _invalid(_: Request, e: RequestValidationError) -> JSONResponse:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc'] if p != 'body') or 'body'}: {err['msg']}" for err in e.errors()
    )
    return JSONResponse({"detail": f"Invalid request: {problems}"}, status_code=422)
