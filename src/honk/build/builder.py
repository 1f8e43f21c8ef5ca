"""Runs the repo's build command, then copies artifacts and the preview site out of the workspace.

Artifacts and previews are copied (not linked) so they outlive the workspace, which is deleted
when the task ends; only regular files inside the workspace are taken.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from honk.domain import Artifact, BuildOutcome, BuildSpec, TaskRequest, Workspace
from honk.network import EgressPolicy
from honk.protocols import Launcher
from honk.sandbox import Sandbox
from honk.verify.distill import distill

MAX_ARTIFACT_BYTES = 512 * 1024 * 1024


class RepoBuilder:
    """Honk's `Builder`: the repo's build command confined in the task's sandbox; artifacts and the
    preview site copied out to where the web server serves them."""

    def __init__(self, sandbox: Sandbox, areas: Path, logs: Path, artifacts: Path, previews: Path) -> None:
        self.sandbox, self.areas, self.logs = sandbox, areas, logs
        self.artifacts, self.previews = artifacts, previews

    async def build(
        self, task: TaskRequest, ws: Workspace, spec: BuildSpec, egress: EgressPolicy | None = None
    ) -> BuildOutcome:
        launcher = self.sandbox.launcher(self.areas / task.task_id, ws.path, [ws.mirror], "build", egress=egress)
        try:
            return await build(
                spec,
                ws.path,
                self.artifacts / task.task_id,
                self.previews / task.task_id,
                self.logs / task.task_id / "build.log",
                launcher,
            )
        finally:
            launcher.close()


async def build(
    spec: BuildSpec, workspace: Path, artifacts_dir: Path, preview_dir: Path, log: Path, launcher: Launcher
) -> BuildOutcome:
    res = await launcher.shell(spec.run, timeout_s=spec.timeout_s, log=log)
    if not res.ok:
        detail = distill(res.output, res.exit_code, res.timed_out)
        return BuildOutcome(ok=False, failure=f"## build failed (`{spec.run}`)\n{detail}")
    artifacts = _collect(spec.artifacts, workspace, artifacts_dir)
    has_preview = _publish_preview(spec.preview_dir, workspace, preview_dir)
    if spec.preview_dir and not has_preview:
        return BuildOutcome(
            ok=False,
            artifacts=artifacts,
            failure=f"## build failed\nThe build succeeded but left no preview directory {spec.preview_dir}/.",
        )
    return BuildOutcome(ok=True, artifacts=artifacts, has_preview=has_preview)


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
