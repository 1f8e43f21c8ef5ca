"""`[preview] install`, run once per workspace and again only when its inputs change.

What it ran for is a hash of the command and the contents of the input files that exist (lock files,
manifests), recorded per workspace in the task's area: a preview woken from idle, or started again
after a follow-up that changed no dependency, starts without installing anything.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from honk.domain import PreviewSpec, ProcResult
from honk.protocols import Launcher

RECORD = "preview-install.json"
MAX_INPUT = 64 * 1024 * 1024  # a lock file larger than this is hashed by its size and time only


def digest(workspace: Path, spec: PreviewSpec) -> str:
    """What this install would run for: the command and its inputs' contents (in the spec's order)."""
    h = hashlib.sha256((spec.install or "").encode())
    root = workspace.resolve()
    for name in spec.install_inputs:
        path = workspace / name
        # Only regular files inside the workspace: a link the agent made must not make the worker read
        # elsewhere (or block on a FIFO or device).
        if not path.is_file() or not path.resolve().is_relative_to(root):
            continue
        h.update(b"\0" + name.encode() + b"\0")
        stat = path.stat()
        if stat.st_size > MAX_INPUT:
            h.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
            continue
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def installed(area: Path, workspace: Path) -> str | None:
    """The digest the last install that succeeded in this workspace ran for."""
    try:
        return json.loads((area / RECORD).read_text()).get(str(workspace.resolve()))
    except (OSError, ValueError, AttributeError):
        return None


def remember(area: Path, workspace: Path, value: str) -> None:
    path = area / RECORD
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        record = {}
    if not isinstance(record, dict):
        record = {}
    record[str(workspace.resolve())] = value
    area.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(f".{os.getpid()}.part")
    part.write_text(json.dumps(record))
    part.replace(path)  # whole or not at all: a half-written record would only cost one install


async def install_if_needed(
    launcher: Launcher, spec: PreviewSpec, area: Path, workspace: Path, log: Path
) -> ProcResult | None:
    """Runs `install` when its digest differs from the last one that succeeded here; None: it did not
    need to run (or there is none)."""
    if not spec.install:
        return None
    value = digest(workspace, spec)
    if installed(area, workspace) == value:
        return None
    res = await launcher.shell(spec.install, timeout_s=spec.install_timeout_s, log=log)
    if res.ok:  # as the inputs are now: an install that rewrites its lock file does not run again for that
        remember(area, workspace, digest(workspace, spec))
    return res
