"""The CLI's HTTP client: every command goes through the same API as the other front doors."""

from __future__ import annotations

import json
import mimetypes
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import httpx

from honk.errors import UserFacingError
from honk.events import StoredEvent


class ApiClient:
    def __init__(self, base_url: str, user: str | None = None, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"X-Honk-Client": "cli"}
        if user:
            headers["X-Honk-User"] = user
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=self.base_url, headers=headers, timeout=60.0)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        files: list[Path] | None = None,
    ) -> Any:
        """`files` go as multipart/form-data beside the JSON body (in its `request` part)."""
        try:
            if files:
                r = self.http.request(
                    method, path, params=params, data={"request": json.dumps(body)}, files=_parts(files)
                )
            else:
                r = self.http.request(method, path, json=body, params=params)
        except httpx.ConnectError as e:
            raise UserFacingError(
                f"Honk is not running at {self.base_url} ({e}). Start it with `make up` or set HONK_URL."
            ) from e
        if r.status_code >= 400:
            try:
                detail = r.json().get("detail", r.text)
            except ValueError:
                detail = r.text
            raise UserFacingError(str(detail))
        return None if r.status_code == 204 else r.json()

    def events(self, task_id: str, follow: bool, after: int = 0) -> Iterator[StoredEvent]:
        params: dict[str, str | int] = {"follow": str(follow).lower(), "after": after}
        try:
            with self.http.stream("GET", f"/api/tasks/{task_id}/events", params=params, timeout=None) as r:
                if r.status_code >= 400:
                    r.read()
                    raise UserFacingError(str(r.json().get("detail", r.text)))
                for line in r.iter_lines():
                    if line.startswith("data:"):
                        yield StoredEvent.model_validate(json.loads(line[5:].strip()))
        except httpx.ConnectError as e:
            raise UserFacingError(f"Honk is not running at {self.base_url} ({e}).") from e


def default_url() -> str:
    if url := os.environ.get("HONK_URL"):
        return url
    from honk.settings import Settings

    return Settings().base_url


def _parts(files: list[Path]) -> list[tuple[str, tuple[str, bytes, str]]]:
    parts = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as e:
            raise UserFacingError(f"Cannot read {path}: {e.strerror or e}.") from e
        parts.append(("files", (path.name, data, mimetypes.guess_type(path.name)[0] or "application/octet-stream")))
    return parts


def api_of(ctx: click.Context) -> ApiClient:
    """The client for a command's context: the root command's --url, --user and --token (a command run alone
    in a test has no root options: the settings' URL)."""
    obj = ctx.find_root().obj or {}
    return ApiClient(obj.get("url") or default_url(), obj.get("user"), obj.get("token"))
