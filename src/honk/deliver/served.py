"""Honk's own delivery of an APK or an .ipa the build made: read it (never trusting the file), check
it, keep what its install page shows beside it, and give the person a signed, expiring link to that page.

What is refused says why, in words the person who asked can act on: no such artifact (and which there
are), an empty or corrupt file, a signature apksigner rejects, an .ipa of another app, or an
over-the-air install from a server that is not on HTTPS."""

from __future__ import annotations

import asyncio
import fnmatch
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

from honk.deliver.apk import inspect_apk
from honk.deliver.ios import https_refusal, read_ipa
from honk.deliver.links import ArtifactLinks
from honk.deliver.shelf import DeliveryShelf, described_apk, described_ipa
from honk.domain import ANDROID_APK, DeliverJob, DeliveryOutcome, DeliveryRefused
from honk.sandbox import Sandbox

DEFAULT_GLOB = {"android-apk": "*.apk", "ios-ota": "*.ipa"}


def artifact_named(artifacts: Path, wanted: str | None, kind: str) -> Path | DeliveryRefused:
    """The build's artifact `[deliver] artifact` names (a name or glob; a path's last part), else the
    first of the kind's usual extension."""
    pattern = PurePosixPath(wanted).name if wanted else DEFAULT_GLOB.get(kind, "*")
    try:
        names = sorted(p.name for p in artifacts.iterdir() if p.is_file() and not p.name.startswith("."))
    except OSError:
        names = []
    found = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
    if found:
        return artifacts / found[0]
    kept = f"it kept {', '.join(names[:10])}" if names else "it kept no file"
    return DeliveryRefused(
        why=f"The build left no artifact matching {pattern} to deliver ({kept}). List the app's file in "
        "[build] artifacts in .honk.toml (and name it in [deliver] artifact when there are several)."
    )


class ServedApps:
    """Honk's `AppDeliverer` for `android-apk` and `ios-ota`."""

    def __init__(self, sandbox: Sandbox, areas: Path, shelf: DeliveryShelf, links: ArtifactLinks, ttl_s: float) -> None:
        self.sandbox, self.areas, self.shelf, self.links, self.ttl_s = sandbox, areas, shelf, links, ttl_s

    async def deliver(self, job: DeliverJob) -> DeliveryOutcome:
        spec, artifacts = job.spec, Path(job.artifacts_dir)
        found = artifact_named(artifacts, spec.artifact, spec.kind)
        if isinstance(found, DeliveryRefused):
            return self._failed(job, found)
        if spec.kind == ANDROID_APK:
            # apksigner sees the task's artifacts read-only where they are (as the team's command does),
            # so the same path names the file sandboxed or not.
            launcher = self.sandbox.launcher(
                self.areas / job.task_id,
                job.workspace.path,
                [job.workspace.mirror],
                "deliver",
                show=((artifacts, artifacts),),
                writable=False,
            )
            try:
                read = await inspect_apk(found, launcher)
            finally:
                launcher.close()
            if isinstance(read, DeliveryRefused):
                return self._failed(job, read)
            app = await asyncio.to_thread(described_apk, job.task_id, found, read)
            icon = read.icon_png
        else:
            if (refused := https_refusal(self.links.public_url)) is not None:
                return self._failed(job, refused)
            ipa = await asyncio.to_thread(read_ipa, found, spec.bundle_id)
            if isinstance(ipa, DeliveryRefused):
                return self._failed(job, ipa)
            app, icon = await asyncio.to_thread(described_ipa, job.task_id, found, ipa), None
        await asyncio.to_thread(self.shelf.put, app, icon)
        token = self.links.token(job.task_id, app.name, app.sha256, self.ttl_s)
        return DeliveryOutcome(
            state="delivered",
            kind=spec.kind,
            url=self.links.install_url(token),
            label="Install",
            title=app.title,
            version=app.version,
            build=app.build,
            expires_at=datetime.now(UTC) + timedelta(seconds=self.ttl_s),
            signature=app.signature,
        )

    async def wait(self, job: DeliverJob) -> DeliveryOutcome:
        return await self.deliver(job)  # served at once: never "processing"

    @staticmethod
    def _failed(job: DeliverJob, refused: DeliveryRefused) -> DeliveryOutcome:
        return DeliveryOutcome(state="failed", kind=job.spec.kind, why=refused.why)
