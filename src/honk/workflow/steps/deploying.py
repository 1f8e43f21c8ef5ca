"""Production after merge: `[deploy]` on the merged commit — the repo's own command (confined in the
deploy phase, with its secrets and hosts) or the forge's word that its deploy of that commit finished —
then the health check, until "live in production" or a failure that says why and offers a Revert.

Who may deploy, and freeze windows, are the access policy's (`Gate.check_deploy`): a merge by someone
who may not deploy, or inside a freeze, merges and holds the deploy, saying why, until someone who may
presses Deploy. Every deploy is in the deploy history (`honk deploys REPO`) and the audit log."""

from __future__ import annotations

import asyncio
import time

from honk.domain import DeployJob, DeployOutcome, DeploySpec
from honk.events import DeployFinished, DeployHeld, DeployStarted
from honk.forge.registry import Forges
from honk.gate import Gate
from honk.protocols import Deployer, EventSink, Workspaces
from honk.store.deploys import DeployHistory
from honk.workflow.records import DeployInput

FORGE_POLL_S = 10.0  # how often the forge is asked about its deploy of the merged commit


class Deploying:
    def __init__(
        self,
        workspaces: Workspaces,
        deployer: Deployer,
        forges: Forges,
        history: DeployHistory,
        gate: Gate,
        forge_poll_s: float = FORGE_POLL_S,
    ) -> None:
        self.workspaces, self.deployer, self.forges = workspaces, deployer, forges
        self.history, self.gate, self.forge_poll_s = history, gate, forge_poll_s

    async def allowed(self, inp: DeployInput, emit: EventSink) -> bool:
        """Whether the person who merged may deploy now; when not, the deploy is held, saying why."""
        refused = await self.gate.check_deploy(inp.request, inp.by, revert=inp.revert)
        if refused is None:
            return True
        await emit(DeployHeld(reason=f"{refused} Someone who may deploy presses Deploy on the task."))
        return False

    async def deploy(self, inp: DeployInput, emit: EventSink) -> DeployOutcome:
        req, spec = inp.request, _spec(inp)
        deploy_id = await self.history.started(req.repo.name, req.task_id, inp.commit, inp.by)
        await emit(
            DeployStarted(
                commit=inp.commit,
                target=inp.target,
                by=inp.by,
                how="run" if spec.run else "wait_for",
                revert=inp.revert,
            )
        )
        key = f"{req.task_id}:deploy"
        ws = await self.workspaces.checkout_at(key, req.repo, inp.commit)
        job = DeployJob(
            task_id=req.task_id,
            repo=req.repo,
            config=inp.config,
            commit=inp.commit,
            target=inp.target,
            workspace=ws,
            by=inp.by,
        )
        try:
            outcome = await (self.deployer.deploy(job) if spec.run else self._forge_deployed(job, spec))
            await self.history.moved(deploy_id, outcome.state, detail=outcome.detail, link=outcome.url)
            if outcome.ok:
                deployed = outcome
                outcome = await self.deployer.health(job)
                if outcome.url is None:  # the forge's environment link, where .honk.toml names none
                    outcome = outcome.model_copy(update={"url": deployed.url})
                await self.history.moved(deploy_id, outcome.state, detail=outcome.detail, link=outcome.url)
        finally:
            await self.workspaces.drop(key, req.repo)
        await self.gate.deployed(req, inp.by, outcome, revert=inp.revert)
        await emit(DeployFinished(outcome=outcome))
        return outcome

    async def _forge_deployed(self, job: DeployJob, spec: DeploySpec) -> DeployOutcome:
        """`wait_for`: asks the forge about the merged commit until its deploy succeeded or failed, or
        `[deploy] timeout` ends."""
        awaited, forge = spec.awaited, self.forges.of(job.repo)
        assert awaited is not None
        started, said = time.monotonic(), ""
        while time.monotonic() - started < spec.timeout_s:
            answer = await forge.deployment(job.repo, job.commit, awaited)
            said = answer.detail or answer.problem
            if answer.status == "success":
                return DeployOutcome(
                    state="deployed",
                    commit=job.commit,
                    url=spec.url or answer.url,
                    duration_s=time.monotonic() - started,
                )
            if answer.status in ("failure", "unsupported"):
                what = f"{awaited.kind} {awaited.name!r}"
                return DeployOutcome(
                    state="deploy_failed",
                    commit=job.commit,
                    detail=f"## the forge's deploy failed ({what})\n{answer.detail or answer.status}",
                    url=answer.url,
                    duration_s=time.monotonic() - started,
                )
            await asyncio.sleep(self.forge_poll_s)
        return DeployOutcome(
            state="deploy_failed",
            commit=job.commit,
            detail=f"## the forge said nothing of {spec.wait_for} for {job.commit[:10]} within {spec.timeout_s:.0f} s"
            + (f"\nlast: {said}" if said else ""),
            duration_s=time.monotonic() - started,
        )


def _spec(inp: DeployInput) -> DeploySpec:
    if inp.config.deploy is None:
        raise ValueError("deploy called for a repo without [deploy]")
    return inp.config.deploy
