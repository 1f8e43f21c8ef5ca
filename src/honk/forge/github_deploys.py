"""GitHub's word on a merged commit, read from its answers: commit statuses and check runs by name
(`status:<context>`), deployments of the commit to an environment and their statuses
(`deployment:<environment>`). Pure: `GitHubClient.deploy_state` asks, these read. An answer of the wrong
shape raises pydantic's ValidationError (a ValueError), which the client turns into a problem."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from honk.domain import ForgeDeployState, ForgeDeployStatus
from honk.forge.deploys import link, one_line, verdict

# A commit status's state; "error" is GitHub's word for a status that could not finish.
STATUS: dict[str, ForgeDeployStatus] = {"success": "success", "failure": "failure", "error": "failure"}
# A completed check run's conclusion. "neutral" passes as GitHub's required checks pass it; "skipped"
# does not: a skipped deploy job deployed nothing.
CONCLUSION: dict[str, ForgeDeployStatus] = {"success": "success", "neutral": "success"}
# A deployment status's state ("inactive": a later deployment to the environment replaced it).
DEPLOYMENT: dict[str, ForgeDeployStatus] = {"success": "success", "failure": "failure", "error": "failure"}


class _Status(BaseModel):
    context: str
    state: str
    description: str | None = None
    target_url: str | None = None


class _Combined(BaseModel):
    statuses: list[_Status] = []


class _Output(BaseModel):
    title: str | None = None
    summary: str | None = None
    text: str | None = None


class _CheckRun(BaseModel):
    id: int
    name: str
    status: str
    conclusion: str | None = None
    details_url: str | None = None
    html_url: str | None = None
    output: _Output | None = None
    check_suite: dict[str, Any] | None = None  # its "id": a failing check suite's runs (`github_talk`)

    @property
    def state(self) -> ForgeDeployStatus:
        if self.status != "completed":
            return "pending"
        return CONCLUSION.get(self.conclusion or "", "failure")

    @property
    def description(self) -> str:
        out = self.output or _Output()
        said = out.title or out.summary or ""
        if self.status == "completed" and self.state == "failure" and not said:
            return f"the check run ended {self.conclusion or 'without a conclusion'}"
        return said


class _CheckRuns(BaseModel):
    check_runs: list[_CheckRun] = []


class _Deployment(BaseModel):
    id: int
    sha: str
    environment: str


class _DeploymentStatus(BaseModel):
    id: int
    state: str
    description: str | None = None
    environment_url: str | None = None
    target_url: str | None = None
    log_url: str | None = None


def status_state(commit: str, context: str, combined: Any, check_runs: Any) -> ForgeDeployState:
    """The commit status with `context` (the combined status keeps the newest per context) and the
    newest check run named `context` (a re-run replaces the run before it), together."""
    statuses = [s for s in _Combined.model_validate(combined).statuses if s.context == context]
    runs = [r for r in _CheckRuns.model_validate(check_runs).check_runs if r.name == context]
    reports: list[tuple[ForgeDeployStatus, str, str | None]] = []
    if statuses:
        s = statuses[0]
        reports.append((STATUS.get(s.state, "pending"), s.description or "", link(s.target_url)))
    if runs:
        run = max(runs, key=lambda r: r.id)
        reports.append((run.state, run.description, link(run.details_url, run.html_url)))
    if not reports:
        return ForgeDeployState(status="pending", commit=commit)
    state = verdict(r[0] for r in reports)
    # Say what decided: the failing report when one fails, else the first.
    _, said, url = next((r for r in reports if r[0] == state), reports[0])
    return ForgeDeployState(status=state, commit=commit, url=url, detail=one_line(said))


def newest_deployment(commit: str, environment: str, deployments: Any) -> int | None:
    """The id of the newest deployment of `commit` to `environment` in GitHub's list, if any."""
    found = [
        d
        for d in (_Deployment.model_validate(d) for d in _as_list(deployments))
        if d.sha == commit and d.environment == environment
    ]
    return max(found, key=lambda d: d.id).id if found else None


def deployment_state(commit: str, statuses: Any) -> ForgeDeployState:
    """A deployment's newest status decides; an "inactive" one was replaced by a later deployment, and
    counts as live when the deployment had succeeded before."""
    listed = sorted((_DeploymentStatus.model_validate(s) for s in _as_list(statuses)), key=lambda s: s.id)
    if not listed:
        return ForgeDeployState(status="pending", commit=commit)
    last = listed[-1]
    if last.state == "inactive":
        earlier = [s for s in listed if s.state == "success"]
        if not earlier:
            return ForgeDeployState(status="pending", commit=commit, detail=one_line(last.description))
        last = earlier[-1]
    return ForgeDeployState(
        status=DEPLOYMENT.get(last.state, "pending"),
        commit=commit,
        url=link(last.environment_url, last.target_url, last.log_url),
        detail=one_line(last.description),
    )


def _as_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError("expected a list")
    return value
