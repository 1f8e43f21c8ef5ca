"""A worker's previews for tests: real bubblewrap (or none, HONK_SANDBOX=off), a real SQLite store, and
workspaces holding the fixture dev server (apps/app.py), each run marked so the process table shows it."""

from __future__ import annotations

import asyncio
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from honk.domain import PreviewSpec, Workspace
from honk.egress.proxy import EgressProxy
from honk.preview.endpoint import open_preview_stream
from honk.preview.host import PreviewHost
from honk.sandbox import Sandbox, SandboxConfig
from honk.store import PreviewRegistry, Store

APP = Path(__file__).with_name("apps") / "app.py"
WORKER = "worker-a"

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap")


@dataclass
class World:
    data: Path
    store: Store
    registry: PreviewRegistry
    sandbox: Sandbox

    @property
    def areas(self) -> Path:
        return self.data / "agent-homes"

    @property
    def logs(self) -> Path:
        return self.data / "logs"

    def host(self, max_running: int = 4, address: str | None = None, registry: bool = True) -> PreviewHost:
        return PreviewHost(
            self.sandbox,
            self.areas,
            self.logs,
            self.registry if registry else None,
            WORKER,
            max_running=max_running,
            address=address,
        )

    def workspace(self, name: str) -> Workspace:
        """A task's working copy with the fixture app in it (a git repo, as a worker's worktree is)."""
        path = self.data / "workspaces" / name
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", str(path)], check=True)
        shutil.copyfile(APP, path / "app.py")
        mirror = self.data / "mirrors" / "repo.git"
        if not mirror.exists():
            subprocess.run(["git", "init", "-q", "--bare", str(mirror)], check=True)
        return Workspace(path=path, branch=f"honk/{name}", mirror=mirror)


def app_spec(marker: str, *flags: str, **fields: object) -> PreviewSpec:
    """`[preview]` that starts the fixture app with `flags`, marked with `marker` on its command line."""
    start = shlex.join([sys.executable, "app.py", "--marker", marker, *flags])
    return PreviewSpec.model_validate({"start": start, "ready_timeout": 30, **fields})


def marker() -> str:
    return f"honk-preview-test-{uuid.uuid4().hex[:12]}"


def pids_with(mark: str) -> list[int]:
    """Processes whose command line names `mark` (the app, the shell that started it, bubblewrap)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if mark.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def wait_gone(mark: str, timeout_s: float = 10.0) -> list[int]:
    """Bounded polling: the kernel takes a moment to end a pid namespace's last processes."""
    deadline = time.monotonic() + timeout_s
    while (left := pids_with(mark)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return left


async def http_get(endpoint, task_id: str, path: str) -> tuple[int, bytes]:  # noqa: ANN001 - a PreviewEndpoint
    """One request through the preview's endpoint (the way the web server reaches it), read to its end."""
    reader, writer = await open_preview_stream(endpoint, task_id)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode())
    raw = await asyncio.wait_for(reader.read(-1), 20)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.fixture(params=["bwrap", "off"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    """Each test runs sandboxed and unsandboxed (HONK_SANDBOX=off); tests that are about the sandbox
    itself use `confined` instead."""
    if request.param == "bwrap" and shutil.which("bwrap") is None:
        pytest.skip("needs bubblewrap")
    async for w in _world(tmp_path, request.param):
        yield w


@pytest.fixture
async def confined(tmp_path: Path) -> AsyncIterator[World]:
    if shutil.which("bwrap") is None:
        pytest.skip("needs bubblewrap")
    async for w in _world(tmp_path, "bwrap"):
        yield w


async def _world(tmp_path: Path, mode: str, egress: EgressProxy | None = None) -> AsyncIterator[World]:
    data = tmp_path / "data"
    data.mkdir()
    store = Store(f"sqlite+aiosqlite:///{data / 'honk.db'}")
    await store.create_schema()
    sandbox = Sandbox(SandboxConfig(mode=mode, hidden=(data,), egress=egress))  # type: ignore[arg-type]
    yield World(data, store, PreviewRegistry(store), sandbox)
    await store.close()


@pytest.fixture(params=["bwrap", "off"])
async def egress_world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    """As `world`, with the worker's egress proxy as every sandbox's only way out."""
    if request.param == "bwrap" and shutil.which("bwrap") is None:
        pytest.skip("needs bubblewrap")
    proxy = EgressProxy(tmp_path / "egress").start()
    try:
        async for w in _world(tmp_path, request.param, proxy):
            yield w
    finally:
        proxy.stop()
