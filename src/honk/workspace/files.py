"""A task's workspace as an agent may change it from the worker's side (Honk's `WorkspaceView`).

Every path is resolved, links included, and refused when it leads out of the workspace or into its
`.git`: a link the repo (or an earlier command) planted cannot carry a write to Honk's own files.
"""

from __future__ import annotations

from pathlib import Path

from honk.errors import UserFacingError


class WorkspaceFiles:
    def __init__(self, root: Path, writable: bool = True) -> None:
        self._root = root.resolve()
        self._writable = writable  # False while the agent plans: it reads, and changes nothing

    @property
    def root(self) -> Path:
        return self._root

    def path(self, rel: str) -> Path:
        path = (self._root / rel).resolve()
        if not path.is_relative_to(self._root):
            raise UserFacingError(f"Path {rel!r} leaves the workspace.")
        if path.relative_to(self._root).parts[:1] == (".git",):
            raise UserFacingError(f"Path {rel!r} is inside .git: Honk manages git itself.")
        return path

    def write(self, rel: str, text: str) -> None:
        path = self._changing(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def read(self, rel: str) -> str | None:
        path = self.path(rel)
        return path.read_text() if path.is_file() else None

    def delete(self, rel: str) -> None:
        self._changing(rel).unlink(missing_ok=True)

    def _changing(self, rel: str) -> Path:
        if not self._writable:
            raise UserFacingError(f"Cannot change {rel}: the workspace is read-only while the agent plans.")
        return self.path(rel)
