"""The web server as `honk server` builds it (honk.composition.server), run by a real uvicorn in the test's
event loop, so a test reaches its TaskService and store as the server does; with a preview's server (a
small app on a unix socket) registered for a task as a worker registers one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from preview_upstream import Upstream

from honk.accounts import Accounts
from honk.domain import PreviewEndpoint, RepoRef, TaskRequest
from honk.ports import free_port
from honk.service import TaskService
from honk.settings import Settings
from honk.workflow.policy import task_id_for
from honk.workflow.records import TaskInput
from uvicorn_server import running_server


@dataclass
class Served:
    settings: Settings
    service: TaskService
    accounts: Accounts
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def host(self, task_id: str) -> str:
        """The Host a browser sends to the task's preview origin."""
        return f"{task_id}.localhost:{self.port}"

    async def task(self, name: str, requested_by: str = "ana@example.com") -> str:
        """A task in the store, as a request would have made it, and its workflow started on a queue no worker
        polls (so what the server signals it — a preview's wake — is in its history, and nothing runs it)."""
        task_id = task_id_for(f"{name}-{uuid.uuid4().hex}")
        req = TaskRequest(
            task_id=task_id,
            request_id=name,
            repo=RepoRef(name="calc", url="/nowhere"),
            text="make it blue",
            requested_by=requested_by,
        )
        await self.service.store.create_task(req, f"honk/{task_id}")
        await self.service.client.start_workflow(
            "HonkTask", TaskInput(request=req), id=task_id, task_queue=f"nobody-{uuid.uuid4().hex[:8]}"
        )
        return task_id

    async def signals(self, task_id: str) -> list[str]:
        """The names of the signals the task's workflow got."""
        history = await self.service.client.get_workflow_handle(task_id).fetch_history()
        return [
            e.workflow_execution_signaled_event_attributes.signal_name
            for e in history.events
            if e.HasField("workflow_execution_signaled_event_attributes")
        ]

    async def run_preview(self, task_id: str, socket_path: Path) -> None:
        """Registered as a worker registers a running preview."""
        await self.service.previews.register(task_id, "w1", "running", PreviewEndpoint(address=f"unix:{socket_path}"))

    async def cookie(self, task_id: str) -> str:
        """The Cookie header a browser sends after opening a fresh link to the task's preview."""
        grant = self.service.links.check(
            (await self.service.preview_link(task_id)).split("t=", 1)[1], task_id, await self.generation(task_id)
        )
        value, _ = self.service.links.stay(grant)  # type: ignore[arg-type]
        return f"honk_preview={value}"

    async def generation(self, task_id: str) -> int:
        info = await self.service.previews.get(task_id)
        return info.link_generation if info else 0


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Served]:
    async with running_server(settings) as app:
        state = app.honk.state
        yield Served(settings=settings, service=state.service, accounts=state.accounts, port=settings.server.port)


def settings_for(tmp_path: Path, temporal_address: str, **changes: object) -> Settings:
    defaults: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "host": "127.0.0.1",
        "port": free_port(),
        "temporal_address": temporal_address,
        "task_queue": f"test-{uuid.uuid4().hex[:8]}",
        "anonymous": True,
    }
    return Settings().changed(**(defaults | changes))


@pytest.fixture
async def honk(tmp_path: Path, temporal) -> AsyncIterator[Served]:
    async with serving(settings_for(tmp_path, temporal.address)) as served:
        yield served


@pytest.fixture
async def upstream(tmp_path: Path) -> AsyncIterator[Upstream]:
    app = await Upstream(tmp_path / "app.sock").start()
    yield app
    await app.stop()
