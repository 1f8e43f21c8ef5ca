"""The deploy tests' world: a fake production (honk.testing.fake_production) reached by its name
through Honk's real egress proxy, names whose DNS answers point inside — loopback, where a second
loopback service stands in for what a worker must never let a sandbox reach (Temporal, the key proxy),
a private address and the cloud metadata address — as a rebinding or a hostile `.honk.toml` would; and
a repo with a deploy script, its token a repo secret in a real store, deployed by a real RepoDeployer
under bubblewrap."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from honk.deploy import RepoDeployer
from honk.domain import DeployJob, RepoConfig, RepoRef, Workspace
from honk.egress.policies import EgressPolicies
from honk.egress.proxy import EgressProxy
from honk.network import Ceiling
from honk.sandbox import Sandbox, SandboxConfig
from honk.store import RepoSecrets, SecretKeys, Store
from honk.testing.egress_worker import MappedResolver
from honk.testing.fake_production import TOKEN, FakeProduction
from honk.testing.gitrepo import RemoteRepo, run_git
from honk.verify.config import parse_repo_config

PRODUCTION = "prod.example.com"
INSIDE = "inside.example.com"  # answers the loopback address of a service no sandbox may reach
METADATA = "metadata.example.com"  # answers 169.254.169.254
PRIVATE = "private.example.com"  # answers 10.0.0.7
INWARD = {INSIDE: None, METADATA: "169.254.169.254", PRIVATE: "10.0.0.7"}


@pytest.fixture(scope="module")
def production() -> Iterator[FakeProduction]:
    with FakeProduction(PRODUCTION) as fake:
        yield fake


@pytest.fixture(scope="module")
def inside() -> Iterator[FakeProduction]:
    """A loopback service (it records every request) that stands for Temporal or the key proxy."""
    with FakeProduction(INSIDE) as fake:
        yield fake


@pytest.fixture(scope="module")
def proxy(production: FakeProduction, inside: FakeProduction) -> Iterator[EgressProxy]:
    answers = dict(production.mapping())
    for name, address in INWARD.items():
        for port, scheme in ((443, "https"), (80, "http")):
            answers[f"{name}:{port}"] = (address, port) if address else ("127.0.0.1", inside.port(scheme))
    # Only production's own loopback ports are let through: what the test harness stands in for the internet.
    p = EgressProxy(
        resolver=MappedResolver(answers), upstream_trust=production.ca_pem, reachable=production.mapping().values()
    ).start()
    yield p
    p.stop()


@pytest.fixture(autouse=True)
def fresh(production: FakeProduction, inside: FakeProduction) -> None:
    production.clear()
    inside.clear()


# What a team's deploy script does: push the app to production, authenticated, saying which commit.
DEPLOY_SH = """#!/usr/bin/env bash
set -euo pipefail
echo "deploying $HONK_COMMIT of $HONK_REPO ($HONK_BRANCH) to prod.example.com"
auth=()
if [ -n "${PROD_TOKEN:-}" ]; then auth=(-H "Authorization: Bearer $PROD_TOKEN"); fi
curl --silent --show-error --fail-with-body --max-time 20 "${auth[@]}" --data-binary @app.txt \\
  "https://prod.example.com/deploy?commit=$HONK_COMMIT"
"""
TOKEN_AS_VARIABLE = """
[[secrets]]
name = "PROD_TOKEN"
phases = ["deploy"]
env = "PROD_TOKEN"
"""
TOKEN_AS_HEADER = f"""
[[secrets]]
name = "PROD_TOKEN"
phases = ["deploy"]
hosts = ["{PRODUCTION}"]
header = "Authorization"
template = "Bearer {{secret}}"
"""


def honk_toml(
    secrets: str = TOKEN_AS_VARIABLE,
    health: str = f"https://{PRODUCTION}/health",
    health_timeout: str = "20",
    **more: str,
) -> str:
    extra = "".join(f"{k} = {v}\n" for k, v in more.items())
    return f"""
[network]
deploy = ["{PRODUCTION}", "{INSIDE}", "{METADATA}", "{PRIVATE}"]
{secrets}
[deploy]
run = "./deploy.sh"
health = "{health}"
health_timeout = {health_timeout}
url = "https://{PRODUCTION}/"
{extra}"""


@dataclass
class World:
    deployer: RepoDeployer
    remote: RemoteRepo
    repo: RepoRef
    areas: Path

    def job(self, config: RepoConfig | None = None, commit: str | None = None) -> DeployJob:
        checkout = self.remote.clone
        if commit is not None:
            run_git("checkout", "--quiet", commit, cwd=checkout)
        commit = run_git("rev-parse", "HEAD", cwd=checkout)
        text = (checkout / ".honk.toml").read_text()
        return DeployJob(
            task_id="t-deploy",
            repo=self.repo,
            config=config or parse_repo_config(text),
            commit=commit,
            target="main",
            workspace=Workspace(path=checkout, branch="main", mirror=self.remote.bare),
            by="ana@example.com",
        )

    def change(self, files: dict[str, str]) -> str:
        """Commits on the repo's main, as a merge would (the files as given, when any differ)."""
        clone = self.remote.clone
        if all((clone / name).is_file() and (clone / name).read_text() == text for name, text in files.items()):
            return run_git("rev-parse", "HEAD", cwd=clone)
        return self.remote.push_change(files)


@pytest.fixture
async def world(tmp_path: Path, proxy: EgressProxy) -> AsyncIterator[World]:
    data = tmp_path / "data"
    remote = RemoteRepo(
        data / "workspaces" / "t-deploy",
        {"app.txt": "hello, version 1\n", "deploy.sh": DEPLOY_SH, ".honk.toml": honk_toml()},
    )
    (remote.clone / "deploy.sh").chmod(0o755)
    run_git("commit", "--quiet", "-am", "executable deploy script", cwd=remote.clone)
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'honk.db'}")
    await store.create_schema()
    repo = RepoRef(name="shop", url=remote.url)
    await store.add_repo(repo)
    secrets = RepoSecrets(store, SecretKeys([], data / "repo-secrets.key"))
    await secrets.put("shop", "PROD_TOKEN", TOKEN, "ada@example.com")
    policies = EgressPolicies(Ceiling(["*.example.com"]), secrets=secrets)
    sandbox = Sandbox(SandboxConfig(hidden=(data,), egress=proxy))
    areas = data / "areas"
    yield World(RepoDeployer(sandbox, areas, data / "logs", policies), remote, repo, areas)
    await store.close()
