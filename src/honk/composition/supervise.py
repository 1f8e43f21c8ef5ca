"""The children `honk up` owns (Temporal, a worker, the web server), kept running: a child that dies is
started again after a pause that doubles while it keeps dying young, and each death is logged. One
that cannot stay up at all (five quick deaths in a row) stops `honk up` with a message naming its log.

Children run in their own process groups so Ctrl-C reaches only the supervisor, which then stops them
in order (web, worker, Temporal); they also die with it if it is killed (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from honk.errors import UserFacingError

QUICK_S = 10.0  # a child that dies sooner than this after starting has not really started
GIVE_UP_AFTER = 5  # quick deaths in a row
MAX_PAUSE_S = 30.0


def _die_with_parent() -> None:
    os.setsid()
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    out = open(log, "ab")  # noqa: SIM115 - handed to the child
    return subprocess.Popen(
        argv,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads yet
    )


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] = field(init=False)
    started: float = field(init=False)
    quick_deaths: int = 0
    restarts: int = 0
    restart_at: float | None = None

    def start(self) -> Child:
        self.proc, self.started, self.restart_at = spawn(self.argv, self.env, self.log), time.monotonic(), None
        return self


class Supervisor:
    def __init__(self, say: Callable[[str], None]) -> None:
        self.children: list[Child] = []
        self.say = say

    def start(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> Child:
        child = Child(name, argv, env, log).start()
        self.children.append(child)
        return child

    def tend(self) -> None:
        """One look at every child: restarts the ones whose pause is over, schedules the newly dead."""
        now = time.monotonic()
        for child in self.children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.start()
                    child.restarts += 1
                    self.say(f"The {child.name} is running again (restart {child.restarts}).")
                continue
            code = child.proc.poll()
            if code is None:
                continue
            child.quick_deaths = child.quick_deaths + 1 if now - child.started < QUICK_S else 0
            if child.quick_deaths >= GIVE_UP_AFTER:
                raise UserFacingError(
                    f"The {child.name} keeps stopping (exit {code}, {GIVE_UP_AFTER} times within {QUICK_S:.0f}s of "
                    f"starting); see {child.log}."
                )
            pause = min(MAX_PAUSE_S, 2.0 ** max(0, child.quick_deaths - 1))
            child.restart_at = now + pause
            self.say(f"The {child.name} stopped (exit {code}); starting it again in {pause:.0f}s. Its log: {child.log}")

    def stop_all(self, grace_s: float = 15.0) -> None:
        """Stops the children newest first, each before the next: the web server and the worker end
        while Temporal still answers them (a worker whose server went first hangs on its shutdown
        calls). One deadline for all of it; a child still there at the deadline is killed."""
        deadline = time.monotonic() + grace_s
        for child in reversed(self.children):
            proc = child.proc
            if child.restart_at is not None or proc.poll() is not None:
                continue
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"The {child.name} did not stop within {grace_s:.0f}s; it was killed. Its log: {child.log}")
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
