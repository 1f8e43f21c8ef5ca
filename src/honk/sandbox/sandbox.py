"""Runs repo code and agent commands under bubblewrap, or refuses to, unless the operator said otherwise.

One `Sandbox` per worker. For each task and purpose it writes a spec (the bubblewrap arguments,
limits and what to watch for) into the task's area; `Confined.argv` / `Confined.shell` turn a
command into one that goes through `launch.py` with that spec. What the sandbox refused is read
back with `Sandbox.violations`.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from honk.domain import SandboxMode, ViolationKind
from honk.errors import UserFacingError
from honk.sandbox import launch
from honk.sandbox.view import View
from honk.workspace import proc
from honk.workspace.git import redact_url
from honk.workspace.proc import ProcResult, child_env

LAUNCHER = Path(__file__).with_name("launch.py")


@dataclass(frozen=True)
class SandboxConfig:
    mode: SandboxMode = "bwrap"
    bwrap: str = "bwrap"
    memory_mb: int = 4096
    pids: int = 512
    hidden: tuple[Path, ...] = ()  # Honk's secrets on disk: data dir, settings, policy, database
    read_only: tuple[Path, ...] = ()
    cgroups: bool = True


class Violation(BaseModel):
    kind: ViolationKind
    detail: str
    command: str
    source: str  # check, build, setup, agent


class Confined(BaseModel):
    """How to run commands for one task and purpose; crosses into agent jobs, so it is a record."""

    model_config = ConfigDict(frozen=True)

    spec: str | None = None  # None: unsandboxed
    env: dict[str, str] | None = None  # None: the worker's allow-listed environment

    def argv(self, command: str) -> list[str]:
        if self.spec is None:
            return ["bash", "-c", command]
        return [sys.executable, "-I", "-S", str(LAUNCHER), self.spec, "--", "bash", "-c", command]

    def shell(self, command: str) -> str:
        """The agent's shell tool runs this line instead of the command it asked for."""
        return shlex.join(self.argv(command)) if self.spec is not None else command

    async def run(self, command: str, cwd: Path, timeout_s: float, log_path: Path | None = None) -> ProcResult:
        """Runs `bash -c command` here, in the worker: the launcher's pieces in-process, without its
        interpreter start-up (checks run often; see bench/sandbox.py)."""
        if self.spec is None:
            return await proc.run(
                ["bash", "-c", command], cwd=cwd, timeout_s=timeout_s, log_path=log_path, env=self.env
            )
        spec = json.loads(Path(self.spec).read_text())
        groups = launch.Cgroups.make(spec["limits"])
        try:
            res = await proc.run(
                [spec["bwrap"], *spec["args"], "--", "bash", "-c", command],
                cwd=cwd,
                timeout_s=timeout_s,
                log_path=log_path,
                env=self.env,
                preexec=lambda: launch.limit(spec["limits"], groups),
            )
        finally:
            hits = groups.hits()
            groups.remove()
        log = launch.Violations(Path(spec["violations"]), f"bash -c {command}"[:300], spec["source"])
        watch = launch.Watch(spec)
        noted = [(kind, line.strip()[:300]) for line in res.output.splitlines() if (kind := watch.kind(line))]
        for kind, line in noted[:20]:
            log.add(kind, line)
        if res.timed_out:
            log.add("time_limit", f"stopped after {timeout_s:.0f}s, its time limit")
        for kind, detail in hits:
            log.add(kind, detail)
        return res


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

    def confine(
        self, area: Path, workspace: Path, git_dirs: list[Path], source: str, network: bool = False
    ) -> Confined:
        home, tmp = area / "sandbox-home", area / "tmp"
        if not self.enabled:
            home.mkdir(parents=True, exist_ok=True)
            tmp.mkdir(parents=True, exist_ok=True)
            return Confined(env=child_env({"HOME": str(home), "TMPDIR": str(tmp)}))
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
        view = View(
            workspace=workspace.resolve(),
            home=home.resolve(),
            git_dirs=tuple(p.resolve() for p in git_dirs),
            masks=_clean_git_configs(git_dirs, area),
            hidden=self.config.hidden,
            tool_paths=tuple(Path(p) for p in env["PATH"].split(os.pathsep) if p),
            read_only=self.config.read_only,
            network=network,
            env=env,
        )
        area.mkdir(parents=True, exist_ok=True)
        spec = area / f"sandbox-{source}.json"
        spec.write_text(
            json.dumps(
                {
                    "bwrap": shutil.which(self.config.bwrap) or self.config.bwrap,
                    "args": view.args(),
                    "limits": {
                        "memory_mb": self.config.memory_mb,
                        "pids": self.config.pids,
                        "cgroups": int(self.config.cgroups),
                    },
                    "hidden": [str(p) for p in view.covered()],
                    "shown": [str(p) for p in view.shown()],
                    "network": network,
                    "violations": str((area / "violations.jsonl").resolve()),
                    "source": source,
                }
            )
        )
        return Confined(spec=str(spec), env=env)

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
