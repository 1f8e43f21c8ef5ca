"""Each task's running preview at its own origin, `<task>.<preview domain>[:port]`, in front of Honk's app.

A request is dispatched on its Host before anything of Honk's sees it: one for a preview origin never
reaches Honk's pages, API, Slack, hook or artifact routes (the app under preview is code an agent wrote;
it must not be able to drive Honk), and Honk's session cookie, host-only on Honk's own origin, is never
sent here. A preview lets in whoever holds its cookie, set by a signed link (`/__honk/enter?t=…`: the
task page's, made for a signed-in person, or Slack's); everything else gets a page saying what to do.
A stopped or unreachable preview is woken, with a page that reloads itself until it answers.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import FastAPI

from honk.domain import PreviewInfo
from honk.errors import NotFound, UserFacingError
from honk.preview.endpoint import PreviewUnreachable
from honk.preview_links import COOKIE, ENTER_PATH, STAY, LinkRefused
from honk.service import TaskService
from honk.settings import Settings
from honk.web import preview_pages as pages
from honk.web.preview_proxy import PreviewProxy
from honk.workflow.policy import TASK_ID_RE

log = logging.getLogger("honk.preview")

CACHE_S = 2.0  # a preview's state and links' generation, as read this recently, will do for a request
MAX_HOST = 300  # a real preview host is ~30 characters over the domain's
MAX_NEXT = 2000
HOST_RE = re.compile(r"^(?P<name>[a-z0-9.-]+?)\.?(?::\d{1,5})?$")
Scope = dict[str, Any]


class PreviewOrigin:
    """The server's ASGI app: preview hosts to their preview, every other request to Honk's app."""

    def __init__(self, honk: FastAPI, settings: Settings, proxy: PreviewProxy) -> None:
        self.honk, self.settings, self.proxy = honk, settings, proxy
        self.suffix = "." + settings.preview_domain
        public = urlsplit(settings.base_url)
        self.honk_host = (public.hostname or "").lower()
        self.secure = public.scheme == "https"
        self._background: set[asyncio.Future[Any]] = set()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            task_id = self.preview_of(scope)
            if task_id is not None:
                await self.serve(task_id, scope, receive, send)
                return
        await self.honk(scope, receive, send)

    def preview_of(self, scope: Scope) -> str | None:
        """The task whose preview the Host names; "" for a preview host that names none (malformed, too
        long, not a task id); None for Honk's own (any host not under the preview domain)."""
        raw = next((v for k, v in scope["headers"] if k == b"host"), None)
        if raw is None:
            return None
        host = raw.decode("latin-1").lower()
        well_formed = HOST_RE.fullmatch(host) if len(host) <= MAX_HOST else None
        if well_formed is None:  # Honk's own may be an IPv6 address; anything else naming the domain is not
            return "" if self.suffix + ":" in host or host.endswith(self.suffix) else None
        host = well_formed["name"]
        if host == self.honk_host or not host.endswith(self.suffix):
            return None
        label = host[: -len(self.suffix)]
        return label if TASK_ID_RE.fullmatch(label) else ""

    @property
    def service(self) -> TaskService:
        return self.honk.state.service

    def task_page(self, task_id: str) -> str:
        """Where a signed-in person gets into the preview (Honk's origin makes them a fresh link)."""
        return f"{self.settings.base_url}/tasks/{task_id}/preview"

    async def serve(self, task_id: str, scope: Scope, receive: Any, send: Any) -> None:
        websocket = scope["type"] == "websocket"
        if not task_id or scope["path"].startswith("/__honk/") and scope["path"] != ENTER_PATH:
            await self.refuse(scope, send, 404, pages.no_preview())
            return
        if scope["path"] == ENTER_PATH and not websocket:
            await self.enter(task_id, scope, send)
            return
        info = await self.service.preview(task_id, max_age_s=CACHE_S)
        verdict = self.service.links.check(_cookie(scope), task_id, info.link_generation if info else 0, kind=STAY)
        if isinstance(verdict, LinkRefused):
            await self.refused(task_id, verdict, scope, send, link=False)
            return
        self._later(self.service.touch_preview(task_id))  # the idle stop counts from here
        if info is not None and info.state == "running" and info.endpoint is not None:
            try:
                if websocket:
                    await self.proxy.websocket(info.endpoint, task_id, scope, receive, send)
                else:
                    await self.proxy.http(info.endpoint, task_id, scope, receive, send)
                return
            except PreviewUnreachable as e:
                log.info("preview %s is registered but unreachable (%s): waking it", task_id, e)
        await self.not_running(task_id, info, scope, send)

    async def not_running(self, task_id: str, info: PreviewInfo | None, scope: Scope, send: Any) -> None:
        """Failed: why, and what to fix. Otherwise (never started, stopped, unreachable, starting): woken, and
        a page that reloads itself until the preview answers."""
        if info is not None and info.state == "failed":
            await self.refuse(scope, send, 502, pages.failed(info.detail, f"{self.settings.base_url}/tasks/{task_id}"))
            return
        try:
            if info is None or info.state != "starting":
                await self.service.wake_preview(task_id)
        except UserFacingError as e:
            await self.refuse(scope, send, 503, pages.unavailable(e.message))
            return
        await self.refuse(scope, send, 503, pages.starting(), [(b"retry-after", str(pages.RETRY_S).encode())])

    async def enter(self, task_id: str, scope: Scope, send: Any) -> None:
        """A signed link: its cookie for this origin, then the page it was for (a path here, never elsewhere)."""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), max_num_fields=10)
        info = await self.service.preview(task_id)  # never cached: a revoked link must stop at once
        generation = info.link_generation if info else 0
        verdict = self.service.links.check(query.get("t", [""])[0], task_id, generation)
        if isinstance(verdict, LinkRefused):
            await self.refused(task_id, verdict, scope, send, link=True)
            return
        value, max_age = self.service.links.stay(verdict)
        secure = "; Secure" if self.secure or scope.get("scheme") == "https" else ""
        # No Domain: the cookie is this preview origin's alone (not Honk's, not another task's).
        cookie = f"{COOKIE}={value}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{secure}"
        location = safe_next(query.get("next", ["/"])[0])
        await pages.send_page(
            send,
            303,
            b"",
            [(b"location", location.encode("ascii")), (b"set-cookie", cookie.encode("ascii"))],
        )

    async def refused(self, task_id: str, verdict: LinkRefused, scope: Scope, send: Any, link: bool) -> None:
        """401 (no cookie yet) or 403 (a link or cookie that does not work here), or 404 for no such task."""
        try:
            await self.service.task(task_id)
        except NotFound:
            await self.refuse(scope, send, 404, pages.no_preview())
            return
        status = 403 if link or _cookie(scope) else 401
        await self.refuse(scope, send, status, pages.refused(verdict.why, self.task_page(task_id)))

    async def refuse(
        self, scope: Scope, send: Any, status: int, page: bytes, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        if scope["type"] == "websocket":  # before the handshake: the browser sees a refused upgrade
            await send({"type": "websocket.close", "code": 1008 if status < 500 else 1013})
            return
        await pages.send_page(send, status, page, headers)

    def _later(self, work: Any) -> None:
        async def logged() -> None:
            try:
                await work
            except Exception:  # the store busy for a moment: the next touch records it
                log.warning("recording a preview's access failed", exc_info=True)

        task = asyncio.ensure_future(logged())
        self._background.add(task)
        task.add_done_callback(self._background.discard)


def safe_next(wanted: str) -> str:
    """Where an enter link goes after: a path on this origin (never `//elsewhere`, a scheme, or a header)."""
    if (
        not wanted.startswith("/")
        or wanted.startswith(("//", "/\\"))
        or len(wanted) > MAX_NEXT
        or any(c in wanted for c in "\\\r\n\t\0")
    ):
        return "/"
    return quote(wanted, safe="/?&=%#:;,+@!$'()*-._~")


def _cookie(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name != b"cookie":
            continue
        for part in value.decode("latin-1").split(";"):
            key, _, val = part.strip().partition("=")
            if key == COOKIE and val:
                return val.strip()
    return None
