"""GitLab's word on a merged commit, read from its answers: the commit's statuses by name (external
statuses and the pipeline's own jobs alike, `status:<context>`) and the environment's deployments
(`deployment:<environment>`). Pure: `GitLabClient.deploy_state` asks, these read. An answer of the wrong
shape raises pydantic's ValidationError (a ValueError), which the client turns into a problem."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from honk.domain import ForgeDeployState, ForgeDeployStatus
from honk.forge.deploys import link, one_line

# Everything else (created, pending, running, manual, scheduled, waiting_for_resource, …) is not yet.
# "skipped": a skipped deploy job deployed nothing.
STATUS: dict[str, ForgeDeployStatus] = {
    "success": "success",
    "failed": "failure",
    "canceled": "failure",
    "skipped": "failure",
}
# A deployment's status; "blocked" waits for a person to approve it: still pending.
DEPLOYMENT: dict[str, ForgeDeployStatus] = {"success": "success", "failed": "failure", "canceled": "failure"}


class _CommitStatus(BaseModel):
    id: int
    name: str
    status: str
    description: str | None = None
    target_url: str | None = None


class _Environment(BaseModel):
    name: str
    external_url: str | None = None


class _Deployment(BaseModel):
    id: int
    iid: int | None = None
    sha: str
    status: str
    environment: _Environment


def status_state(commit: str, name: str, statuses: list[Any]) -> ForgeDeployState:
    """The newest status named `name` (a retried job replaces the one before it)."""
    found = [s for s in (_CommitStatus.model_validate(s) for s in statuses) if s.name == name]
    if not found:
        return ForgeDeployState(status="pending", commit=commit)
    last = max(found, key=lambda s: s.id)
    state = STATUS.get(last.status, "pending")
    said = last.description or (f"GitLab reports it {last.status}" if state == "failure" else "")
    return ForgeDeployState(status=state, commit=commit, url=link(last.target_url), detail=one_line(said))


def deployment_state(commit: str, environment: str, deployments: list[Any]) -> ForgeDeployState:
    """The newest deployment of `commit` to `environment` (GitLab lists them newest first, but the
    ids decide)."""
    found = [
        d
        for d in (_Deployment.model_validate(d) for d in deployments)
        if d.sha == commit and d.environment.name == environment
    ]
    if not found:
        return ForgeDeployState(status="pending", commit=commit)
    last = max(found, key=lambda d: d.id)
    state = DEPLOYMENT.get(last.status, "pending")
    said = f"GitLab reports the deployment {last.status}" if state == "failure" else ""
    return ForgeDeployState(status=state, commit=commit, url=link(last.environment.external_url), detail=said)
