"""Every sandbox's one way out is the egress proxy: real bubblewrap, real curl inside, the proxy's
unix socket bound in. What a phase may reach, what it may not, and that refusals name the command."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from honk.egress.proxy import EgressProxy
from honk.network import EgressPolicy, Rule
from honk.sandbox import Sandbox, SandboxConfig, SandboxLauncher
from honk.testing.registries import (
    FETCH_JAVA,
    MAVEN,
    MAVEN_POM,
    NPM,
    NPM_PACKAGE,
    FakeRegistries,
    parse_fetched,
)

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None or shutil.which("curl") is None, reason="needs bubblewrap and curl"
)


def _world(tmp_path: Path) -> tuple[Path, Path, Path]:
    data = tmp_path / "data"
    ws = data / "workspaces" / "t1"
    ws.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    return data, ws, data / "agent-homes" / "t1"


READS = frozenset({"GET", "HEAD", "OPTIONS"})


def _launcher(
    tmp_path: Path, proxy: EgressProxy, phase: str, host: str, methods: frozenset[str] | None
) -> SandboxLauncher:
    """A real sandbox of `phase` whose policy allows `host` (with `methods`; None: any) and nothing else."""
    data, ws, area = _world(tmp_path)
    policy = EgressPolicy(phase, (Rule(host, None, methods, f"network.{phase}[0]"),))  # type: ignore[arg-type]
    return Sandbox(SandboxConfig(hidden=(data,), egress=proxy)).launcher(area, ws, [], phase, egress=policy)  # type: ignore[arg-type]


async def test_a_check_reaches_only_its_hosts_through_the_proxy_and_a_refusal_names_its_command(
    tmp_path: Path, proxy: EgressProxy, registries: FakeRegistries
) -> None:
    launcher = _launcher(tmp_path, proxy, "check", "pypi.org", READS)
    area = launcher.area
    assert area is not None
    try:
        ok = await launcher.shell("curl -sS --max-time 20 https://pypi.org/echo/simple/", timeout_s=60)
        assert ok.ok and '"method": "GET"' in ok.output, ok.output
        refused = await launcher.shell("curl -sS --max-time 20 https://files.pythonhosted.org/x", timeout_s=60)
        assert not refused.ok and "403" in refused.output
        posted = await launcher.shell("curl -sS --max-time 20 -d x=1 https://pypi.org/echo/simple/", timeout_s=60)
        assert "POST is not allowed to pypi.org in check" in posted.output
        # Around the proxy: the far side's real address is on the host's loopback, not this namespace's.
        port = registries.port("pypi.org")
        direct = await launcher.shell(f"curl -sS --max-time 5 --noproxy '*' -k https://127.0.0.1:{port}/", timeout_s=60)
        assert not direct.ok and "connect to server" in direct.output.lower()
    finally:
        launcher.close()
    found = Sandbox.blocked(area)
    by_host = {(b.host, b.method): b for b in found}
    assert set(by_host) == {("files.pythonhosted.org", "CONNECT"), ("pypi.org", "POST")}
    blocked = by_host[("files.pythonhosted.org", "CONNECT")]
    assert blocked.phase == "check" and blocked.reason == "not_allowed"
    assert blocked.command == "'curl -sS --max-time 20 https://files.pythonhosted.org/x'"
    assert Sandbox.blocked(area) == []  # taken once


@pytest.mark.skipif(shutil.which("java") is None, reason="needs a JDK")
async def test_a_jvm_in_a_check_fetches_through_the_proxy_with_the_settings_it_reads(
    tmp_path: Path, proxy: EgressProxy, registries: FakeRegistries
) -> None:
    """JVMs read no proxy variables: JAVA_TOOL_OPTIONS gives them the proxy and a trust store with the
    worker's authority, so a terminated (reads-only) host works and a write is refused."""
    registries.clear()
    assert proxy.java_store is not None
    launcher = _launcher(tmp_path, proxy, "check", MAVEN, READS)
    shutil.copy(FETCH_JAVA, launcher.workspace / "Fetch.java")
    try:
        got = await launcher.shell(f"java Fetch.java https://{MAVEN}{MAVEN_POM}", timeout_s=180)
        assert got.ok, got.output
        fetched = parse_fetched(got.output.strip().splitlines()[-1])
        assert fetched.status == 200 and fetched.length > 0
        put = await launcher.shell(f"java Fetch.java https://{MAVEN}{MAVEN_POM} PUT", timeout_s=180)
        assert parse_fetched(put.output.strip().splitlines()[-1]).status == 403
    finally:
        launcher.close()
    assert launcher.area is not None
    [blocked] = Sandbox.blocked(launcher.area)
    assert (blocked.host, blocked.method, blocked.reason) == (MAVEN, "PUT", "method")
    assert registries.received(MAVEN, method="GET", path=MAVEN_POM)
    assert not registries.received(MAVEN, method="PUT")


@pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm")
@pytest.mark.parametrize("phase", ["setup", "check"])
async def test_npm_installs_through_the_proxy_tunnelled_in_setup_and_terminated_in_a_check(
    tmp_path: Path, proxy: EgressProxy, registries: FakeRegistries, phase: str
) -> None:
    """npm (Node 18 reads no proxy variables itself; npm's own settings carry the proxy and the CA):
    tunnelled where any method is allowed, terminated where only reads are."""
    registries.clear()
    launcher = _launcher(tmp_path, proxy, phase, NPM, None if phase == "setup" else READS)
    try:
        got = await launcher.shell(
            f"npm install --no-save --prefix $HOME/n {NPM_PACKAGE} && ls $HOME/n/node_modules", timeout_s=180
        )
    finally:
        launcher.close()
    assert got.ok and NPM_PACKAGE in got.output, got.output
    assert launcher.area is not None
    assert Sandbox.blocked(launcher.area) == []  # npm's audit and funding calls are off: nothing to refuse
    assert registries.received(NPM, method="GET")
