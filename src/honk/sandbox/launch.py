"""One sandboxed command: limits, then bubblewrap, then a record of what was refused.

Honk's worker runs checks, builds and setup through `honk.sandbox.Confined.run`, which uses the
pieces below in-process. The agent's shell tool is started by Claude Code, not by Honk, so its
commands go through this file as a program: `python -I -S launch.py SPEC -- COMMAND...`; that is
why it imports only the standard library (it runs without Honk's packages on the path) and as
little of it as it can (it starts once per command).
SPEC is a JSON file Honk wrote for the task: the bubblewrap arguments, the limits, the paths that
are hidden, and where to append violations (one JSON object per line).

The limits live in a fresh cgroup per command when the machine lets us make one (process count and
memory, v1 or v2). Without one, memory is capped by RLIMIT_DATA and there is no process limit:
RLIMIT_NPROC counts every process of the user (the worker's own and other tasks' too), so it
cannot limit one command. The command's stderr is read here so that refusals the
sandbox caused (a read-only file system, a hidden path, no network) are written down as well.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
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
    """What in a command's output shows the sandbox refusing something."""

    def __init__(self, spec: dict[str, list[str]]) -> None:
        self.hidden = [p for p in spec.get("hidden", []) if p != "/run"]
        self.shown = sorted(spec.get("shown", []), key=len, reverse=True)  # inside hidden ones: tool chains…
        self.offline = not spec.get("network")

    def kind(self, line: str) -> str | None:
        if READ_ONLY in line:
            return "write_outside"
        if any(d in line for d in DENIED) and self._mentions_hidden(line):
            return "hidden_path"
        if self.offline and any(n in line for n in NETWORK_ERRORS):
            return "network"
        return None

    def _mentions_hidden(self, line: str) -> bool:
        for path in self.shown:
            line = line.replace(path, "")
        return any(h in line for h in self.hidden)


def main(argv: list[str]) -> int:
    """`launch.py SPEC [--pass NAME,NAME] -- COMMAND...`: COMMAND confined as SPEC says, with the
    named variables of this process's own environment (their values are never written anywhere)."""
    spec_path, command = argv[1], argv[argv.index("--") + 1 :]
    passed = argv[argv.index("--pass") + 1].split(",") if "--pass" in argv[: argv.index("--")] else []
    spec = json.loads(Path(spec_path).read_text())
    _die_with_parent()
    log = Violations(Path(spec["violations"]), " ".join(command)[:300], spec.get("source", "sandbox"))
    # If this launcher is killed outright (an agent's own timeout sends SIGKILL), the marker outlives
    # it and Honk records the stop when it next reads the violations.
    marker = log.path.parent / "running" / str(os.getpid())
    marker.parent.mkdir(exist_ok=True)
    marker.write_text(json.dumps({"command": log.command, "source": log.source}))
    env = environment(spec, passed, os.environ)
    args = [*spec["args"], *writable_dirs(spec, passed, os.environ), "--", *spec.get("prefix", []), *command]
    groups = Cgroups.make(spec["limits"])
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: into the limits, stderr into our pipe, then bubblewrap
        try:
            os.close(read_end)
            os.dup2(write_end, 2)
            limit(spec["limits"], groups)
            # bubblewrap gets exactly this environment, never the caller's (a library that starts us
            # merges the whole worker's environment into ours): inside, /proc/1/environ is bubblewrap's.
            os.execve(spec["bwrap"], [spec["bwrap"], *args], env)
        finally:
            os._exit(127)
    os.close(write_end)
    stopped: list[str] = []

    def stop(signum: int, _frame: object) -> None:
        stopped.append(signal.Signals(signum).name)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _relay(read_end, Watch(spec), log)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if stopped:
        log.add("time_limit", f"stopped by {stopped[0]} before it finished (time limit or cancellation)")
    for kind, detail in groups.hits():
        log.add(kind, detail)
    groups.remove()
    marker.unlink(missing_ok=True)
    return code if code >= 0 else 128 - code


def environment(spec: dict, passed: list[str], own: Mapping[str, str]) -> dict[str, str]:
    """The spec's fixed variables, plus the named ones from `own` (names only ever reach disk)."""
    env = dict(spec["env"])
    env.update({name: own[name] for name in passed if name in own})
    return env


def writable_dirs(spec: dict, passed: list[str], own: Mapping[str, str]) -> list[str]:
    """Directories a passed variable names that the program must write, bound in at the same path —
    only a fresh directory under the worker's own temp dir (e.g. where the Claude Agent SDK lays out
    a session to resume), never anything Honk keeps."""
    args = []
    for name in spec.get("dir_env", []):
        value = own.get(name)
        if name not in passed or not value:
            continue
        path = Path(value).resolve()
        if path.is_dir() and path.parent == Path(spec["tmp_root"]) and not path.is_symlink():
            args += ["--bind", str(path), str(path)]
    return args


def _die_with_parent() -> None:
    """When whoever started this (a check, the agent's shell) goes away, stop the command too."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _relay(fd: int, watch: Watch, log: Violations) -> None:
    """Pass stderr through unchanged, noting the lines that show the sandbox refusing something."""
    noted, pending = 0, b""
    while chunk := os.read(fd, 65536):
        os.write(2, chunk)
        if noted >= 20:
            continue
        *lines, pending = (pending + chunk).split(b"\n")
        for raw in lines:
            kind = watch.kind(raw.decode("utf-8", "replace").strip())
            if kind and noted < 20:
                noted += 1
                log.add(kind, raw.decode("utf-8", "replace").strip()[:300])
    os.close(fd)


def limit(limits: dict[str, int], groups: Cgroups) -> None:
    """In the child, before bubblewrap starts: join the cgroup, or fall back to rlimits."""
    groups.join(os.getpid())
    memory = limits["memory_mb"] * 1024 * 1024
    if not groups.memory:  # DATA, not AS: runtimes reserve far more address space than they use (JVM, V8)
        resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class Violations:
    def __init__(self, path: Path, command: str, source: str) -> None:
        self.path, self.command, self.source = path, command, source

    def add(self, kind: str, detail: str) -> None:
        record = {"at": time.time(), "kind": kind, "detail": detail, "command": self.command, "source": self.source}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


class Cgroups:
    """One new cgroup per command under the launcher's own, in each controller that can hold a limit."""

    def __init__(self, pids: Path | None, memory: Path | None, limits: dict[str, int]) -> None:
        self.pids, self.memory, self.limits = pids, memory, limits

    @classmethod
    def make(cls, limits: dict[str, int]) -> Cgroups:
        if not limits.get("cgroups", 1):
            return cls(None, None, limits)
        name = f"honk-{os.getpid()}-{os.urandom(3).hex()}"
        v2 = _own_cgroup("")
        if v2 is not None and (CGROUP_ROOT / "cgroup.controllers").exists():
            group = _mkdir(CGROUP_ROOT / v2.lstrip("/") / name)
            if group is None:
                return cls(None, None, limits)
            pids = group if _write(group / "pids.max", limits["pids"]) else None
            memory = group if _write(group / "memory.max", limits["memory_mb"] * 1024 * 1024) else None
            _write(group / "memory.swap.max", 0)
            if pids is None and memory is None:  # a delegated group without the controllers: no use
                _rmdir(group)
            return cls(pids, memory, limits)
        pids = memory = None
        if (own := _own_cgroup("pids")) is not None and (
            group := _mkdir(CGROUP_ROOT / "pids" / own.lstrip("/") / name)
        ):
            pids = group if _write(group / "pids.max", limits["pids"]) else None
            if pids is None:
                _rmdir(group)
        if (own := _own_cgroup("memory")) is not None and (
            group := _mkdir(CGROUP_ROOT / "memory" / own.lstrip("/") / name)
        ):
            memory = group if _write(group / "memory.limit_in_bytes", limits["memory_mb"] * 1024 * 1024) else None
            if memory is None:
                _rmdir(group)
        return cls(pids, memory, limits)

    def join(self, pid: int) -> None:
        for group in {g for g in (self.pids, self.memory) if g is not None}:
            _write(group / "cgroup.procs", pid)

    def hits(self) -> list[tuple[str, str]]:
        found = []
        if self.pids is not None and _count(self.pids / "pids.events", "max") > 0:
            found.append(("process_limit", f"reached the limit of {self.limits['pids']} processes"))
        if self.memory is not None and (
            _count(self.memory / "memory.events", "oom_kill") > 0
            or _count(self.memory / "memory.oom_control", "oom_kill") > 0
        ):
            found.append(("memory_limit", f"reached the memory limit of {self.limits['memory_mb']} MB"))
        return found

    def remove(self) -> None:
        for group in {g for g in (self.pids, self.memory) if g is not None}:
            for attempt in range(60):  # the last processes may take a moment to be reaped after the kill
                try:
                    group.rmdir()
                    break
                except OSError:
                    for pid in _read(group / "cgroup.procs").split():
                        try:
                            os.kill(int(pid), signal.SIGKILL)
                        except (ProcessLookupError, ValueError):
                            pass
                    time.sleep(min(0.05, 0.0005 * 2**attempt))  # usually gone within a millisecond


def _own_cgroup(controller: str) -> str | None:
    for line in _read(Path("/proc/self/cgroup")).splitlines():
        _, names, path = line.split(":", 2)
        if (controller == "" and names == "") or controller in names.split(","):
            return path
    return None


def _mkdir(path: Path) -> Path | None:
    _sweep(path.parent)
    try:
        path.mkdir()
        return path
    except OSError:
        return None


def _rmdir(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass


def _sweep(parent: Path) -> None:
    """Removes cgroups left by launchers that were killed outright (their pid in the name is gone)."""
    try:
        stale = [p for p in parent.glob("honk-*-*") if not alive(int(p.name.split("-")[1]))]
    except (OSError, ValueError):
        return
    for group in stale:
        try:
            group.rmdir()
        except OSError:
            pass  # still has processes: its own launcher's kill or the next sweep takes it


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")  # a zombie answers kill(0) but is gone
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _write(path: Path, value: int) -> bool:
    try:
        path.write_text(str(value))
        return True
    except OSError:
        return False


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _count(path: Path, key: str) -> int:
    for line in _read(path).splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
