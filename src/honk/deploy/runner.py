"""Runs a repo's `[deploy] run` on what was merged, then its health check: both confined in the deploy
phase's sandbox, with the hosts and secrets `.honk.toml` gives that phase (and nothing else).

The deploy command gets the merged commit's checkout as its workspace and a HOME of its own, removed
after (a tool that writes its credentials down leaves them nowhere a later sandbox sees), and the
contract below in its environment. A failing command is an outcome with its distilled log, never an
error: the thread says "deploy failed" and offers a revert.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from honk.deploy.health import check_health
from honk.domain import DeployJob, DeployOutcome
from honk.egress.policies import EgressPolicies
from honk.network import EgressPolicy
from honk.sandbox import Sandbox, SandboxLauncher
from honk.verify.distill import distill


def contract(job: DeployJob) -> dict[str, str]:
    """What every deploy command (and health command) is told, documented in docs/deploy.md."""
    return {
        "HONK_COMMIT": job.commit,  # the merged commit, checked out as the working directory
        "HONK_BRANCH": job.target,  # the branch it was merged to
        "HONK_REPO": job.repo.name,
        "HONK_TASK": job.task_id,
    }


class RepoDeployer:
    """Honk's `Deployer`: `deploy` runs `[deploy] run`; `health` runs `[deploy] health` until it passes."""

    def __init__(self, sandbox: Sandbox, areas: Path, logs: Path, egress: EgressPolicies | None = None) -> None:
        self.sandbox, self.areas, self.logs, self.egress = sandbox, areas, logs, egress

    async def deploy(self, job: DeployJob) -> DeployOutcome:
        spec = job.spec
        if spec.run is None:
            raise ValueError("this repo deploys through its forge (wait_for): there is no command to run")
        started = time.monotonic()
        log = self.logs / job.task_id / "deploy.log"
        policy, variables = await self._grant(job)
        launcher, home = self._launcher(job, policy, "deploy-home", writable=True)
        try:
            res = await launcher.run(
                ["bash", "-c", spec.run], timeout_s=spec.timeout_s, log=log, env={**variables, **contract(job)}
            )
        finally:
            launcher.close()
            shutil.rmtree(home, ignore_errors=True)
        took = time.monotonic() - started
        if not res.ok:
            detail = distill(res.output, res.exit_code, res.timed_out)
            if res.timed_out:
                detail = f"stopped after {spec.timeout_s:.0f} s, its timeout\n{detail}"
            return DeployOutcome(
                state="deploy_failed",
                commit=job.commit,
                detail=f"## deploy failed (`{spec.run}`)\n{detail}",
                log_path=str(log),
                duration_s=took,
            )
        return DeployOutcome(state="deployed", commit=job.commit, url=spec.url, log_path=str(log), duration_s=took)

    async def health(self, job: DeployJob) -> DeployOutcome:
        """After `deploy` (or the forge's word, for `wait_for`): "live" once the health check passes (at
        once without one), else "health_failed" with its last answer."""
        spec, check = job.spec, job.spec.health_check
        if check is None:
            return DeployOutcome(state="live", commit=job.commit, url=spec.url, detail="no health check configured")
        log = self.logs / job.task_id / "health.log"
        policy, variables = await self._grant(job)
        # A URL is fetched by curl and needs nothing of the checkout; a command may write to it.
        launcher, home = self._launcher(job, policy, "health-home", writable=check.run is not None)
        try:
            env = {**variables, **contract(job)} if check.run is not None else {}
            outcome = await check_health(check, launcher, policy, env=env, log=log)
        finally:
            launcher.close()
            shutil.rmtree(home, ignore_errors=True)
        if outcome.passed:
            return DeployOutcome(
                state="live", commit=job.commit, url=spec.url, health=outcome, duration_s=outcome.duration_s
            )
        what = check.url or f"`{check.run}`"
        if outcome.refused:
            detail = f"## health check refused ({what})\n{outcome.answer}"
        else:
            tries = f"{outcome.attempts} tr{'y' if outcome.attempts == 1 else 'ies'}"
            detail = (
                f"## health never passed ({what}, {tries} in {check.timeout_s:.0f} s)\nlast answer: {outcome.answer}"
            )
        return DeployOutcome(
            state="health_failed",
            commit=job.commit,
            url=spec.url,
            detail=detail,
            health=outcome,
            log_path=str(log),
            duration_s=outcome.duration_s,
        )

    async def _grant(self, job: DeployJob) -> tuple[EgressPolicy, dict[str, str]]:
        if self.egress is None:
            return EgressPolicy("deploy"), {}
        return await self.egress.grant(job.repo, job.config, "deploy")

    def _launcher(
        self, job: DeployJob, policy: EgressPolicy, home: str, writable: bool
    ) -> tuple[SandboxLauncher, Path]:
        area = self.areas / job.task_id
        own = area / home
        ws = job.workspace
        launcher = self.sandbox.launcher(
            area, ws.path, [ws.mirror], "deploy", egress=policy, home=own, writable=writable
        )
        return launcher, own
