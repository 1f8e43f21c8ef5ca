"""Run a command in its own process group, bounded in time, output kept on disk and in a short tail;
or start one that keeps running (a preview's server), its output on disk, stopped through its handle.

Agent and check processes get their own session so that a timeout, a cancellation or the death
of the worker never leaves children running (see shared notes on Temporal activities).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypedDict

from honk.domain import ProcResult

TAIL_BYTES = 64_000
DRAIN_S = 1.0

# Variables a child process may see. Everything else (tokens, HONK_* settings) stays out.
ENV_ALLOW = (
    "PATH",
    "HOME",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TERM",
    "TZ",
    "USER",
    "LOGNAME",
    "SHELL",
    "TMPDIR",
    "GOPATH",
    "GOCACHE",
    "GOMODCACHE",
    "CARGO_HOME",
    "RUSTUP_HOME",
    "JAVA_HOME",
    "MAVEN_OPTS",
    "GRADLE_USER_HOME",
    "PYENV_ROOT",
    "VIRTUAL_ENV",
    "NODE_PATH",
)


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ENV_ALLOW or k.startswith("LC_")}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["CI"] = "true"
    # Stale bytecode can hide an edit made within the same second; and .pyc files are not changes.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra or {})
    return env


def _own_group_dying_with_worker() -> None:
    # A new session (so the whole group can be killed) that also dies if the worker is killed -9.
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _in_child(then: Callable[[], None] | None) -> None:
    _own_group_dying_with_worker()
    if then is not None:
        then()


class _Spawn(TypedDict, total=False):
    start_new_session: bool
    preexec_fn: Callable[[], None]


def _spawn_options(preexec: Callable[[], None] | None, dies_with_worker: bool) -> _Spawn:
    """A group of its own either way. Code to run in the child (the parent-death signal, `preexec`) makes
    Python fork the worker; without any it uses vfork, which copies nothing: a fork of a worker of a few
    hundred MB copies its page tables, and the worker then pays a fault for every page it writes while
    they are shared."""
    if dies_with_worker and preexec is None:
        return _Spawn(start_new_session=True)
    return _Spawn(preexec_fn=functools.partial(_in_child, preexec))  # no threads touched before exec


async def run(
    argv: list[str],
    cwd: Path,
    timeout_s: float,
    log_path: Path | None = None,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    preexec: Callable[[], None] | None = None,
    dies_with_worker: bool = False,
) -> ProcResult:
    """`preexec` runs in the child just before exec (after it got its own group): limits, a cgroup.
    `dies_with_worker`: the program sees to that itself (bubblewrap's --die-with-parent), so it is started
    without a fork of the worker (see _spawn_options)."""
    started = time.monotonic()
    log = None
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(log_path, "ab")  # noqa: SIM115 - closed in finally
    starting = asyncio.ensure_future(
        asyncio.create_subprocess_exec(
            *argv,
            cwd=cwd,
            env=env if env is not None else child_env(),
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            **_spawn_options(preexec, dies_with_worker),
        )
    )
    try:
        # Shielded: the program may already run when a cancellation arrives, and asyncio would then
        # kill only the direct child; this way its whole group goes (below), whatever it started.
        proc = await asyncio.shield(starting)
    except asyncio.CancelledError:
        if log:
            log.close()
        with contextlib.suppress(Exception):
            await _kill_group(await starting)
        raise
    except BaseException:
        if log:
            log.close()
        raise
    tail = bytearray()

    async def pump() -> None:
        assert proc.stdout is not None
        if stdin is not None and proc.stdin is not None:
            proc.stdin.write(stdin)
            await proc.stdin.drain()
            proc.stdin.close()
        while chunk := await proc.stdout.read(65536):
            if log:
                log.write(chunk)
            tail.extend(chunk)
            del tail[:-TAIL_BYTES]

    reader = asyncio.ensure_future(pump())
    timed_out = False
    try:
        await asyncio.wait_for(proc.wait(), timeout_s)
        # A background grandchild may hold the pipe open: read what is there, then stop waiting.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader), DRAIN_S)
    except TimeoutError:
        timed_out = True
    finally:
        # Also runs on cancellation: the whole group goes, not just the direct child.
        await _kill_group(proc)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        if log:
            log.close()
    return ProcResult(
        exit_code=None if timed_out else proc.returncode,
        output=tail.decode("utf-8", "replace"),
        timed_out=timed_out,
        duration_s=time.monotonic() - started,
    )


class Started:
    """A program `start` began and did not wait for: its own process group, dying with the worker."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        """Its exit status once it ended (and the event loop saw it), else None."""
        return self._proc.returncode

    async def wait(self, timeout_s: float) -> int | None:
        """Its exit status, waiting at most `timeout_s` for it to end (None: still running)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._proc.wait()), timeout_s)
        return self._proc.returncode

    async def stop(self) -> None:
        """Its whole group goes: SIGTERM, then SIGKILL for what is left after a moment."""
        await _kill_group(self._proc)

    def kill(self) -> None:
        """Without waiting (from synchronous code: a launcher's `close`): SIGKILL to the whole group."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)


async def start(
    argv: list[str],
    cwd: Path,
    log_path: Path,
    env: dict[str, str] | None = None,
    preexec: Callable[[], None] | None = None,
    dies_with_worker: bool = False,
) -> Started:
    """Starts `argv` and returns at once; stdout and stderr go to `log_path` (appended), stdin is empty.
    Like `run`'s programs it leads a group of its own and gets SIGKILL when the worker dies, so nothing
    it started outlives the worker; `Started.stop` ends the group."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:  # the child holds its own copy of the descriptor
        starting = asyncio.ensure_future(
            asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                env=env if env is not None else child_env(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                **_spawn_options(preexec, dies_with_worker),
            )
        )
        try:
            proc = await asyncio.shield(starting)  # as in `run`: a cancellation must not leave it running
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await _kill_group(await starting)
            raise
    return Started(proc)


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        if proc.returncode is not None and sig == signal.SIGTERM:
            # The leader exited; stragglers in its group still get the signal above.
            continue
        try:
            await asyncio.wait_for(proc.wait(), 2.0)
        except TimeoutError:
            continue
