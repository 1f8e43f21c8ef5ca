"""The bundled sample repo that `honk up` registers on first run.

The sample is a tiny standard-library "playlist" site with a known bug (it
crashes when a playlist is empty) and a scripted demo agent that fixes it in
two rounds, so a newcomer's first request walks the whole route: agent run,
failing check fed back, fix, passing checks, build, preview, merge.

The files under ``repo/`` are plain package data. Honk copies them into a fresh
git repository at runtime, so the directory never contains a ``.git`` dir.
"""

from __future__ import annotations

import pathlib
from importlib import resources


def sample_repo_dir() -> pathlib.Path:
    """Return the directory holding the sample repo's files (package data)."""
    return pathlib.Path(str(resources.files("honk.sample") / "repo"))
