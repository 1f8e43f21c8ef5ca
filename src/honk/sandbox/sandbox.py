"""Runs repo code and agents under bubblewrap, or refuses to, unless the operator said otherwise.

One `Sandbox` per worker. For each task and purpose it writes a spec (the bubblewrap arguments,
environment, limits and what to watch for) into the task's area and hands out a `SandboxLauncher`,
Honk's `Launcher`: the only way a step or an agent starts a process, waited for (`run`) or left
running (`start`: a preview's server, reached through its way in, `serve`). What the sandbox refused is
read back with `Sandbox.violations`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel

from honk.domain import PREVIEW_PORT, Network, Phase, ProcResult, SandboxMode, ViolationKind
from honk.egress.ca import java_trust_options
from honk.egress.proxy import Blocked, EgressProxy, Gateway
from honk.errors import UserFacingError
from honk.events import NetworkBlocked
from honk.network import EgressPolicy
from honk.ports import free_port
from honk.sandbox import limits
from honk.sandbox.streams import both_ways
from honk.sandbox.view import View
from honk.workspace import proc
from honk.workspace.git import redact_url
from honk.workspace.proc import child_env

BRIDGE = Path(__file__).with_name("bridge.py")
# How Claude Code's shell tool reports a command that hit its time limit (stopped, or moved to the
# background: the sandbox then stops it when the run ends).
AGENT_TIMEOUT = ("Command timed out after", "Command did not complete within its")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Inside a confinement with the model reachable: the bridge's port on the namespace's own loopback,
# and where Honk's ways out are bound.
BRIDGE_PORT = 47000
EGRESS_PORT = 47001
INSIDE = Path("/run/honk")
# A preview's way in: the bridge listens on this socket (in a directory bound in from the task's area)
# and passes connections to the preview's server, on PREVIEW_PORT of the namespace's own loopback.
SERVE_SOCKET = "app.sock"
MODEL_URL = f"http://127.0.0.1:{BRIDGE_PORT}"


@dataclass(frozen=True)
class SandboxConfig:
    mode: SandboxMode = "bwrap"
    bwrap: str = "bwrap"
    memory_mb: int = 4096
    pids: int = 512
    hidden: tuple[Path, ...] = ()  # Honk's secrets on disk: data dir, settings, policy, database
    read_only: tuple[Path, ...] = ()
    cgroups: bool = True
    # The directory holding the worker's model key proxy socket (`model.sock`): bound into
    # confinements whose network is "model", beside the egress proxy.
    model_socket_dir: Path | None = None
    # The worker's egress proxy: every confinement's way out (None: no network at all, as before it).
    egress: EgressProxy | None = None


class Violation(BaseModel):
    kind: ViolationKind
    detail: str
    command: str
    source: str  # check, build, setup, agent


class SandboxLauncher:
    """Honk's `Launcher` for one task and purpose. `spec` None: unsandboxed (HONK_SANDBOX=off)."""

    def __init__(
        self,
        workspace: Path,
        env: dict[str, str],
        spec: Path | None = None,
        network: Network = "none",
        area: Path | None = None,
        gateway: Gateway | None = None,
        serve: Path | None = None,
    ) -> None:
        self.workspace, self.env, self.spec, self.network, self.area = workspace, env, spec, network, area
        self.gateway, self.serve = gateway, serve
        self._groups: list[limits.Cgroups] = []
        self._started: list[Confined] = []

    @property
    def home(self) -> Path:
        return Path(self.env["HOME"])

    @property
    def model_url(self) -> str | None:
        """The model API's address for the programs it starts (None: they reach it directly)."""
        return MODEL_URL if self.spec is not None and self.network == "model" else None

    async def run(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float,
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
        stdin: bytes | None = None,
    ) -> ProcResult:
        """Runs here, in the worker: the launcher's pieces in-process, without its interpreter
        start-up (checks run often; see bench/sandbox.py)."""
        full_env = {**self.env, **(env or {})}
        command = shlex.join(argv[2:] if argv[:2] == ["bash", "-c"] else argv)
        if self.gateway is not None:
            self.gateway.command = command
        try:
            return await self._run(argv, full_env, timeout_s, log, stdin)
        finally:
            self._note_blocked(command)
            if self.gateway is not None:
                self.gateway.command = ""

    async def _run(
        self, argv: Sequence[str], full_env: dict[str, str], timeout_s: float, log: Path | None, stdin: bytes | None
    ) -> ProcResult:
        if self.spec is None:
            return await proc.run(
                list(argv), cwd=self.workspace, timeout_s=timeout_s, log_path=log, env=full_env, stdin=stdin
            )
        spec = json.loads(self.spec.read_text())
        groups = limits.Cgroups.make(spec["limits"])
        try:
            res = await proc.run(
                limits.confined(spec["limits"], groups, [spec["bwrap"], *spec["args"], "--", *spec["prefix"], *argv]),
                cwd=self.workspace,
                timeout_s=timeout_s,
                log_path=log,
                env=full_env,
                stdin=stdin,
                dies_with_worker=True,  # bubblewrap's --die-with-parent
            )
        finally:
            hits = groups.hits()
            groups.remove()
        violations = limits.Violations(spec["violations"], shlex.join(argv)[:300], spec["source"])
        self._watch(spec, res.output, violations)
        if res.timed_out:
            violations.add("time_limit", f"stopped after {timeout_s:.0f}s, its time limit")
        for kind, detail in hits:
            violations.add(kind, detail)
        return res

    async def shell(self, command: str, *, timeout_s: float, log: Path | None = None) -> ProcResult:
        return await self.run(["bash", "-c", command], timeout_s=timeout_s, log=log)

    async def start(self, argv: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None) -> Confined:
        """Starts `argv` confined as `run` confines it and returns at once (a preview's server); its
        output goes to `log`. With `serve`, the way in is `serve/app.sock`: inside a sandbox the bridge
        passes it to PREVIEW_PORT on the namespace's own loopback; unsandboxed there is no namespace, so
        the program gets a free port of the host's loopback in PORT and the worker relays the socket to it."""
        full_env = {**self.env, **(env or {})}
        command = shlex.join(argv[2:] if argv[:2] == ["bash", "-c"] else argv)
        if self.gateway is not None:
            self.gateway.command = command  # what this launcher's sandbox is refused from now on is this program's
        offset = log.stat().st_size if log.exists() else 0
        relay, groups, spec = None, None, None
        try:
            if self.spec is None:
                if self.serve is not None:
                    full_env["PORT"] = str(port := free_port())
                    relay = await _Relay.open(self.serve / SERVE_SOCKET, port)
                started = await proc.start(list(argv), self.workspace, log, full_env)
            else:
                spec = json.loads(self.spec.read_text())
                groups = limits.Cgroups.make(spec["limits"])
                started = await proc.start(
                    limits.confined(
                        spec["limits"], groups, [spec["bwrap"], *spec["args"], "--", *spec["prefix"], *argv]
                    ),
                    self.workspace,
                    log,
                    full_env,
                    dies_with_worker=True,  # bubblewrap's --die-with-parent
                )
        except BaseException:
            if relay is not None:
                relay.close()
            if groups is not None:
                groups.remove()
            raise
        running = Confined(self, started, log, offset, command, spec, groups, relay)
        self._started.append(running)
        return running

    def program(self, executable: Path, pass_env: Sequence[str]) -> Path:
        """A POSIX shell script that runs `executable`, confined as this launcher's spec says: it joins
        a cgroup made for it (removed by `close`), and starts bubblewrap through `env -i` with the
        spec's variables and, of its own environment, only those named in `pass_env` (so their values
        are never written down, and nothing the library that starts it merged in gets through). A
        directory a `dir_env` variable names is bound in writable when it is a fresh one under the
        worker's temp dir (where the Claude Agent SDK lays out a session to resume). No interpreter
        starts between the library and bubblewrap: see bench/agent.py."""
        names = sorted({n for n in pass_env if _VARIABLE.fullmatch(n)})
        script = (self.area or self.workspace) / f"run-{executable.name}"
        passed = " ".join(f'${{{n}+"{n}=${n}"}}' for n in names)
        env = shutil.which("env") or "/usr/bin/env"
        if self.spec is None:
            fixed = " ".join(shlex.quote(f"{k}={v}") for k, v in self.env.items())
            body = [f'exec {env} -i {fixed} {passed} {shlex.quote(str(executable))} "$@"']
        else:
            spec = json.loads(self.spec.read_text())
            groups = limits.Cgroups.make(spec["limits"])
            self._groups.append(groups)
            fixed = " ".join(shlex.quote(f"{k}={v}") for k, v in spec["env"].items())
            bwrap = shlex.join([spec["bwrap"], *spec["args"]])
            run = f'-- {shlex.join([*spec["prefix"], str(executable)])} "$@"'
            start = f"exec {env} -i {fixed} {passed} {bwrap}"
            body = limits.confine_lines(spec["limits"], groups)
            for name in (n for n in spec.get("dir_env", []) if n in names):
                fresh = f"{shlex.quote(spec['tmp_root'])}/claude-resume-"
                body += [
                    f'case "${{{name}:-}}" in',
                    f"  {fresh}*/* | *..*) ;;",
                    f'  {fresh}*) if [ -d "${name}" ] && [ ! -L "${name}" ]; then',
                    f'    {start} --bind "${name}" "${name}" {run}',
                    "  fi ;;",
                    "esac",
                ]
            body.append(f"{start} {run}")
        script.write_text(
            f"#!/bin/sh\n# Written by Honk for one run: {executable.name}, confined (honk.sandbox).\n"
            + "\n".join(body)
            + "\n"
        )
        script.chmod(0o700)
        return script

    def close(self) -> None:
        """Its programs have ended (those `start` began and still run are killed now): what the egress
        proxy refused them is recorded, their way out is closed, the limits the programs `program` wrote
        wrappers for hit are recorded, and their cgroups removed (with anything still in them)."""
        for running in self._started:
            running.kill()
        self._started.clear()
        if self.gateway is not None:
            self._note_blocked("the agent's own requests" if self._groups else "")
            self.gateway.close()
        if self.spec is None or not self._groups:
            return
        spec = json.loads(self.spec.read_text())
        for groups in self._groups:
            for kind, detail in groups.hits():
                limits.Violations(spec["violations"], "the agent's processes", spec["source"]).add(kind, detail)
            groups.remove()
        self._groups.clear()

    def noticed(self, output: str, command: str) -> None:
        self._note_blocked(command)  # what the egress proxy refused while the agent's command ran
        if self.spec is None:
            return
        spec = json.loads(self.spec.read_text())
        violations = limits.Violations(spec["violations"], command[:300], spec["source"])
        self._watch(spec, output, violations)
        if (said := next((s for s in AGENT_TIMEOUT if s in output), None)) is not None:
            # The agent's shell tool hit its time limit: it stopped the command, or sent it to the
            # background, where the sandbox stops it when the run ends.
            violations.add("time_limit", output[output.index(said) :].splitlines()[0][:300])

    def _note_blocked(self, command: str) -> None:
        """What the egress proxy refused since last asked, with the command that asked (`command` for
        requests made while no launcher command ran: the agent's shell tool, or its own), for the task's
        timeline (`Sandbox.blocked`)."""
        if self.gateway is None or self.area is None:
            return
        found = self.gateway.blocked()
        if not found:
            return
        phase = self.gateway.policy.phase
        with (self.area / "network-blocked.jsonl").open("a", encoding="utf-8") as f:
            for asked, b in found:
                event = _event(b, phase, asked or command or "a program of the sandbox")
                f.write(event.model_dump_json() + "\n")

    @staticmethod
    def _watch(spec: dict, output: str, violations: limits.Violations) -> None:
        watch = limits.Watch(spec)
        noted = [(kind, line.strip()[:300]) for line in output.splitlines() for kind in watch.kinds(line)]
        for kind, line in noted[:20]:
            violations.add(kind, line)


class Confined:
    """A program `SandboxLauncher.start` began (Honk's `Running`): the confinement's first process (bubblewrap,
    or the program itself unsandboxed), its cgroup, and unsandboxed, the worker's relay that is its way in.
    What the sandbox refused it is recorded when it is stopped, and what the egress proxy refused it each
    time `record` is called (a long-running program's refusals reach the task's timeline while it runs)."""

    def __init__(
        self,
        launcher: SandboxLauncher,
        started: proc.Started,
        log: Path,
        offset: int,
        command: str,
        spec: dict | None,
        groups: limits.Cgroups | None,
        relay: _Relay | None,
    ) -> None:
        self._launcher, self._started, self._log, self._offset = launcher, started, log, offset
        self._command, self._spec, self._groups, self._relay = command, spec, groups, relay
        self._stopped = False

    @property
    def pid(self) -> int:
        return self._started.pid

    def alive(self) -> bool:
        return not self._stopped and self._started.returncode is None

    @property
    def exit_code(self) -> int | None:
        return None if self._stopped else self._started.returncode

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self._output().splitlines()[-lines:])

    def record(self) -> None:
        """What the egress proxy refused it since last asked goes to the task's record."""
        self._launcher._note_blocked(self._command)

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        await self._started.stop()
        self._finish()

    def kill(self) -> None:
        """From synchronous code (the launcher's `close`): SIGKILL to its group, its cgroup emptied."""
        if self._stopped:
            return
        self._stopped = True
        self._started.kill()
        self._finish()

    def _finish(self) -> None:
        if self._relay is not None:
            self._relay.close()
        self.record()
        if self._spec is None or self._groups is None:
            return
        hits = self._groups.hits()
        self._groups.remove()  # kills whatever is left in it: nothing it started outlives it
        violations = limits.Violations(self._spec["violations"], self._command[:300], self._spec["source"])
        SandboxLauncher._watch(self._spec, self._output(), violations)
        for kind, detail in hits:
            violations.add(kind, detail)

    def _output(self) -> str:
        """What it wrote (this run's part of the log), its last TAIL_BYTES."""
        try:
            with self._log.open("rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(self._offset, size - proc.TAIL_BYTES))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


class _Relay:
    """Unsandboxed, a server's way in: the worker listens on `serve/app.sock` and passes each connection
    to the server's port on the host's loopback, as the bridge does inside a sandbox's namespace."""

    def __init__(self, path: Path, port: int) -> None:
        self._path, self._port = path, port
        self._server: asyncio.Server | None = None
        self._live: set[asyncio.StreamWriter] = set()

    @classmethod
    async def open(cls, path: Path, port: int) -> _Relay:
        relay = cls(path, port)
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # left by an earlier run of the same preview
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Through the directory's descriptor: a socket's path may be longer than sun_path's 108 bytes.
        where = os.open(path.parent, os.O_PATH)
        try:
            sock.bind(f"/proc/self/fd/{where}/{path.name}")
        finally:
            os.close(where)
        relay._server = await asyncio.start_unix_server(relay._pass, sock=sock)
        return relay

    def close(self) -> None:
        """No new connections, and the open ones are cut (the server they reached is gone)."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._live):
            writer.close()
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()

    async def _pass(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._port)
        except OSError:
            writer.close()  # nothing listens there (yet): the caller sees the connection closed, as with the bridge
            return
        self._live |= {writer, up_writer}
        try:
            await both_ways((reader, writer), (up_reader, up_writer))
        finally:
            self._live -= {writer, up_writer}
            writer.close()
            up_writer.close()


class SandboxUnavailable(UserFacingError):
    pass


class Sandbox:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._problem: str | None | bool = False  # False: not probed yet

    @property
    def enabled(self) -> bool:
        return self.config.mode == "bwrap"

    def problem(self) -> str | None:
        """Why bubblewrap cannot run here (probed once), or None when it can."""
        if self._problem is False:
            self._problem = _probe(self.config.bwrap)
        return self._problem  # type: ignore[return-value]

    def warning(self) -> str | None:
        if self.enabled:
            return None
        return (
            "Repo code and agent commands ran WITHOUT a sandbox (HONK_SANDBOX=off): they could read "
            "this worker's files and reach the network."
        )

    def launcher(
        self,
        area: Path,
        workspace: Path,
        git_dirs: list[Path],
        source: Phase,
        network: Network = "none",
        show: tuple[tuple[Path, Path], ...] = (),
        writable: bool = True,
        egress: EgressPolicy | None = None,
        home: Path | None = None,
        serve: Path | None = None,
        reach: tuple[tuple[int, Path], ...] = (),
        also: tuple[Path, ...] = (),
    ) -> SandboxLauncher:
        """A launcher for one task (`area`: its own directory under Honk's data dir) and phase; `show`
        binds more in, read-only: (what, where inside); `writable` False mounts the workspace read-only;
        `egress`: what the phase may reach through the egress proxy (None: nothing, refusals reported).
        `home`: a HOME of its own instead of the task's (setup holding secrets: what it writes down there
        is not left for the agent). `serve`: a directory where the way in to a server its program starts
        appears (`serve/app.sock`, passed to PREVIEW_PORT inside: a preview). `reach`: more ways out, each
        a port on the namespace's loopback passed to a unix socket outside (a preview, for the browser
        that takes its screenshots). `also`: a task over several repos' other workspaces, shown at their
        own paths as the workspace is (their mirrors belong in `git_dirs`). Close it when its programs have
        ended."""
        home, tmp = home or area / "sandbox-home", area / "tmp"
        policy = egress or EgressPolicy(source)
        proxy = self.config.egress if network != "full" else None
        if not self.enabled:
            home.mkdir(parents=True, exist_ok=True)
            tmp.mkdir(parents=True, exist_ok=True)
            gateway, extra = None, {}
            if proxy is not None:
                gateway = proxy.open(policy, tcp=True)
                assert gateway.address is not None
                extra = proxy_env(gateway.address[1], proxy.trust_dir, proxy.java_store)
            env = child_env({"HOME": str(home), "TMPDIR": str(tmp), **extra})
            if serve is not None:
                serve.mkdir(parents=True, exist_ok=True)
            return SandboxLauncher(workspace, env, None, network, area, gateway, serve)
        if (problem := self.problem()) is not None:
            raise SandboxUnavailable(
                f"Honk will not run repo code without its sandbox, and bubblewrap cannot run here: {problem}. "
                "Install it (Debian: apt-get install bubblewrap), or set HONK_SANDBOX=off to run unsandboxed "
                "at your own risk."
            )
        env = child_env(
            {
                "HOME": str(home),
                "TMPDIR": "/tmp",
                "XDG_CACHE_HOME": str(home / ".cache"),
                "XDG_CONFIG_HOME": str(home / ".config"),
            }
        )
        area.mkdir(parents=True, exist_ok=True)
        gateway = proxy.open(policy) if proxy is not None else None
        if proxy is not None:
            java = INSIDE / "trust" / proxy.java_store.name if proxy.java_store is not None else None
            env |= proxy_env(EGRESS_PORT, INSIDE / "trust", java)
        binds, prefix = self._ways_out(network, gateway, serve, reach)
        interpreter = Path(sys.executable).resolve()
        view = View(
            workspace=workspace.resolve(),
            home=home.resolve(),
            git_dirs=tuple(p.resolve() for p in git_dirs),
            masks=_clean_git_configs(git_dirs, area),
            hidden=self.config.hidden,
            # The PATH's tool chains, and the interpreter that runs the model bridge.
            tool_paths=(*(Path(p) for p in env["PATH"].split(os.pathsep) if p), interpreter.parent),
            read_only=self.config.read_only,
            network=network,
            binds=(*binds, *show),
            writable_binds=((serve.resolve(), INSIDE / "serve"),) if serve is not None else (),
            workspace_writable=writable,
            also=tuple(p.resolve() for p in also),
        )
        spec = area / f"sandbox-{source}.json"
        spec.write_text(
            json.dumps(
                {
                    "bwrap": shutil.which(self.config.bwrap) or self.config.bwrap,
                    "args": view.args(),
                    "env": env,
                    "prefix": prefix,
                    "dir_env": ["CLAUDE_CONFIG_DIR"],
                    "tmp_root": os.path.realpath(tempfile.gettempdir()),
                    "limits": {
                        "memory_mb": self.config.memory_mb,
                        "pids": self.config.pids,
                        "cgroups": int(self.config.cgroups),
                    },
                    "hidden": [str(p) for p in view.covered()],
                    "shown": [str(p) for p in view.shown()],
                    "network": network == "full",  # "model" reaches one socket: refused connections still count
                    "violations": str((area / "violations.jsonl").resolve()),
                    "source": source,
                }
            )
        )
        return SandboxLauncher(workspace, env, spec, network, area, gateway, serve)

    def _ways_out(
        self,
        network: Network,
        gateway: Gateway | None,
        serve: Path | None = None,
        reach: tuple[tuple[int, Path], ...] = (),
    ) -> tuple[tuple[tuple[Path, Path], ...], list[str]]:
        """What is bound in (the proxies' sockets, the trust files, the bridge) and run first (the
        bridge, when there is a way out, or in, at all)."""
        binds: list[tuple[Path, Path]] = []
        pairs: list[str] = []
        if serve is not None:
            serve.mkdir(parents=True, exist_ok=True)
            pairs += [str(INSIDE / "serve" / SERVE_SOCKET), str(PREVIEW_PORT)]
        for i, (port, way) in enumerate(reach):
            binds.append((way.parent.resolve(), INSIDE / f"reach{i}"))
            pairs += [str(port), str(INSIDE / f"reach{i}" / way.name)]
        if network == "model":
            if self.config.model_socket_dir is None:
                raise UserFacingError("This worker has no model key proxy, so an agent cannot reach the model API.")
            binds.append((self.config.model_socket_dir.resolve(), INSIDE / "model"))
            pairs += [str(BRIDGE_PORT), str(INSIDE / "model" / "model.sock")]
        if gateway is not None and gateway.socket_dir is not None and self.config.egress is not None:
            binds += [
                (gateway.socket_dir.resolve(), INSIDE / "egress"),
                (self.config.egress.trust_dir.resolve(), INSIDE / "trust"),
            ]
            pairs += [str(EGRESS_PORT), str(INSIDE / "egress" / "proxy.sock")]
        if not pairs:
            return (), []
        binds.append((BRIDGE.resolve(), INSIDE / "bridge.py"))
        python = str(Path(sys.executable).resolve())
        return tuple(binds), [python, "-I", "-S", str(INSIDE / "bridge.py"), *pairs, "--"]

    @staticmethod
    def blocked(area: Path) -> list[NetworkBlocked]:
        """What the egress proxy refused a task's sandboxes since the last call (taken, like violations)."""
        return _taken(area / "network-blocked.jsonl", NetworkBlocked)

    @staticmethod
    def violations(area: Path) -> list[Violation]:
        """What the sandbox refused since the last call (the file is taken, so nothing is read twice)."""
        return _taken(area / "violations.jsonl", Violation)


_R = TypeVar("_R", bound=BaseModel)


def _taken(path: Path, record: type[_R]) -> list[_R]:
    """The records a JSON-lines file holds, taken: renamed away first, so one written meanwhile starts a new
    file and nothing is read twice (nor by two readers)."""
    taken = path.with_suffix(f".{os.getpid()}.taken")
    try:
        path.rename(taken)
    except FileNotFoundError:
        return []
    lines = taken.read_text(encoding="utf-8", errors="replace").splitlines()
    taken.unlink()
    found: list[_R] = []
    for line in lines:
        try:
            found.append(record.model_validate_json(line))
        except ValueError:
            continue
    return found


def _event(b: Blocked, phase: Phase, command: str) -> NetworkBlocked:
    return NetworkBlocked(
        host=b.host, port=b.port, method=b.method, phase=phase, reason=b.reason, detail=b.detail,
        command=command[:300], times=b.times,
    )  # fmt: skip


def proxy_env(port: int, trust: Path, java_store: Path | None) -> dict[str, str]:
    """The settings real tools read to find the egress proxy and trust its authority (which also
    vouches for the hosts it terminates): curl, pip and requests, npm, git, cargo, Go, Ruby — and JVMs,
    which read none of the variables and take system properties through JAVA_TOOL_OPTIONS."""
    proxy, bundle, own = f"http://127.0.0.1:{port}", str(trust / "ca.pem"), str(trust / "honk-ca.pem")
    local = "localhost,127.0.0.1,::1"
    java = [
        f"-Dhttp.proxyHost=127.0.0.1 -Dhttp.proxyPort={port} -Dhttps.proxyHost=127.0.0.1 -Dhttps.proxyPort={port}",
        "-Dhttp.nonProxyHosts=localhost|127.0.0.1",
    ]
    if java_store is not None:
        java += java_trust_options(java_store)
    env = {name: proxy for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")}
    env |= {"NO_PROXY": local, "no_proxy": local}
    env |= {name: bundle for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT")}
    env |= {"GIT_SSL_CAINFO": bundle, "CARGO_HTTP_CAINFO": bundle, "CARGO_HTTP_PROXY": proxy}
    env |= {"NODE_EXTRA_CA_CERTS": own, "npm_config_cafile": bundle}
    env |= {"npm_config_proxy": proxy, "npm_config_https_proxy": proxy, "npm_config_noproxy": local}
    # Reads only: npm's audit and funding calls would be refusals in every install's output.
    env |= {"npm_config_audit": "false", "npm_config_fund": "false", "npm_config_update_notifier": "false"}
    env["JAVA_TOOL_OPTIONS"] = " ".join(java)
    return env


def _clean_git_configs(git_dirs: list[Path], area: Path) -> tuple[tuple[Path, Path], ...]:
    """A mirror's config names its remote; a URL with a password or token in it must not be readable."""
    masks = []
    for i, git_dir in enumerate(git_dirs):
        config = git_dir / "config"
        if config.is_file():
            clean = area / f"git-config-{i}"
            clean.write_text("\n".join(redact_url(line) for line in config.read_text().splitlines()) + "\n")
            masks.append((clean.resolve(), config.resolve()))
    return tuple(masks)


def process_limit_enforced() -> bool:
    """Whether a sandboxed command's process count can be limited here (a pids cgroup can be made)."""
    groups = limits.Cgroups.make({"pids": 64, "memory_mb": 4096, "cgroups": 1})
    try:
        return groups.pids is not None
    finally:
        groups.remove()


NAMESPACES = {
    "--unshare-user": "user",
    "--unshare-pid": "pid",
    "--unshare-net": "network",
    "--unshare-ipc": "IPC",
    "--unshare-uts": "UTS",
    "--unshare-cgroup": "cgroup",
}


def _probe(bwrap: str) -> str | None:
    """Why bubblewrap cannot confine here, naming the namespaces it cannot make, or None when it can."""
    path = shutil.which(bwrap)
    if path is None:
        return f"{bwrap} is not installed"
    failed = _try(path, ["--unshare-all", "--unshare-user"])
    if failed is None:
        return None
    missing = [name for flag, name in NAMESPACES.items() if _try(path, [flag]) is not None]
    if missing:
        return f"{path} cannot make a new {', '.join(missing)} namespace here ({failed})"
    return f"{path} failed: {failed}"


def _try(path: str, unshare: list[str]) -> str | None:
    argv = [
        path,
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        *unshare,
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--",
        "true",
    ]
    try:
        res = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"it did not start ({e})"
    return None if res.returncode == 0 else (res.stderr.strip()[:300] or f"exit {res.returncode}")
