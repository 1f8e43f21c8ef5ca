"""Runs the repo's build command, then copies artifacts and the preview site out of the workspace.

Artifacts and previews are copied (not linked) so they outlive the workspace, which is deleted
when the task ends; only regular files inside the workspace are taken.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from honk.domain import Artifact, BuildSpec
from honk.protocols import Launcher
from honk.verify.distill import distill

MAX_ARTIFACT_BYTES = 512 * 1024 * 1024


@dataclass(frozen=True)
class BuildOutput:
    ok: bool
    artifacts: list[Artifact]
    has_preview: bool
    failure: str


async def build(
    spec: BuildSpec, workspace: Path, artifacts_dir: Path, preview_dir: Path, log: Path, launcher: Launcher
) -> BuildOutput:
    res = await launcher.shell(spec.run, timeout_s=spec.timeout_s, log=log)
    if not res.ok:
        detail = distill(res.output, res.exit_code, res.timed_out)
        return BuildOutput(False, [], False, f"## build failed (`{spec.run}`)\n{detail}")
    artifacts = _collect(spec.artifacts, workspace, artifacts_dir)
    has_preview = _publish_preview(spec.preview_dir, workspace, preview_dir)
    if spec.preview_dir and not has_preview:
        return BuildOutput(
            False,
            artifacts,
            False,
            f"## build failed\nThe build succeeded but left no preview directory {spec.preview_dir}/.",
        )
    return BuildOutput(True, artifacts, has_preview, "")


def _collect(globs: list[str], workspace: Path, dest: Path) -> list[Artifact]:
    shutil.rmtree(dest, ignore_errors=True)
    root = workspace.resolve()
    found: list[Artifact] = []
    for pattern in globs:
        for path in sorted(workspace.glob(pattern)):
            real = path.resolve()
            if not real.is_file() or not real.is_relative_to(root) or path.is_symlink():
                continue
            if real.stat().st_size > MAX_ARTIFACT_BYTES or any(a.name == path.name for a in found):
                continue
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(real, dest / path.name)
            found.append(Artifact(name=path.name, size=real.stat().st_size))
    return found


def _publish_preview(rel: str | None, workspace: Path, dest: Path) -> bool:
    shutil.rmtree(dest, ignore_errors=True)
    if not rel:
        return False
    src = (workspace / rel).resolve()
    if not src.is_dir() or not src.is_relative_to(workspace.resolve()):
        return False
    # symlinks=True copies links as links; the web server refuses to follow them out of the preview.
    shutil.copytree(src, dest, symlinks=True)
    return True
