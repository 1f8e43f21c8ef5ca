"""A worker's running previews (Honk's `Previews`): each task's `[preview] start` server, confined like
its checks, reachable only through the unix socket its sandbox's bridge listens on, and registered in
the store so the web server can proxy to it.

A preview runs until it is stopped: when idle longer than its `idle_stop`, when the store says someone
wants it stopped, to make room (this worker runs at most `max_running`), or when the worker shuts down.
A server that ends on its own is recorded as failed, with its log's last lines. Nothing is left behind:
stopping a preview ends its whole confinement.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import re
import secrets
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from honk.domain import (
    PREVIEW_HOST,
    PREVIEW_PORT,
    PreviewEndpoint,
    PreviewOutcome,
    PreviewSpec,
    PreviewState,
    Workspace,
)
from honk.errors import UserFacingError
from honk.network import EgressPolicy
from honk.preview import messages
from honk.preview.install import install_if_needed
from honk.preview.ready import wait_ready
from honk.sandbox import Sandbox
from honk.sandbox.sandbox import SERVE_SOCKET, Confined, SandboxLauncher
from honk.store.previews import PreviewRegistry

log = logging.getLogger(__name__)
# A key is a task id, or `<task id>:<name>` for a version nobody opens (the target branch's, for
# screenshots): never registered, its files in the task's area all the same.
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}(:[A-Za-z0-9_.-]{1,32})?")


@dataclass
class _Live:
    key: str
    registered: bool
    launcher: SandboxLauncher
    running: Confined
    serve: Path
    endpoint: PreviewEndpoint
    idle_stop_s: float
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def task_id(self) -> str:
        return self.key.partition(":")[0]

    @property
    def socket(self) -> Path:
        return self.serve / SERVE_SOCKET


class PreviewHost:
    """`areas`: per task, its area (`areas/<task id>`: the install record and the previews' sockets);
    `logs`: per key, `preview.log` (the server) and `preview-install.log`. `address`: the split
    deployment's gateway address (HONK_PREVIEW_ADDRESS): registered endpoints are `tcp:` with a token;
    unset: `unix:` paths the web server connects to itself."""

    def __init__(
        self,
        sandbox: Sandbox,
        areas: Path,
        logs: Path,
        registry: PreviewRegistry | None,
        worker: str,
        *,
        max_running: int = 4,
        address: str | None = None,
    ) -> None:
        self.sandbox, self.areas, self.logs, self.registry, self.worker = sandbox, areas, logs, registry, worker
        self.max_running, self.address = max_running, address
        self._live: dict[str, _Live] = {}
        self._starting: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}

    # -- Previews --------------------------------------------------------------------------------
    async def start(
        self,
        key: str,
        ws: Workspace,
        spec: PreviewSpec,
        egress: EgressPolicy | None = None,
        register: bool = True,
    ) -> PreviewOutcome:
        if not _KEY.fullmatch(key):
            raise ValueError(f"not a preview key: {key!r}")
        if spec.start is None:
            return PreviewOutcome(ok=False, detail=messages.NO_START)
        registered = register and self.registry is not None and ":" not in key
        async with self._lock(key):
            live = self._live.get(key)
            if live is not None and live.running.alive():
                return PreviewOutcome(ok=True, endpoint=live.endpoint)
            if live is not None:
                await self._ended(live)
            await self._make_room(key)
            self._starting.add(key)
            try:
                return await self._start(key, ws, spec, egress, registered)
            finally:
                self._starting.discard(key)

    async def stop(self, key: str, reason: str) -> None:
        async with self._lock(key):
            live = self._live.pop(key, None)
            if live is None:
                await self._stop_elsewhere(key)
                return
            await live.running.stop()
            self._release(live)
            if live.registered:
                await self._record(live.task_id, "stopped", reason)

    async def _stop_elsewhere(self, key: str) -> None:
        """A task's preview another worker runs: that worker's reaper stops it (a task has one preview)."""
        if self.registry is None or ":" in key:
            return
        info = await self.registry.get(key)
        if info is not None and info.state in ("starting", "running") and info.worker != self.worker:
            await self.registry.want_stop(key)

    def running(self) -> list[str]:
        return sorted(k for k, live in self._live.items() if live.running.alive())

    # -- for the worker's other parts --------------------------------------------------------------
    def socket(self, key: str) -> Path | None:
        """The preview's way in on this machine (for the screenshots' browser), when it runs here."""
        live = self._live.get(key)
        return live.socket if live is not None and live.running.alive() else None

    def admit(self, task_id: str, token: str) -> Path | None:
        """The gateway's question: the socket of the task's registered preview, when `token` is the one
        registered for it (compared in constant time), else None."""
        live = self._live.get(task_id)
        expected = live.endpoint.token if live is not None and live.registered else ""
        good = hmac.compare_digest((expected or "\0" * 43).encode(), token.encode("utf-8", "replace"))
        if live is None or not expected or not good or not live.running.alive():
            return None
        return live.socket

    async def reap(self) -> list[str]:
        """One pass of the reaper: previews whose server ended are recorded as failed; those idle longer
        than their `idle_stop`, or that the store wants stopped, are stopped. The keys it ended."""
        ended = []
        for key, live in list(self._live.items()):
            try:
                if await self._reap_one(live):
                    ended.append(key)
            except Exception:  # one preview's trouble (the store unreachable a moment) must not stop the rest
                log.exception("reaping preview %s", key)
        return ended

    async def reap_forever(self, interval_s: float = 5.0) -> None:
        """The worker's reaper: `reap` every `interval_s` until cancelled."""
        while True:
            await self.reap()
            await asyncio.sleep(interval_s)  # a period, not a wait for something

    async def close(self) -> None:
        """The worker is stopping: every preview it runs is stopped (and recorded so)."""
        for key in list(self._live):
            with contextlib.suppress(Exception):
                await self.stop(key, messages.WORKER_STOPPED)

    # -- inside ------------------------------------------------------------------------------------
    async def _start(
        self, key: str, ws: Workspace, spec: PreviewSpec, egress: EgressPolicy | None, registered: bool
    ) -> PreviewOutcome:
        began, task_id, safe = time.monotonic(), key.partition(":")[0], re.sub(r"[^A-Za-z0-9_.-]", "-", key)
        area, logs, idle_stop_s = self.areas / task_id, self.logs / safe, spec.idle_stop_min * 60
        serve = area / f"preview-{safe}"
        if registered:
            await self._register(task_id, "starting", None, idle_stop_s)

        def failed(detail: str, tail: str = "", ran: bool = False) -> PreviewOutcome:
            return PreviewOutcome(
                ok=False, detail=detail, log_tail=tail, install_ran=ran, duration_s=time.monotonic() - began
            )

        try:
            installer = self.sandbox.launcher(area, ws.path, [ws.mirror], "preview", egress=egress)
            try:
                res = await install_if_needed(installer, spec, area, ws.path, logs / "preview-install.log")
            finally:
                installer.close()
            if res is not None and not res.ok:
                outcome = failed(messages.install_failed(res, spec), _last_lines(res.output), True)
            else:
                outcome = await self._serve(key, ws, spec, egress, registered, serve, logs, idle_stop_s)
                outcome = outcome.model_copy(
                    update={"install_ran": res is not None, "duration_s": time.monotonic() - began}
                )
        except UserFacingError as e:  # no sandbox here: said in words, as any failure to start
            outcome = failed(str(e))
        except BaseException:
            if registered:  # cancelled (the task was), or worse: nobody should wait for this one
                with contextlib.suppress(BaseException):
                    await asyncio.shield(self._record(task_id, "stopped", messages.START_INTERRUPTED))
            raise
        if registered and not outcome.ok:
            await self._record(task_id, "failed", _with_tail(outcome.detail, outcome.log_tail))
        return outcome

    async def _serve(
        self,
        key: str,
        ws: Workspace,
        spec: PreviewSpec,
        egress: EgressPolicy | None,
        registered: bool,
        serve: Path,
        logs: Path,
        idle_stop_s: float,
    ) -> PreviewOutcome:
        assert spec.start is not None
        shutil.rmtree(serve, ignore_errors=True)  # an earlier run's socket: nothing listens on it now
        launcher = self.sandbox.launcher(
            self.areas / key.partition(":")[0], ws.path, [ws.mirror], "preview", egress=egress, serve=serve
        )
        log_path = logs / "preview.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_bytes(b"")  # this run's output only: what a person reads is about this run
        running: Confined | None = None
        try:
            running = await launcher.start(
                ["bash", "-c", spec.start], log=log_path, env={"PORT": str(PREVIEW_PORT), "HOST": PREVIEW_HOST}
            )
            seen = await wait_ready(serve / SERVE_SOCKET, spec.ready, spec.ready_timeout_s, running.alive)
            if not seen.ready:
                code = running.exit_code
                await running.stop()
                launcher.close()
                return PreviewOutcome(ok=False, detail=messages.not_ready(seen, spec, code), log_tail=running.tail())
        except BaseException:
            if running is not None:
                running.kill()
            launcher.close()
            raise
        token = secrets.token_urlsafe(32) if registered and self.address else ""
        address = f"tcp:{self.address}" if token else f"unix:{(serve / SERVE_SOCKET).resolve()}"
        live = _Live(
            key, registered, launcher, running, serve, PreviewEndpoint(address=address, token=token), idle_stop_s
        )
        self._live[key] = live
        if registered:
            await self._register(live.task_id, "running", live.endpoint, idle_stop_s)
        return PreviewOutcome(ok=True, endpoint=live.endpoint)

    async def _reap_one(self, live: _Live) -> bool:
        live.running.record()  # what the egress proxy refused it reaches the task's timeline while it runs
        if not live.running.alive():
            async with self._lock(live.key):
                if self._live.get(live.key) is live:
                    await self._ended(live)
                    return True
            return False
        idle_since = live.started
        if live.registered and self.registry is not None:
            info = await self.registry.get(live.task_id)
            if info is None or info.worker != self.worker or info.state not in ("starting", "running"):
                # Another worker holds it now (it woke it there), or it was removed: ours is nobody's.
                await self._halt(live, None)
                return True
            if info.stop_wanted:
                await self._halt(live, messages.STOP_WANTED)
                return True
            idle_since = info.last_access or idle_since
        idle_s = (datetime.now(UTC) - idle_since).total_seconds()
        if idle_s > live.idle_stop_s:
            await self._halt(live, messages.idle(idle_s))
            return True
        return False

    async def _halt(self, live: _Live, reason: str | None) -> None:
        """Stops `live` if it is still the one running under its key; records `reason` (None: nothing)."""
        async with self._lock(live.key):
            if self._live.get(live.key) is not live:
                return
            del self._live[live.key]
            await live.running.stop()
            self._release(live)
            if live.registered and reason is not None:
                await self._record(live.task_id, "stopped", reason)

    async def _ended(self, live: _Live) -> None:
        """Its server exited on its own after it was ready: recorded as failed, with its log's last lines."""
        self._live.pop(live.key, None)
        code, tail = live.running.exit_code, live.running.tail()
        await live.running.stop()  # whatever it left in its confinement goes too
        self._release(live)
        if live.registered:
            await self._record(live.task_id, "failed", _with_tail(messages.crashed(code), tail))

    async def _make_room(self, key: str) -> None:
        """Stops the previews idle longest until one more fits under `max_running` (counting those starting)."""
        while len(self._live) + len(self._starting) >= self.max_running:
            candidates = [live for k, live in self._live.items() if k != key]
            if not candidates:
                return  # all the room is taken by previews still starting: this one runs over, briefly
            idle = [(await self._last_access(live), live) for live in candidates]
            oldest = min(idle, key=lambda pair: pair[0])[1]
            await self._halt(oldest, messages.room(self.max_running))

    async def _last_access(self, live: _Live) -> datetime:
        if live.registered and self.registry is not None:
            info = await self.registry.get(live.task_id)
            if info is not None and info.last_access is not None:
                return info.last_access
        return live.started

    def _release(self, live: _Live) -> None:
        live.launcher.close()
        shutil.rmtree(live.serve, ignore_errors=True)

    async def _register(
        self, task_id: str, state: PreviewState, endpoint: PreviewEndpoint | None, idle_stop_s: float
    ) -> None:
        assert self.registry is not None
        await self.registry.register(task_id, self.worker, state, endpoint, idle_stop_s=idle_stop_s)

    async def _record(self, task_id: str, state: PreviewState, detail: str) -> None:
        if self.registry is not None:
            await self.registry.set_state(task_id, state, detail, worker=self.worker)

    def _lock(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())


def _last_lines(output: str, lines: int = 40) -> str:
    return "\n".join(output.splitlines()[-lines:])


def _with_tail(detail: str, tail: str) -> str:
    return f"{detail}\n\nThe log's last lines:\n{tail}" if tail.strip() else detail
