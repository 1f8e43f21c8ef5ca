"""The new version, running: after a green build, the task's `[preview] start` server runs in its sandbox
at its own origin, the target branch's version runs beside it for a moment, and each route is
screenshotted in both (phone and desktop) and compared. A preview that fails does not stop the task:
it goes to review saying so, with the server log's last lines."""

from __future__ import annotations

import time
from collections.abc import Callable

from honk.domain import PreviewEndpoint, PreviewSpec, RepoRef, RouteShots
from honk.egress.policies import EgressPolicies
from honk.errors import UserFacingError
from honk.events import PreviewFailed, PreviewReady, PreviewStarting, ScreenshotsTaken
from honk.network import EgressPolicy
from honk.protocols import EventSink, Previews, Screenshooter, Workspaces
from honk.workflow import policy
from honk.workflow.records import PreviewInput, PreviewResult
from honk.workflow.steps.refusals import Refusals

# A route whose screenshots differ in less than this share of pixels did not visibly change.
VISIBLE_CHANGE = 0.001


def before_key(task_id: str) -> str:
    """The name of the target branch's working copy and preview, beside the task's."""
    return f"{task_id}:before"


class Previewing:
    def __init__(
        self,
        workspaces: Workspaces,
        previews: Previews,
        shooter: Screenshooter | None,
        refusals: Refusals,
        origin: Callable[[str], str],
        egress: EgressPolicies | None = None,
    ) -> None:
        self.workspaces, self.previews, self.shooter, self.refusals = workspaces, previews, shooter, refusals
        self.origin, self.egress = origin, egress

    async def preview(self, inp: PreviewInput, emit: EventSink) -> PreviewResult:
        req, spec = inp.request, inp.config.preview
        if spec is None or not spec.running:
            return PreviewResult()
        await emit(PreviewStarting())
        started = time.monotonic()
        try:
            ws = await self.workspaces.ensure(req.task_id, req.repo, req.repo.branch)
            network = await self.egress.policy(req.repo, inp.config, "preview") if self.egress else None
            # A new version: started afresh (not every server reloads its code by itself).
            await self.previews.stop(req.task_id, "a new version of the task")
            out = await self.previews.start(req.task_id, ws, spec, network)
            if not out.ok:
                await emit(PreviewFailed(reason=out.detail, log_tail=out.log_tail))
                return PreviewResult(ok=False, warnings=[f"preview failed: {out.detail}"])
            url = self.origin(req.task_id)
            await emit(PreviewReady(url=url, routes=spec.routes, duration_s=time.monotonic() - started))
            assert out.endpoint is not None
            shots, warnings = await self._compare(inp, spec, out.endpoint, network)
            if shots is not None:
                await emit(ScreenshotsTaken(routes=shots, outside=outside(shots, inp.asked)))
                warnings += [outside_warning(r, shots) for r in outside(shots, inp.asked)]
            return PreviewResult(url=url, warnings=warnings)
        finally:
            await self.refusals.collect(req, emit)

    async def _compare(
        self, inp: PreviewInput, spec: PreviewSpec, after: PreviewEndpoint, network: EgressPolicy | None
    ) -> tuple[list[RouteShots] | None, list[str]]:
        """The target branch's version started beside the task's, both screenshotted, then it stops."""
        if self.shooter is None:
            return None, []
        req = inp.request
        ws = await self.workspaces.ensure(req.task_id, req.repo, req.repo.branch)
        base = await self.workspaces.merge_base(ws, policy.merge_target(req.repo, inp.config))
        key = before_key(req.task_id)
        before_ws = await self.workspaces.checkout_at(key, req.repo, base)
        before = await self.previews.start(key, before_ws, spec, network, register=False)
        try:
            shots = await self.shooter.compare(
                req.task_id, before.endpoint if before.ok else None, after, spec.routes, network
            )
        except UserFacingError as e:  # no browser on this worker: the preview still works
            return None, [f"no screenshots: {e.message}"]
        finally:
            await self.previews.stop(key, "screenshots taken")
        notes = (
            []
            if before.ok
            else [f"the target branch's version did not start, so there is no 'before': {before.detail}"]
        )
        return shots, notes

    async def wake(self, inp: PreviewInput, emit: EventSink) -> None:
        """Someone opened the task's stopped preview: start it again here, from its branch (made again
        from the published branch when this worker has no copy), with the config the task started with
        (never the one on its branch: that is the agent's to change)."""
        req, spec = inp.request, inp.config.preview
        if spec is None or not spec.running:
            return
        ws = await self.workspaces.ensure(req.task_id, req.repo, req.repo.branch)
        network = await self.egress.policy(req.repo, inp.config, "preview") if self.egress else None
        try:
            out = await self.previews.start(req.task_id, ws, spec, network)
        finally:
            await self.refusals.collect(req, emit)
        if not out.ok:
            await emit(PreviewFailed(reason=out.detail, log_tail=out.log_tail))

    async def stop(self, task_id: str, repo: RepoRef) -> None:
        await self.previews.stop(task_id, "the task ended")
        await self.workspaces.drop(before_key(task_id), repo)


def outside(shots: list[RouteShots], asked: list[str]) -> list[str]:
    """Routes that visibly changed though the request (and its follow-ups) named other routes. A
    request that names none is about the whole app: nothing is outside it."""
    text = "\n".join(asked)
    named = {s.route for s in shots if s.route != "/" and s.route in text}
    if not named:
        return []
    return [s.route for s in shots if s.route not in named and s.changed >= VISIBLE_CHANGE]


def outside_warning(route: str, shots: list[RouteShots]) -> str:
    changed = next((s.changed for s in shots if s.route == route), 0.0)
    return f"{route} changed too ({changed:.1%} of its pixels), though the request did not name it"
