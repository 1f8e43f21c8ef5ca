"""The pieces of one confined program: its limits (a fresh cgroup, or rlimits), what in its output
shows the sandbox refusing something, and where refusals are written down (JSON lines).

The worker runs checks, builds, setup and the command agent in-process with these
(`SandboxLauncher.run`); for a program a library starts itself (Claude Code, through the SDK's
`cli_path`) the worker makes the cgroup and writes a shell wrapper that joins it
(`SandboxLauncher.program`).

The limits live in a fresh cgroup per program when the machine lets us make one (process count and
memory, v1 or v2). Without one, memory is capped by RLIMIT_DATA and there is no process limit:
RLIMIT_NPROC counts every process of the user (the worker's own and other tasks' too), so it
cannot limit one program.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import time

CGROUP_ROOT = "/sys/fs/cgroup"
NETWORK_ERRORS = (
    "Network is unreachable",
    "Connection refused",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Could not resolve host",
    "getaddrinfo failed",
    "No address associated",
    "Could not read from remote repository",
)
DENIED = ("No such file", "Permission denied", "cannot access", "cannot open", "not found", "Operation not permitted")
READ_ONLY = "Read-only file system"


class Watch:
    """What in a program's output shows the sandbox refusing something."""

    def __init__(self, spec: dict) -> None:
        self.hidden = [p for p in spec.get("hidden", []) if p != "/run"]
        self.shown = sorted(spec.get("shown", []), key=len, reverse=True)  # inside hidden ones: tool chains…
        self.offline = not spec.get("network")

    def kinds(self, line: str) -> list[str]:
        """Every refusal the line shows (one line of a program's report can show several)."""
        found = []
        if READ_ONLY in line:
            found.append("write_outside")
        if any(d in line for d in DENIED) and self._mentions_hidden(line):
            found.append("hidden_path")
        if self.offline and any(n in line for n in NETWORK_ERRORS):
            found.append("network")
        return found

    def _mentions_hidden(self, line: str) -> bool:
        for path in self.shown:
            line = line.replace(path, "")
        return any(h in line for h in self.hidden)


def confine_lines(limits: dict[str, int], groups: Cgroups) -> list[str]:
    """POSIX shell lines that put the shell, and so what it `exec`s, under a program's limits before bubblewrap
    starts: its cgroups joined, or memory capped by RLIMIT_DATA where no memory cgroup does it, and no core
    dumps. A shell does this, not a forked worker: a fork copies the worker's page tables, and the worker
    pays again for every page it writes while they are shared (docs/benchmarks.md, orchestration)."""
    lines = [f"echo $$ > {shlex.quote(group + '/cgroup.procs')} 2>/dev/null" for group in groups.groups]
    if not groups.memory:  # DATA, not AS: runtimes reserve far more address space than they use (JVM, V8)
        lines.append(f"ulimit -d {limits['memory_mb'] * 1024} 2>/dev/null")
    lines.append("ulimit -c 0")
    return lines


def confined(limits: dict[str, int], groups: Cgroups, argv: list[str]) -> list[str]:
    """`argv` started by a shell that first puts itself under the limits (confine_lines), then becomes it."""
    return ["/bin/sh", "-c", "\n".join([*confine_lines(limits, groups), 'exec "$@"']), "honk-confined", *argv]


class Violations:
    def __init__(self, path: str, command: str, source: str) -> None:
        self.path, self.command, self.source = str(path), command, source

    def add(self, kind: str, detail: str) -> None:
        record = {"at": time.time(), "kind": kind, "detail": detail, "command": self.command, "source": self.source}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


class Cgroups:
    """One new cgroup per program under the launcher's own, in each controller that can hold a limit."""

    def __init__(self, pids: str | None, memory: str | None, limits: dict[str, int]) -> None:
        self.pids, self.memory, self.limits = pids, memory, limits

    @classmethod
    def make(cls, limits: dict[str, int]) -> Cgroups:
        if not limits.get("cgroups", 1):
            return cls(None, None, limits)
        name = f"honk-{os.getpid()}-{os.urandom(3).hex()}"
        v2 = _own_cgroup("")
        if v2 is not None and os.path.exists(f"{CGROUP_ROOT}/cgroup.controllers"):
            group = _mkdir(os.path.join(CGROUP_ROOT, v2.lstrip("/"), name))
            if group is None:
                return cls(None, None, limits)
            pids = group if _write(f"{group}/pids.max", limits["pids"]) else None
            memory = group if _write(f"{group}/memory.max", limits["memory_mb"] * 1024 * 1024) else None
            _write(f"{group}/memory.swap.max", 0)
            if pids is None and memory is None:  # a delegated group without the controllers: no use
                _rmdir(group)
            return cls(pids, memory, limits)
        pids = memory = None
        if (own := _own_cgroup("pids")) is not None and (
            group := _mkdir(os.path.join(CGROUP_ROOT, "pids", own.lstrip("/"), name))
        ):
            pids = group if _write(f"{group}/pids.max", limits["pids"]) else None
            if pids is None:
                _rmdir(group)
        if (own := _own_cgroup("memory")) is not None and (
            group := _mkdir(os.path.join(CGROUP_ROOT, "memory", own.lstrip("/"), name))
        ):
            memory = group if _write(f"{group}/memory.limit_in_bytes", limits["memory_mb"] * 1024 * 1024) else None
            if memory is None:
                _rmdir(group)
        return cls(pids, memory, limits)

    @property
    def groups(self) -> list[str]:
        return sorted({g for g in (self.pids, self.memory) if g is not None})

    def join(self, pid: int) -> None:
        for group in self.groups:
            _write(f"{group}/cgroup.procs", pid)

    def hits(self) -> list[tuple[str, str]]:
        found = []
        if self.pids is not None and _count(f"{self.pids}/pids.events", "max") > 0:
            found.append(("process_limit", f"reached the limit of {self.limits['pids']} processes"))
        if self.memory is not None and (
            _count(f"{self.memory}/memory.events", "oom_kill") > 0
            or _count(f"{self.memory}/memory.oom_control", "oom_kill") > 0
        ):
            found.append(("memory_limit", f"reached the memory limit of {self.limits['memory_mb']} MB"))
        return found

    def remove(self) -> None:
        for group in self.groups:
            for attempt in range(60):  # the last processes may take a moment to be reaped after the kill
                try:
                    os.rmdir(group)
                    break
                except OSError:
                    for pid in _read(f"{group}/cgroup.procs").split():
                        try:
                            os.kill(int(pid), signal.SIGKILL)
                        except (ProcessLookupError, ValueError):
                            pass
                    time.sleep(min(0.05, 0.0005 * 2**attempt))  # usually gone within a millisecond


def _own_cgroup(controller: str) -> str | None:
    for line in _read("/proc/self/cgroup").splitlines():
        _, names, path = line.split(":", 2)
        if (controller == "" and names == "") or controller in names.split(","):
            return path
    return None


def _mkdir(path: str) -> str | None:
    _sweep(os.path.dirname(path))
    try:
        os.mkdir(path)
        return path
    except OSError:
        return None


def _rmdir(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError:
        pass


def _sweep(parent: str) -> None:
    """Removes cgroups left by launchers that were killed outright (their pid in the name is gone)."""
    try:
        stale = [n for n in os.listdir(parent) if n.startswith("honk-") and not alive(int(n.split("-")[1]))]
    except (OSError, ValueError, IndexError):
        return
    for name in stale:
        try:
            os.rmdir(os.path.join(parent, name))
        except OSError:
            pass  # still has processes: its own launcher's kill or the next sweep takes it


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie answers kill(0) but is gone
        return _read(f"/proc/{pid}/stat").rsplit(")", 1)[1].split()[0] != "Z"
    except IndexError:
        return False


def _write(path: str, value: int) -> bool:
    return _write_text(path, str(value))


def _write_text(path: str, text: str) -> bool:
    try:
        with open(path, "w") as f:
            f.write(text)
        return True
    except OSError:
        return False


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _count(path: str, key: str) -> int:
    for line in _read(path).splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return 0
