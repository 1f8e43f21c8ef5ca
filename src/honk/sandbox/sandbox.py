"""Runs repo code and agents under bubblewrap, or refuses to, unless the operator said otherwise.

One `Sandbox` per worker. For each task and purpose it writes a spec (the bubblewrap arguments,
environment, limits and what to watch for) into the task's area and hands out a `SandboxLauncher`,
Honk's `Launcher`: the only way a step or an agent starts a process. What the sandbox refused is
read back with `Sandbox.violations`.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from honk.domain import Network, ProcResult, SandboxMode, ViolationKind
from honk.errors import UserFacingError
from honk.sandbox import launch
from honk.sandbox.view import View
from honk.workspace import proc
from honk.workspace.git import redact_url
from honk.workspace.proc import child_env

LAUNCHER = Path(__file__).with_name("launch.py")
BRIDGE = Path(__file__).with_name("bridge.py")
# Inside a confinement with the model reachable: the bridge's port on the namespace's own loopback,
# and where Honk's ways out are bound.
BRIDGE_PORT = 47000
INSIDE = Path("/run/honk")
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
    # confinements whose network is "model", the only way out they have.
    model_socket_dir: Path | None = None


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
    ) -> None:
        self.workspace, self.env, self.spec, self.network, self.area = workspace, env, spec, network, area

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
        if self.spec is None:
            return await proc.run(
                list(argv), cwd=self.workspace, timeout_s=timeout_s, log_path=log, env=full_env, stdin=stdin
            )
        spec = json.loads(self.spec.read_text())
        groups = launch.Cgroups.make(spec["limits"])
        try:
            res = await proc.run(
                [spec["bwrap"], *spec["args"], "--", *spec["prefix"], *argv],
                cwd=self.workspace,
                timeout_s=timeout_s,
                log_path=log,
                env=full_env,
                stdin=stdin,
                preexec=lambda: launch.limit(spec["limits"], groups),
            )
        finally:
            hits = groups.hits()
            groups.remove()
        violations = launch.Violations(Path(spec["violations"]), shlex.join(argv)[:300], spec["source"])
        self._watch(spec, res.output, violations)
        if res.timed_out:
            violations.add("time_limit", f"stopped after {timeout_s:.0f}s, its time limit")
        for kind, detail in hits:
            violations.add(kind, detail)
        return res

    async def shell(self, command: str, *, timeout_s: float, log: Path | None = None) -> ProcResult:
        return await self.run(["bash", "-c", command], timeout_s=timeout_s, log=log)

    def program(self, executable: Path, pass_env: Sequence[str]) -> Path:
        """A shell script running `executable` through launch.py (the stand-alone launcher) with this
        launcher's spec; unsandboxed, under `env -i` with only the named variables."""
        names = sorted({n for n in pass_env if n.replace("_", "").isalnum()})
        area = self.area or self.workspace
        script = area / f"run-{executable.name}"
        if self.spec is None:
            keep = " ".join(f'{n}="${{{n}}}"' for n in names)
            body = f'exec /usr/bin/env -i {keep} {shlex.quote(str(executable))} "$@"'
        else:
            launcher = [sys.executable, "-I", "-S", str(LAUNCHER), str(self.spec), "--pass", ",".join(names), "--"]
            body = f'exec {shlex.join(launcher)} {shlex.quote(str(executable))} "$@"'
        script.write_text(f"#!/bin/sh\n{body}\n")
        script.chmod(0o700)
        return script

    def noticed(self, output: str, command: str) -> None:
        if self.spec is None:
            return
        spec = json.loads(self.spec.read_text())
        self._watch(spec, output, launch.Violations(Path(spec["violations"]), command[:300], spec["source"]))

    @staticmethod
    def _watch(spec: dict, output: str, violations: launch.Violations) -> None:
        watch = launch.Watch(spec)
        noted = [(kind, line.strip()[:300]) for line in output.splitlines() if (kind := watch.kind(line))]
        for kind, line in noted[:20]:
            violations.add(kind, line)


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
        self, area: Path, workspace: Path, git_dirs: list[Path], source: str, network: Network = "none"
    ) -> SandboxLauncher:
        """A launcher for one task (`area`: its own directory under Honk's data dir) and purpose."""
        home, tmp = area / "sandbox-home", area / "tmp"
        if not self.enabled:
            home.mkdir(parents=True, exist_ok=True)
            tmp.mkdir(parents=True, exist_ok=True)
            env = child_env({"HOME": str(home), "TMPDIR": str(tmp)})
            return SandboxLauncher(workspace, env, None, network, area)
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
        binds, prefix = self._ways_out(network)
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
            binds=binds,
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
                    "tmp_root": str(Path(tempfile.gettempdir()).resolve()),
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
        return SandboxLauncher(workspace, env, spec, network, area)

    def _ways_out(self, network: Network) -> tuple[tuple[tuple[Path, Path], ...], list[str]]:
        """What "model" binds in (the key proxy's socket, the bridge) and runs first (the bridge)."""
        if network != "model":
            return (), []
        if self.config.model_socket_dir is None:
            raise UserFacingError("This worker has no model key proxy, so an agent cannot reach the model API.")
        binds = ((self.config.model_socket_dir.resolve(), INSIDE / "model"), (BRIDGE.resolve(), INSIDE / "bridge.py"))
        python = str(Path(sys.executable).resolve())
        return binds, [
            python,
            "-I",
            "-S",
            str(INSIDE / "bridge.py"),
            str(BRIDGE_PORT),
            str(INSIDE / "model" / "model.sock"),
            "--",
        ]

    @staticmethod
    def violations(area: Path) -> list[Violation]:
        """What the sandbox refused since the last call (the file is taken, so nothing is read twice)."""
        found = _killed(area)
        path = area / "violations.jsonl"
        taken = path.with_suffix(f".{os.getpid()}.taken")
        try:
            path.rename(taken)
        except FileNotFoundError:
            return found
        lines = taken.read_text(encoding="utf-8", errors="replace").splitlines()
        taken.unlink()
        for line in lines:
            try:
                found.append(Violation.model_validate_json(line))
            except ValueError:
                continue
        return found


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
    groups = launch.Cgroups.make({"pids": 64, "memory_mb": 4096, "cgroups": 1})
    try:
        return groups.pids is not None
    finally:
        groups.remove()


def _killed(area: Path) -> list[Violation]:
    """Launchers that were killed outright (SIGKILL from an agent's own command timeout) left a marker."""
    found = []
    for marker in (area / "running").glob("*"):
        if not marker.name.isdigit() or launch.alive(int(marker.name)):
            continue
        try:
            info = json.loads(marker.read_text())
        except (OSError, ValueError):
            info = {}
        marker.unlink(missing_ok=True)
        found.append(
            Violation(
                kind="time_limit",
                detail="stopped from outside before it finished (the agent's command timeout, or a cancellation)",
                command=str(info.get("command", "?")),
                source=str(info.get("source", "agent")),
            )
        )
    return found


def _probe(bwrap: str) -> str | None:
    path = shutil.which(bwrap)
    if path is None:
        return f"{bwrap} is not installed"
    try:
        res = subprocess.run(
            [
                path,
                "--ro-bind",
                "/",
                "/",
                "--dev",
                "/dev",
                "--proc",
                "/proc",
                "--unshare-all",
                "--unshare-user",
                "--cap-drop",
                "ALL",
                "--die-with-parent",
                "--",
                "true",
            ],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{path} did not start ({e})"
    if res.returncode != 0:
        return f"{path} failed: {res.stderr.strip()[:300] or res.returncode}"
    return None
