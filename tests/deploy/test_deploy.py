"""Production after merge, with real parts: a repo's deploy script runs under bubblewrap in the deploy
phase, pushes the merged commit to a loopback fake production that it reaches by host name through
Honk's egress proxy, and the health check tells "live" from "health never passed". A deploy that fails
says why in its distilled log; a health check pointed inside (loopback, private, cloud metadata) is
refused, and what it aimed at never hears a thing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from deploy_world import INSIDE, METADATA, PRIVATE, PRODUCTION, TOKEN_AS_HEADER, TOKEN_AS_VARIABLE, World, honk_toml

from honk.deploy import check_health
from honk.domain import HealthCheck
from honk.egress.proxy import EgressProxy
from honk.network import EgressPolicy, Rule
from honk.protocols import Deployer
from honk.sandbox import Sandbox, SandboxConfig
from honk.testing.fake_production import TOKEN, FakeProduction, Release

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None or shutil.which("curl") is None, reason="needs bubblewrap and curl"
)


@pytest.mark.parametrize("secrets", [TOKEN_AS_VARIABLE, TOKEN_AS_HEADER], ids=["token-as-variable", "token-as-header"])
async def test_the_deploy_script_pushes_the_merged_commit_to_production_by_name_and_it_goes_live(
    world: World, production: FakeProduction, secrets: str
) -> None:
    world.change({".honk.toml": honk_toml(secrets)})
    job = world.job()
    seam: Deployer = world.deployer  # RepoDeployer is the Deployer seam (pyright checks the shape)

    deployed = await seam.deploy(job)
    assert (deployed.state, deployed.commit, deployed.detail) == ("deployed", job.commit, ""), deployed
    assert production.releases == [Release(job.commit, "hello, version 1\n")]
    [pushed] = [r for r in production.requests if r.method == "POST"]
    assert (pushed.host, pushed.scheme, pushed.authorization) == (PRODUCTION, "https", f"Bearer {TOKEN}")
    assert f"deploying {job.commit} of shop (main)" in Path(deployed.log_path or "").read_text()

    live = await world.deployer.health(job)
    assert (live.state, live.url) == ("live", f"https://{PRODUCTION}/"), live
    assert live.health is not None and live.health.answer == f"HTTP 200: ok {job.commit}"
    assert not (world.areas / job.task_id / "deploy-home").exists(), "the HOME that held the token is gone"


async def test_a_broken_change_fails_health_with_the_last_answer_and_deploying_the_last_good_commit_restores_it(
    world: World, production: FakeProduction
) -> None:
    good = world.job()
    assert (await world.deployer.deploy(good)).ok
    assert (await world.deployer.health(good)).state == "live"

    world.change({"app.txt": "hello, version 2 (this one will crash)\n", ".honk.toml": honk_toml(health_timeout="3")})
    broken = world.job()
    deployed = await world.deployer.deploy(broken)
    assert deployed.state == "deployed", "the deploy itself went fine: production took the release"
    failed = await world.deployer.health(broken)
    assert failed.state == "health_failed" and failed.health is not None
    assert not failed.health.refused and failed.health.attempts >= 2, "tried again until its timeout"
    assert failed.detail.startswith(f"## health never passed (https://{PRODUCTION}/health, ")
    assert failed.detail.endswith(
        f"in 3 s)\nlast answer: HTTP 503: release {broken.commit[:12]} is down: the app crashed on start"
    ), failed.detail

    again = world.job(commit=good.commit)  # what a revert deploys: the last good tree
    assert (await world.deployer.deploy(again)).ok
    assert (await world.deployer.health(again)).state == "live"
    assert [r.commit for r in production.releases] == [good.commit, broken.commit, good.commit]


async def test_a_deploy_command_that_exits_non_zero_gives_the_distilled_log(
    world: World, production: FakeProduction
) -> None:
    noisy = "\n".join(f"step {i}: uploading layer {i}" for i in range(200))
    world.change(
        {
            "deploy.sh": f"#!/usr/bin/env bash\ncat <<'EOF'\n{noisy}\nEOF\n"
            "echo 'Error: release rejected: migration 0042 failed (relation \"orders\" does not exist)' >&2\n"
            "exit 3\n"
        }
    )
    failed = await world.deployer.deploy(world.job())
    assert failed.state == "deploy_failed" and not failed.ok
    assert failed.detail.startswith("## deploy failed (`./deploy.sh`)\n")
    assert 'Error: release rejected: migration 0042 failed (relation "orders" does not exist)' in failed.detail
    assert "step 3: uploading" not in failed.detail, "the log is distilled, not pasted"
    assert "step 199" in Path(failed.log_path or "").read_text(), "the whole log is kept"
    assert production.releases == []


async def test_a_deploy_that_outlives_its_timeout_is_stopped_and_says_so(world: World) -> None:
    world.change({".honk.toml": honk_toml(timeout="1"), "deploy.sh": "#!/bin/sh\necho starting\nsleep 60\n"})
    failed = await world.deployer.deploy(world.job())
    assert failed.state == "deploy_failed"
    assert "stopped after 1 s, its timeout" in failed.detail and failed.duration_s < 30


async def test_without_a_deploy_token_production_refuses_and_the_log_says_401(
    world: World, production: FakeProduction
) -> None:
    world.change({".honk.toml": honk_toml(secrets="")})
    failed = await world.deployer.deploy(world.job())
    assert failed.state == "deploy_failed"
    assert "The requested URL returned error: 401" in failed.detail, failed.detail
    assert production.releases == []


async def test_a_health_command_passes_on_exit_zero(world: World, production: FakeProduction) -> None:
    world.change({".honk.toml": honk_toml(health=f"curl -sf https://{PRODUCTION}/health")})
    job = world.job()
    assert (await world.deployer.deploy(job)).ok
    live = await world.deployer.health(job)
    assert live.state == "live" and live.health is not None and live.health.answer == "exit 0"


# -- the escape attempts ------------------------------------------------------------------------


ANSWERS = {
    INSIDE: "127.0.0.1 is a loopback",
    METADATA: "169.254.169.254 is a link-local",
    PRIVATE: "10.0.0.7 is a private",
}


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("name", [INSIDE, METADATA, PRIVATE])
async def test_a_health_url_whose_name_answers_an_inside_address_is_refused_by_the_proxy_at_once(
    world: World, inside: FakeProduction, name: str, scheme: str
) -> None:
    """The repo lists the name for deploy, and its DNS answer points at loopback (a service of the
    worker's), 169.254.169.254 or 10.0.0.7: the proxy refuses it, the check stops (asking again cannot
    pass), and the service it aimed at never heard a thing. Plain HTTP gets the proxy's own words; a
    refused CONNECT carries only its reason."""
    url = f"{scheme}://{name}/health"
    world.change({".honk.toml": honk_toml(health=url)})
    job = world.job()
    failed = await world.deployer.health(job)
    assert failed.state == "health_failed" and failed.health is not None
    assert failed.health.refused and failed.health.attempts == 1, failed.health
    said = f"{name} resolved to {ANSWERS[name]} address" if scheme == "http" else "the host's address is not public"
    assert failed.detail.startswith(f"## health check refused ({url})\nrefused by the egress proxy (private_address): ")
    assert said in failed.detail, failed.detail
    assert inside.requests == []
    [blocked] = Sandbox.blocked(world.areas / job.task_id)
    assert (blocked.host, blocked.reason, blocked.phase) == (name, "private_address", "deploy")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/health",
        "http://[::1]:{port}/health",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/health",
        "http://2130706433:{port}/health",
    ],
)
async def test_a_health_url_at_an_address_is_refused_before_anything_is_asked(
    tmp_path: Path, proxy: EgressProxy, inside: FakeProduction, url: str
) -> None:
    """`.honk.toml` refuses these outright; a HealthCheck made any other way (an older history, a bug) is
    refused by the deploy phase's policy before a request is made — the same policy the proxy enforces."""
    url = url.format(port=inside.port("http"))
    data = tmp_path / "data"
    ws = data / "ws"
    ws.mkdir(parents=True)
    policy = EgressPolicy("deploy", (Rule("*.example.com", None, None, "network.deploy[0]"),))
    launcher = Sandbox(SandboxConfig(hidden=(data,), egress=proxy)).launcher(
        data / "area", ws, [], "deploy", egress=policy
    )
    try:
        outcome = await check_health(HealthCheck(url=url, timeout_s=10), launcher, policy)
    finally:
        launcher.close()
    assert outcome.refused and not outcome.passed and outcome.attempts == 0
    assert "refused by the egress policy:" in outcome.answer and "Honk allows host names only" in outcome.answer
    assert inside.requests == []


async def test_a_health_command_cannot_reach_around_the_proxy(world: World, inside: FakeProduction) -> None:
    """A command is repo code: it may try the metadata address, or the worker's loopback directly. The
    first is refused by the proxy, the second has no route out of the sandbox's own network namespace."""
    port = inside.port("http")
    probe = (
        "curl -sf --max-time 3 http://169.254.169.254/latest/meta-data/ || "
        f"curl -sf --max-time 3 --noproxy '*' http://127.0.0.1:{port}/health"
    )
    world.change({".honk.toml": honk_toml(health=probe, health_timeout="2")})
    job = world.job()
    failed = await world.deployer.health(job)
    assert failed.state == "health_failed" and failed.health is not None and not failed.health.refused
    assert failed.detail.startswith("## health never passed (`curl -sf"), failed.detail
    assert inside.requests == []
    blocked = Sandbox.blocked(world.areas / job.task_id)
    assert {(b.host, b.reason) for b in blocked} == {("169.254.169.254", "ip_literal")}


async def test_a_health_host_the_deploy_phase_does_not_list_is_refused_at_once_with_the_fix(
    world: World, production: FakeProduction
) -> None:
    world.change({".honk.toml": honk_toml(health="https://status.other.example.com/health")})
    failed = await world.deployer.health(world.job())
    assert failed.state == "health_failed" and failed.health is not None and failed.health.attempts == 0
    assert "status.other.example.com is not in the allowlist for deploy" in failed.detail
    assert '[network] deploy = ["…"]' in failed.detail
    assert production.requests == []


async def test_unsandboxed_the_health_url_still_goes_through_the_proxy_and_its_refusals(
    tmp_path: Path, proxy: EgressProxy, production: FakeProduction, inside: FakeProduction
) -> None:
    """With HONK_SANDBOX=off there is no namespace to hold curl in, but the fetch is still sent to the
    proxy (NO_PROXY emptied, loopback included): production answers by name, the inside names are refused."""
    ws = tmp_path / "ws"
    ws.mkdir()
    policy = EgressPolicy("deploy", (Rule("*.example.com", None, None, "network.deploy[0]"),))
    launcher = Sandbox(SandboxConfig(mode="off", egress=proxy)).launcher(
        tmp_path / "area", ws, [], "deploy", egress=policy
    )
    try:
        down = await check_health(HealthCheck(url=f"https://{PRODUCTION}/health", timeout_s=1), launcher, policy)
        refused = await check_health(HealthCheck(url=f"https://{INSIDE}/health", timeout_s=10), launcher, policy)
    finally:
        launcher.close()
    assert not down.passed and down.answer == "HTTP 503: nothing deployed yet"
    assert [(r.host, r.path) for r in production.requests] == [(PRODUCTION, "/health")] * down.attempts
    assert refused.refused and "(private_address)" in refused.answer
    assert inside.requests == []
