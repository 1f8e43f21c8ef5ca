"""`POST /hooks/github` and `POST /hooks/gitlab`: a forge's webhook deliveries, read within a size cap and
handed to honk.hooks.intake, which checks, stores and hands them on. The forge is answered with a status
and a one-line `detail` (shown in its delivery log), nothing else.

Mounted by the composition root (`routers=[hooks.router()]`), which also builds the intake (`WebParts.hooks`):
the server hands on the deliveries Temporal missed with the same one.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from honk.domain import ForgeKind
from honk.hooks.intake import Answer, HookIntake
from honk.settings import Settings


def router() -> APIRouter:
    r = APIRouter(prefix="/hooks", include_in_schema=False)

    @r.post("/github")
    async def github(request: Request) -> Response:
        """GitHub's deliveries (`X-GitHub-Event`, `X-GitHub-Delivery`, `X-Hub-Signature-256`)."""
        return await _take(request, "github")

    @r.post("/gitlab")
    async def gitlab(request: Request) -> Response:
        """GitLab's deliveries (`X-Gitlab-Event`, `X-Gitlab-Event-UUID`, `X-Gitlab-Token`)."""
        return await _take(request, "gitlab")

    return r


async def _take(request: Request, forge: ForgeKind) -> Response:
    intake = _intake(request)
    if refused := intake.enabled(forge):
        return _answer(refused)
    settings: Settings = request.app.state.settings
    body = await read_capped(request, settings.hooks.hook_max_bytes)
    if body is None:
        cap = settings.hooks.hook_max_bytes
        return _answer(Answer(status=413, detail=f"Refused: the delivery is larger than {cap:,} bytes."))
    return _answer(await intake.take(forge, request.headers, body))


async def read_capped(request: Request, cap: int) -> bytes | None:
    """The request's body, or None when it is longer than `cap` bytes: then at most `cap` + 1 of it was
    kept, and none at all when its Content-Length said so up front."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk[: cap + 1 - len(body)]
        if len(body) > cap:
            return None
    return bytes(body)


def _intake(request: Request) -> HookIntake:
    return request.app.state.hooks  # the composition root's (WebParts.hooks)


def _answer(answer: Answer) -> Response:
    if answer.status == 204:
        return Response(status_code=204)  # a 204 has no body
    return JSONResponse({"detail": answer.detail}, status_code=answer.status)
