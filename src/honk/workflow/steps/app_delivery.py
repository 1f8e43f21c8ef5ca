"""The new version on the phone: after a green build, `[deliver]` hands it to Honk's own install pages
(an APK, an .ipa) or to the team's upload command, and says in the task's events where to get it. A
service still processing the build (TestFlight) is asked again by the workflow, on a durable timer,
until it gives a link or `[deliver] wait_timeout` ends. Never a reason the task fails."""

from __future__ import annotations

from pathlib import Path

from honk.domain import SERVICE_NAMES, DeliverJob, DeliverSpec, DeliveryOutcome
from honk.events import AppDelivered, DeliveryFailed, DeliveryStarted, DeliveryWaiting
from honk.protocols import AppDeliverer, EventSink, Workspaces
from honk.workflow.records import DeliverInput


class AppDelivery:
    def __init__(self, workspaces: Workspaces, artifacts: Path, served: AppDeliverer, command: AppDeliverer) -> None:
        self.workspaces, self.artifacts, self.served, self.command = workspaces, artifacts, served, command

    async def deliver(self, inp: DeliverInput, emit: EventSink) -> DeliveryOutcome:
        spec = _spec(inp)
        await emit(DeliveryStarted(deliver=spec.kind))
        outcome = await self._for(spec).deliver(await self._job(inp))
        await emit(_said(outcome, inp.waited_s))
        return outcome

    async def wait(self, inp: DeliverInput, emit: EventSink) -> DeliveryOutcome:
        """Asks the team's service once more; past `wait_timeout`, a delivery still processing failed."""
        spec = _spec(inp)
        outcome = await self._for(spec).wait(await self._job(inp))
        if outcome.state == "processing" and inp.waited_s >= spec.wait_timeout_s:
            outcome = outcome.model_copy(
                update={
                    "state": "failed",
                    "why": f"{SERVICE_NAMES[spec.kind]} was still processing the build after {inp.waited_s / 60:.0f} minutes "
                    f"([deliver] wait_timeout is {spec.wait_timeout_s / 60:.0f}); look for it there, or raise "
                    "wait_timeout in .honk.toml",
                }
            )
        await emit(_said(outcome, inp.waited_s))
        return outcome

    def _for(self, spec: DeliverSpec) -> AppDeliverer:
        return self.served if spec.served else self.command

    async def _job(self, inp: DeliverInput) -> DeliverJob:
        req = inp.request
        ws = await self.workspaces.ensure(req.task_id, req.repo, req.repo.branch)
        return DeliverJob(
            task_id=req.task_id,
            repo=req.repo,
            config=inp.config,
            workspace=ws,
            artifacts_dir=str(self.artifacts / req.task_id),
            request=req.text,
            summary=inp.summary,
            branch=ws.branch,
        )


def _spec(inp: DeliverInput) -> DeliverSpec:
    if inp.config.deliver is None:
        raise ValueError("deliver called for a repo without [deliver]")
    return inp.config.deliver


def _said(outcome: DeliveryOutcome, waited_s: float) -> AppDelivered | DeliveryWaiting | DeliveryFailed:
    if outcome.state == "delivered" and outcome.url:
        return AppDelivered(outcome=outcome)
    if outcome.state == "processing":
        return DeliveryWaiting(outcome=outcome, waited_s=waited_s)
    if outcome.state == "delivered":  # delivered without a link to give: said as what it is
        outcome = outcome.model_copy(update={"state": "failed", "why": outcome.why or "no link came back"})
    return DeliveryFailed(outcome=outcome)
