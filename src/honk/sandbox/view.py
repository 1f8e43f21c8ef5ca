"""What a sandboxed command sees of the machine, as bubblewrap arguments.

The system is visible read-only; the workspace and the task's own home are writable; /tmp is
private; everything that holds a secret (Honk's data dir, settings, policy and database, every
home directory, host keys, password hashes, service sockets) is covered up. Tool chains that live
under a covered directory (pyenv, nvm, a venv in a home) are put back read-only, one prefix each,
unless that prefix would uncover a secret.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from honk.domain import Network

# Covered on every machine. Files get /dev/null on top; directories an empty tmpfs.
SYSTEM_SECRETS = (
    Path("/etc/shadow"),
    Path("/etc/gshadow"),
    Path("/etc/ssh"),
    Path("/etc/honk"),
    Path("/run"),
    Path("/var/log"),
    Path("/var/lib/postgresql"),
    Path("/root"),
    Path("/home"),
)
TMP = Path("/tmp")
# Names inside a home that must never come back with a tool chain.
HOME_SECRETS = (
    ".ssh",
    ".git-credentials",
    ".gitconfig",
    ".netrc",
    ".config",
    ".aws",
    ".docker",
    ".gnupg",
    ".kube",
    ".claude",
    ".claude.json",
    ".honk",
    ".pgpass",
    ".npmrc",
    ".pypirc",
    # inside tool chains' own directories, e.g. ~/.cargo/credentials.toml
    "credentials",
    "credentials.toml",
    ".credentials.json",
)


@dataclass(frozen=True)
class View:
    workspace: Path
    home: Path  # the sandbox's HOME, in the task's area
    git_dirs: tuple[Path, ...] = ()  # the mirror the workspace's .git points into: read-only
    hidden: tuple[Path, ...] = ()  # Honk's own secrets (data dir, settings, policy, database)
    tool_paths: tuple[Path, ...] = ()  # PATH entries, so their tool chains stay usable
    read_only: tuple[Path, ...] = ()  # more to show read-only, from the operator
    # (what to show, where): files shown in place of the real ones, e.g. a mirror's config with the
    # credentials cut out of its remote URL.
    masks: tuple[tuple[Path, Path], ...] = ()
    network: Network = "none"
    # (what to show, where) read-only: Honk's own ways out, e.g. the model proxy's socket and its bridge.
    binds: tuple[tuple[Path, Path], ...] = ()
    # (what, where) writable: the directory a preview's way in (its socket) is made in.
    writable_binds: tuple[tuple[Path, Path], ...] = ()
    # False while an agent plans: it reads the repo, and nothing it starts can change it.
    workspace_writable: bool = True
    # A task over several repos (issue 20): its other workspaces, shown at their own paths like the workspace
    # (writable as it is, their `.git` read-only); nothing else under Honk's data dir becomes visible.
    also: tuple[Path, ...] = ()

    def covered(self) -> list[Path]:
        return list(self._covered)

    # Looked at once per view (a launcher asks for its arguments, what it covers and what it shows): finding
    # the tool chains walks every PATH entry, and a launcher is made for every check and agent run.
    @cached_property
    def _covered(self) -> tuple[Path, ...]:
        home = Path(os.path.expanduser("~"))
        paths = [*SYSTEM_SECRETS, home, *(p.resolve() for p in self.hidden)]
        return tuple(_unique([p for p in paths if p.exists()]))

    @cached_property
    def _chains(self) -> tuple[Path, ...]:
        return tuple(self._tool_chains(list(self._covered)))

    def args(self) -> list[str]:
        args = ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/dev/shm"]
        covered = self.covered()
        for path in covered:
            args += ["--ro-bind", "/dev/null", str(path)] if path.is_file() else ["--tmpfs", str(path)]
        for prefix in self._chains:
            args += ["--ro-bind", str(prefix), str(prefix)]
        for path in self.read_only:
            if path.exists() and not _reveals(path, covered):
                args += ["--ro-bind", str(path), str(path)]
        for path in self.git_dirs:
            args += ["--ro-bind", str(path), str(path)]
        for shown, real in self.masks:
            args += ["--ro-bind", str(shown), str(real)]
        self.home.mkdir(parents=True, exist_ok=True)
        mount = "--bind" if self.workspace_writable else "--ro-bind"
        args += [mount, str(self.workspace), str(self.workspace), "--bind", str(self.home), str(self.home)]
        for workspace in (self.workspace, *self.also):
            if workspace != self.workspace:
                args += [mount, str(workspace), str(workspace)]
            dotgit = workspace / ".git"
            if dotgit.exists():  # the agent may not point a workspace at another repository
                args += ["--ro-bind", str(dotgit), str(dotgit)]
        for shown, where in self.binds:
            args += ["--ro-bind", str(shown), str(where)]
        for shown, where in self.writable_binds:
            args += ["--bind", str(shown), str(where)]
        if self.network == "full":
            args += _resolver_binds()
        # What covers a secret is empty and read-only: a write there fails (and is reported) instead of
        # vanishing with the sandbox. What is shown inside (the workspace, tool chains) keeps its mount.
        for path in covered:
            if not path.is_file():
                args += ["--remount-ro", str(path)]
        # The environment is bubblewrap's own (Honk starts it with exactly the allowed variables), so
        # no value is ever on its command line, which /proc/1/cmdline shows inside the namespace.
        return [
            *args,
            "--unshare-all",
            "--unshare-user",
            *(["--share-net"] if self.network == "full" else []),
            "--cap-drop",
            "ALL",
            "--die-with-parent",
            "--new-session",
            "--hostname",
            "sandbox",
            "--chdir",
            str(self.workspace),
        ]

    def shown(self) -> list[Path]:
        """What is visible although it lies inside a covered path."""
        return [*self._chains, *self.git_dirs, self.workspace, *self.also, self.home]

    def _tool_chains(self, covered: list[Path]) -> list[Path]:
        found: list[Path] = []
        for prefix in _candidates(self.tool_paths):
            # Under a covered path, or under /tmp, which the sandbox replaces with its own.
            if not prefix.exists() or not any(_under(prefix, c) for c in [*covered, TMP]):
                continue
            if _reveals(prefix, covered) or prefix in found:
                continue
            found.append(prefix)
        return found


@functools.lru_cache(maxsize=64)
def _candidates(tool_paths: tuple[Path, ...]) -> tuple[Path, ...]:
    """Where each PATH entry's tool chain lives (its prefix, and a venv's base installation), in order. Worked
    out once per PATH in a worker's life (it resolves links and reads pyvenv.cfg files); whether each may be
    shown is decided again for every view (_tool_chains), so a secret that appears later is still covered."""
    return tuple(p for entry in tool_paths for p in (_prefix(entry), _venv_home(entry)) if p is not None)


def _prefix(entry: Path) -> Path:
    entry = entry.resolve()
    return entry.parent if entry.name in ("bin", "sbin", "shims") else entry


def _venv_home(entry: Path) -> Path | None:
    """A venv's interpreter is a link into its base installation, which must be visible too."""
    cfg = _prefix(entry) / "pyvenv.cfg"
    if not cfg.is_file():
        return None
    for line in cfg.read_text(errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            return _prefix(Path(value.strip()))
    return None


def _homes() -> set[Path]:
    return {Path("/root"), Path("/home"), Path(os.path.expanduser("~")).resolve()}


def _reveals(path: Path, covered: list[Path]) -> bool:
    """Would showing `path` show a secret: a home as a whole, a covered path inside it, or credentials?"""
    path, homes = path.resolve(), _homes()
    if any(_under(h, path) for h in homes):
        return True
    if any(_under(c, path) for c in covered if c not in homes):
        return True
    if path.name == ".local" and path.parent in homes:  # ~/.local/share holds keyrings and app data
        return True
    return any((path / name).exists() for name in HOME_SECRETS)


def _under(path: Path, parent: Path) -> bool:
    # Lexical, as Path.is_relative_to is, on the strings: this runs hundreds of times per launcher.
    inner, outer = str(path), str(parent)
    return inner == outer or inner.startswith(outer if outer.endswith("/") else outer + "/")


def _resolver_binds() -> list[str]:
    """With the network on, name resolution may need a file under the covered /run."""
    conf = Path("/etc/resolv.conf")
    real = conf.resolve()
    return ["--ro-bind", str(real), str(real)] if real != conf and real.is_relative_to("/run") else []


def _unique(paths: list[Path]) -> list[Path]:
    seen: list[Path] = []
    for p in paths:
        if p not in seen:
            seen.append(p)
    return seen
