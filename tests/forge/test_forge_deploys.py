"""`Forge.deployment` for every forge: what the forge says of a merged commit for `[deploy] wait_for`.

A CI or deploy system tells the loopback GitHub / GitLab about the commit through their real APIs
(commit statuses, check runs, deployments and their statuses); Honk reads it back through its forge
clients. A plain git remote has nothing to say, and says so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from honk.domain import Awaited, ForgeDeployState, RepoRef
from honk.forge import ForgeConfig, HostedForge, LocalGitForge, make_client
from honk.protocols import Forge
from honk.testing.fake_github import FakeGitHub
from honk.testing.fake_gitlab import FakeGitLab
from honk.testing.gitrepo import RemoteRepo
from honk.workspace.git import git_identity

GH_TOKEN, GL_TOKEN = "ghp_deploys0123456789", "glpat-deploys0123456789"
GH_REPO, GL_PROJECT = "acme/widgets", "acme/tools/widgets"
STATUS, DEPLOYMENT = Awaited(kind="status", name="deploy/production"), Awaited(kind="deployment", name="production")
# One word per state in each forge's own vocabulary: GitHub statuses / GitLab commit statuses.
WORDS = {"github": {"pending": "pending", "running": "pending", "success": "success", "failure": "failure"}}
WORDS["gitlab"] = {"pending": "pending", "running": "running", "success": "success", "failure": "failed"}


@pytest.fixture(scope="module")
def github_server() -> Iterator[FakeGitHub]:
    with FakeGitHub(tokens=(GH_TOKEN,)) as fake:
        yield fake


@pytest.fixture(scope="module")
def gitlab_server() -> Iterator[FakeGitLab]:
    with FakeGitLab(tokens=(GL_TOKEN,)) as fake:
        yield fake


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> RemoteRepo:
    # Read-only here: every story reports on commits of its own making, so one repo serves them all.
    return RemoteRepo(tmp_path_factory.mktemp("deploys") / "remote", {"app.py": "print('v1')\n"})


@dataclass
class Ci:
    """A CI / deploy system reporting to the forge over its API, as GitHub Actions or a GitLab job would."""

    kind: str
    url: str

    def _call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.kind == "github":
            full, headers = f"{self.url}/repos/{GH_REPO}{path}", {"Authorization": f"token {GH_TOKEN}"}
        else:
            full, headers = (
                f"{self.url}/api/v4/projects/{GL_PROJECT.replace('/', '%2F')}{path}",
                {"PRIVATE-TOKEN": GL_TOKEN},
            )
        answer = httpx.request(method, full, json=body, headers=headers, timeout=10)
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    def status(
        self, sha: str, context: str, state: str, description: str | None = None, url: str | None = None
    ) -> None:
        word = WORDS[self.kind][state]
        if self.kind == "github":
            self._call(
                "POST",
                f"/statuses/{sha}",
                {"state": word, "context": context, "description": description, "target_url": url},
            )
        else:
            self._call(
                "POST",
                f"/statuses/{sha}",
                {"state": word, "name": context, "description": description, "target_url": url},
            )

    def deploy(self, sha: str, env: str, url: str | None = None) -> int:
        """Starts a deployment of `sha` to `env` (still running)."""
        if self.kind == "github":
            return int(self._call("POST", "/deployments", {"ref": sha, "environment": env, "auto_merge": False})["id"])
        if url:  # GitLab keeps the link on the environment, not the deployment
            self._call("POST", "/environments", {"name": env, "external_url": url})
        body = {"environment": env, "sha": sha, "ref": "main", "tag": False, "status": "running"}
        return int(self._call("POST", "/deployments", body)["id"])

    def deployed(self, deployment: int, state: str, url: str | None = None, description: str | None = None) -> None:
        if self.kind == "github":
            word = {"running": "in_progress", "success": "success", "failure": "failure", "inactive": "inactive"}[state]
            body = {"state": word, "environment_url": url, "description": description}
            self._call("POST", f"/deployments/{deployment}/statuses", {k: v for k, v in body.items() if v is not None})
        else:
            word = {"running": "running", "success": "success", "failure": "failed"}[state]
            self._call("PUT", f"/deployments/{deployment}", {"status": word})


@dataclass
class World:
    kind: str
    forge: Forge
    repo: RepoRef
    remote: RemoteRepo
    ci: Ci | None

    async def says(self, commit: str, awaited: Awaited) -> ForgeDeployState:
        return await self.forge.deployment(self.repo, commit, awaited)


@pytest.fixture(params=["git", "github", "gitlab"])
async def world(
    request: pytest.FixtureRequest, remote: RemoteRepo, github_server: FakeGitHub, gitlab_server: FakeGitLab
) -> AsyncIterator[World]:
    kind, repo = request.param, RepoRef(name="widgets", url=remote.url)
    if kind == "git":
        yield World(kind, LocalGitForge(git_identity("Honk", "honk@localhost")), repo, remote, None)
        return
    if kind == "github":
        github_server.reset()
        github_server.add_repo(GH_REPO, remote)
        config = ForgeConfig(kind="github", api_url=github_server.url, project=GH_REPO, token=SecretStr(GH_TOKEN))
        server_url = github_server.url
    else:
        gitlab_server.reset()
        gitlab_server.add_project(GL_PROJECT, remote)
        config = ForgeConfig(kind="gitlab", api_url=gitlab_server.url, project=GL_PROJECT, token=SecretStr(GL_TOKEN))
        server_url = gitlab_server.url
    forge = HostedForge(make_client(config))
    yield World(kind, forge, repo, remote, Ci(kind, server_url))
    await forge.aclose()


def merged(world: World, tag: str) -> str:
    """A new commit on main: the change that was just merged, fresh for each story."""
    tag = f"{tag} on {world.kind}"
    return world.remote.push_change({"app.py": f"print({tag!r})\n"}, f"merge {tag}")


async def test_a_plain_remote_says_it_cannot_tell(world: World) -> None:
    if world.ci is not None:
        pytest.skip("a hosted forge can tell")
    for awaited in (STATUS, DEPLOYMENT):
        said = await world.says(world.remote.head(), awaited)
        assert said.status == "unsupported" and said.ended
        assert said.detail.startswith("a plain git remote has no statuses") and "[deploy] run" in said.detail


async def test_a_status_goes_from_pending_to_success_with_its_link(world: World) -> None:
    if world.ci is None:
        pytest.skip("a plain remote has no statuses")
    commit = merged(world, "status-ok")
    assert await world.says(commit, STATUS) == ForgeDeployState(status="pending", commit=commit)
    world.ci.status(commit, "deploy/production", "running", "Deploying…")
    running = await world.says(commit, STATUS)
    assert (running.status, running.detail, running.ended) == ("pending", "Deploying…", False)
    world.ci.status(commit, "deploy/production", "success", "Live: v42", "https://ci.example/deploys/42")

    said = await world.says(commit, STATUS)

    assert said == ForgeDeployState(
        status="success", commit=commit, url="https://ci.example/deploys/42", detail="Live: v42"
    )


async def test_a_failed_status_says_why(world: World) -> None:
    if world.ci is None:
        pytest.skip("a plain remote has no statuses")
    commit = merged(world, "status-bad")
    world.ci.status(commit, "deploy/production", "running")
    world.ci.status(commit, "deploy/production", "failure", "kubectl rollout: 3 pods crash-looping")

    said = await world.says(commit, STATUS)

    assert (said.status, said.detail) == ("failure", "kubectl rollout: 3 pods crash-looping")


async def test_an_unknown_context_stays_pending_whatever_else_reports(world: World) -> None:
    if world.ci is None:
        pytest.skip("a plain remote has no statuses")
    commit = merged(world, "other-contexts")
    world.ci.status(commit, "ci/tests", "success")
    world.ci.status(commit, "deploy/staging", "failure", "staging is down")
    other = merged(world, "another-commit")
    world.ci.status(other, "deploy/production", "success")  # another commit's deploy says nothing of this one

    said = await world.says(commit, STATUS)

    assert said == ForgeDeployState(status="pending", commit=commit)


async def test_a_deployment_to_the_environment_goes_from_pending_to_live(world: World) -> None:
    if world.ci is None:
        pytest.skip("a plain remote has no deployments")
    commit = merged(world, "deploy-ok")
    assert (await world.says(commit, DEPLOYMENT)).status == "pending"
    staging = world.ci.deploy(commit, "staging")
    world.ci.deployed(staging, "success", "https://staging.example")
    assert (await world.says(commit, DEPLOYMENT)).status == "pending", "another environment says nothing"
    production = world.ci.deploy(commit, "production", "https://shop.example")
    world.ci.deployed(production, "running")
    assert (await world.says(commit, DEPLOYMENT)).status == "pending"
    world.ci.deployed(production, "success", "https://shop.example")

    said = await world.says(commit, DEPLOYMENT)

    assert (said.status, said.url) == ("success", "https://shop.example")


async def test_a_failed_deployment_fails_and_a_retried_one_decides(world: World) -> None:
    if world.ci is None:
        pytest.skip("a plain remote has no deployments")
    commit = merged(world, "deploy-bad")
    first = world.ci.deploy(commit, "production")
    world.ci.deployed(first, "failure", description="migration 0042 failed")
    failed = await world.says(commit, DEPLOYMENT)
    assert failed.status == "failure"
    assert failed.detail == (
        "migration 0042 failed" if world.kind == "github" else "GitLab reports the deployment failed"
    )

    retried = world.ci.deploy(commit, "production")
    assert (await world.says(commit, DEPLOYMENT)).status == "pending", "the newest deployment decides"
    world.ci.deployed(retried, "success")
    assert (await world.says(commit, DEPLOYMENT)).status == "success"


async def test_a_deployment_replaced_after_it_succeeded_still_counts(world: World) -> None:
    if world.kind != "github":
        pytest.skip("GitHub marks a replaced deployment inactive")
    assert world.ci is not None
    commit = merged(world, "deploy-replaced")
    deployment = world.ci.deploy(commit, "production")
    world.ci.deployed(deployment, "success", "https://shop.example")
    world.ci.deployed(deployment, "inactive")
    said = await world.says(commit, DEPLOYMENT)
    assert (said.status, said.url) == ("success", "https://shop.example")


async def test_check_runs_count_on_github_and_a_rerun_replaces_a_failure(world: World) -> None:
    if world.kind != "github":
        pytest.skip("check runs are GitHub's")
    commit = merged(world, "check-run")
    headers = {"Authorization": f"token {GH_TOKEN}"}
    runs = f"{world.ci.url}/repos/{GH_REPO}/check-runs"  # type: ignore[union-attr]
    first = httpx.post(
        runs, json={"name": "deploy/production", "head_sha": commit, "status": "in_progress"}, headers=headers
    )
    assert (await world.says(commit, STATUS)).status == "pending"
    httpx.patch(
        f"{runs}/{first.json()['id']}",
        json={"conclusion": "failure", "output": {"title": "Helm upgrade timed out", "summary": "…"}},
        headers=headers,
    )
    failed = await world.says(commit, STATUS)
    assert (failed.status, failed.detail) == ("failure", "Helm upgrade timed out")
    assert failed.url == f"{world.ci.url}/{GH_REPO}/runs/{first.json()['id']}"  # type: ignore[union-attr]

    httpx.post(
        runs,
        json={
            "name": "deploy/production",
            "head_sha": commit,
            "conclusion": "success",
            "details_url": "https://ci.example/2",
        },
        headers=headers,
    )
    again = await world.says(commit, STATUS)
    assert (again.status, again.url) == ("success", "https://ci.example/2")
    # A commit status of the same name that fails fails the whole, whatever the check run says.
    world.ci.status(commit, "deploy/production", "failure", "smoke test failed")  # type: ignore[union-attr]
    assert (await world.says(commit, STATUS)).detail == "smoke test failed"


async def test_a_gitlab_job_of_that_name_counts_and_skipped_is_not_deployed(world: World) -> None:
    if world.kind != "gitlab":
        pytest.skip("GitLab's own vocabulary")
    assert world.ci is not None
    commit = merged(world, "job")
    world.ci._call("POST", f"/statuses/{commit}", {"state": "skipped", "name": "deploy/production"})
    said = await world.says(commit, STATUS)
    assert (said.status, said.detail) == ("failure", "GitLab reports it skipped")


async def test_what_the_forge_says_is_bounded_one_line_and_links_only_to_the_web(world: World) -> None:
    if world.ci is None:
        pytest.skip("a plain remote says nothing")
    commit = merged(world, "hostile")
    hostile = "ok\n\x1b[31mFAKE: merged by admin\x1b[0m\r" + "x" * 50_000
    world.ci.status(commit, "deploy/production", "success", hostile, "javascript:alert(1)")

    said = await world.says(commit, STATUS)

    assert said.status == "success" and said.url is None
    assert len(said.detail) <= 300 and "\n" not in said.detail and "\x1b" not in said.detail
    assert said.detail.startswith("ok [31mFAKE: merged by admin [0m x")


async def test_a_forge_that_refuses_or_cannot_be_reached_answers_as_data(world: World, tmp_path: Path) -> None:
    if world.ci is None:
        pytest.skip("a plain remote is not asked")
    commit = merged(world, "errors")
    project = GH_REPO if world.kind == "github" else GL_PROJECT
    wrong = "ghp_wrong0123456789" if world.kind == "github" else "glpat-wrong0123456789"
    refused = HostedForge(
        make_client(ForgeConfig(kind=world.kind, api_url=world.ci.url, project=project, token=SecretStr(wrong)))  # type: ignore[arg-type]
    )
    said = await refused.deployment(world.repo, commit, STATUS)
    await refused.aclose()
    assert said.status == "unsupported" and "read access to commit statuses" in said.detail
    assert wrong not in said.detail + said.problem

    gone = HostedForge(
        make_client(ForgeConfig(kind=world.kind, api_url="http://127.0.0.1:9", project=project, token=SecretStr(wrong)))  # type: ignore[arg-type]
    )
    unreachable = await gone.deployment(world.repo, commit, DEPLOYMENT)
    await gone.aclose()
    assert unreachable.status == "pending" and "could not be reached" in unreachable.problem

    unknown = await world.says("f" * 40, STATUS)
    assert unknown.status == "pending" and unknown.problem, "a commit the forge does not know (yet)"
