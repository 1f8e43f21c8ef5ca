"""A task's preview and artifacts, served from its area of the data dir: never a path outside it,
and always with a sandboxing CSP, since the agent wrote them."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from honk.errors import NotFound
from honk.workflow.policy import TASK_ID_RE

PREVIEW_CSP = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"


def router() -> APIRouter:
    r = APIRouter()

    @r.get("/previews/{task_id}/{path:path}", include_in_schema=False)
    async def preview(task_id: str, request: Request, path: str = "") -> FileResponse:
        file = inside(request.app.state.settings.previews_dir, task_id, path or "index.html", index=True)
        # The preview is code the agent wrote: give it an opaque origin, never Honk's own.
        return FileResponse(file, headers={"Content-Security-Policy": PREVIEW_CSP})

    @r.get("/shots/{task_id}/{name}", include_in_schema=False)
    async def shot(task_id: str, name: str, request: Request) -> FileResponse:
        """A before/after screenshot or diff (PNG) of a task's running preview."""
        file = inside(request.app.state.settings.shots_dir, task_id, name)
        if file.suffix != ".png":
            raise NotFound(f"No such file: {name}")
        headers = {"Content-Security-Policy": PREVIEW_CSP, "X-Content-Type-Options": "nosniff"}
        return FileResponse(file, media_type="image/png", headers=headers)

    @r.get("/artifacts/{task_id}/{name}")
    async def artifact(task_id: str, name: str, request: Request) -> FileResponse:
        file = inside(request.app.state.settings.artifacts_dir, task_id, name)
        return FileResponse(file, filename=file.name, headers={"Content-Security-Policy": PREVIEW_CSP})

    return r


def inside(area: Path, task_id: str, rel: str, index: bool = False) -> Path:
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
